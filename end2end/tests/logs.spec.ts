import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, hydrated, startServer, waitUntilReady } from "./fixtures";

// A server of these tests' own whose runs all fail (its model file does not exist), so
// that the system log has something to say.
const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 12;
const base = `http://127.0.0.1:${port}`;

test.describe.configure({ mode: "serial" });

let server: ReturnType<typeof startServer>;
let dataDir = "";

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-logs-"));
  server = startServer(port, dataDir, {
    HATCHERY_AUTH: "disabled",
    HATCHERY_LOCAL_MODEL: join(dataDir, "missing.gguf"),
  });
  await waitUntilReady(port);
});

test.afterAll(() => {
  server.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

async function createAgent(name: string): Promise<string> {
  const response = await fetch(`${base}/api/agents`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, task_instructions: "Say hello." }),
  });
  expect(response.status).toBe(201);
  return (await response.json()).id;
}

async function runNow(agent: string): Promise<string> {
  const response = await fetch(`${base}/api/agents/${agent}/run`, { method: "POST" });
  expect(response.status).toBe(202);
  return (await response.json()).run.id;
}

test("a change to an agent is in the audit log, found by its filters", async ({ page }) => {
  const agent = await createAgent("Audited");
  await page.goto(`${base}/agents/${agent}?tab=settings`);
  await hydrated(page);
  await page.getByLabel("Model").fill("another-model");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(`${base}/`);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs" }).click();
  await expect(page.getByRole("tab", { name: "Audit" })).toHaveAttribute("aria-selected", "true");
  await page.getByLabel("Object id").fill(agent);
  await page.getByLabel("Action").selectOption("agent_updated");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`target_id=${agent}`));
  const records = page.getByTestId("audit").locator("li");
  await expect(records).toHaveCount(1);
  await expect(records.first()).toContainText("agent_updated");
  await expect(records.first()).toContainText("model");

  // The filtered view is shareable: the same address shows the same record.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId("audit").locator("li")).toHaveCount(1);
  await records.first().locator("summary").click();
  await expect(records.first().getByRole("link", { name: `agent ${agent}` })).toHaveAttribute("href", `/agents/${agent}`);
});

test("a failed run's page opens its records in the system log", async ({ page }) => {
  const agent = await createAgent("Doomed");
  const run = await runNow(agent);
  await page.goto(`${base}/runs/${run}`);
  await hydrated(page);
  await expect(page.getByTestId("run-status")).toHaveText("failed");
  await page.getByTestId("run-logs").click();
  await expect(page).toHaveURL(new RegExp(`tab=system&run=${run}`));
  const failed = page.getByTestId("system-log").locator("li", { hasText: "the run failed" });
  await expect(failed).toHaveCount(1);
  await failed.locator("summary").click();
  await expect(failed.getByRole("link", { name: run })).toHaveAttribute("href", `/runs/${run}`);
  await expect(failed.locator("pre")).toContainText(agent);
});

test("the live tail shows a new record as it is written", async ({ page }) => {
  await page.goto(`${base}/logs?tab=system&category=runner&level=warn`);
  await hydrated(page);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
  await page.getByTestId("live-tail").check();
  const agent = await createAgent("Tailed");
  const run = await runNow(agent);
  const list = page.getByTestId("system-log");
  // The other worker's runs may fail at the same time, so the row is found by its run id
  // (in the closed details' text) rather than by its place in the list.
  const row = list.locator("li", { hasText: "the run failed" }).filter({ hasText: run });
  await expect(row).toHaveCount(1);
  await row.locator("summary").click();
  await expect(row.getByRole("link", { name: run })).toBeVisible();
});

test("scrolling to the end of the audit log loads the next pages by itself", async ({ page }) => {
  const agent = await createAgent("Often changed");
  for (let n = 0; n < 120; n++) {
    const response = await fetch(`${base}/api/agents/${agent}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ task_instructions: `Say hello, version ${n}.` }),
    });
    expect(response.status).toBe(200);
  }
  await page.goto(`${base}/logs?tab=audit&target_id=${agent}&action=agent_updated`);
  await hydrated(page);
  const records = page.getByTestId("audit").locator("li");
  await expect(records).toHaveCount(50);

  // Reading on to the end brings the next page, and then the last one, unasked.
  await records.last().scrollIntoViewIfNeeded();
  await expect(records).toHaveCount(100);
  await records.last().scrollIntoViewIfNeeded();
  await expect(records).toHaveCount(120);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
  await expect(records.last()).toContainText("agent_updated");
});
