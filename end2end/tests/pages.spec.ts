import { test, expect, hydrated } from "./fixtures";

// Pages arrive with their data: the server renders them as the caller, and the browser takes
// over without asking for that data again.

test("the agents page arrives with its agents, and hydration does not load them again", async ({ page, request }) => {
  const name = `Rendered ${Date.now()}`;
  expect((await request.post("/api/agents", { data: { name } })).status()).toBe(201);

  // The HTML alone, as a client without JavaScript gets it.
  const html = await (await request.get("/agents")).text();
  expect(html).toContain(name);
  expect(html).not.toContain("Loading agents");

  const asked: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/api/")) asked.push(path);
  });
  await page.goto("/agents");
  await hydrated(page);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
  await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
  expect(asked.filter((path) => path === "/api/agents" || path === "/api/auth/session")).toEqual([]);

  // The list still follows the user's topic: an agent created now appears without a reload.
  const later = `${name} later`;
  expect((await request.post("/api/agents", { data: { name: later } })).status()).toBe(201);
  await expect(page.getByRole("link", { name: later, exact: true })).toBeVisible();
  expect(asked.filter((path) => path === "/api/agents")).toEqual([]);
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
