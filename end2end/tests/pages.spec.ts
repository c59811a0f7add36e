import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, hydrated, startServer, waitUntilReady } from "./fixtures";

// Pages arrive with their data: the server renders them as the caller, and the browser takes
// over without asking for that data again.

// A server of the test's own, in developer mode like the shared one: runs of the other tests
// change the shared user's agents, and a change announced while the page loads rightly
// makes it load again.
const quietPort = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 7;

test("the agents page arrives with its agents, and hydration does not load them again", async ({ page, request }) => {
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-"));
  const server = startServer(quietPort, dataDir, { HATCHERY_AUTH: "disabled" });
  try {
    await waitUntilReady(quietPort);
    const base = `http://127.0.0.1:${quietPort}`;
    const name = `Rendered ${Date.now()}`;
    expect((await request.post(`${base}/api/agents`, { data: { name } })).status()).toBe(201);

    // The HTML alone, as a client without JavaScript gets it.
    const html = await (await request.get(`${base}/agents`)).text();
    expect(html).toContain(name);
    expect(html).not.toContain("Loading agents");

    const asked: string[] = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/api/")) asked.push(path);
    });
    await page.goto(`${base}/agents`);
    await hydrated(page);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
    await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
    expect(asked.filter((path) => path === "/api/agents" || path === "/api/auth/session")).toEqual([]);

    // The list still follows the user's topic: an agent created now appears without a reload.
    const later = `${name} later`;
    expect((await request.post(`${base}/api/agents`, { data: { name: later } })).status()).toBe(201);
    await expect(page.getByRole("link", { name: later, exact: true })).toBeVisible();
    expect(asked.filter((path) => path === "/api/agents")).toEqual([]);
  } finally {
    server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a chat page arrives with the thread's messages", async ({ request }) => {
  const agent = await (await request.post("/api/agents", { data: { name: `Chatty ${Date.now()}` } })).json();
  const thread = await (await request.post(`/api/agents/${agent.id}/threads`, { data: {} })).json();
  const words = `Hello from the server ${Date.now()}`;
  const posted = await request.post(`/api/threads/${thread.id}/messages`, { data: { content: words } });
  expect(posted.status()).toBe(202);

  const html = await (await request.get(`/agents/${agent.id}/chat?thread=${thread.id}`)).text();
  expect(html).toContain(words);
  expect(html).toContain(agent.name);
});
