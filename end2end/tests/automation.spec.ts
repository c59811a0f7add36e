import { createHmac } from "node:crypto";
import { test, expect, hydrated } from "./fixtures";

// Against the shared developer-mode server (no LLM provider: the built-in local model
// answers, with short replies).

async function newAgent(request: import("@playwright/test").APIRequestContext, name: string) {
  const response = await request.post("/api/agents", {
    data: { name, task_instructions: "Summarise the payload." },
  });
  expect(response.status()).toBe(201);
  return (await response.json()).id as string;
}

test("a schedule shows in words with its next five times as it is typed, and saves", async ({ page, request }) => {
  const id = await newAgent(request, `Scheduled ${Date.now()}`);
  await page.goto(`/agents/${id}?tab=schedule`);
  await hydrated(page);
  await expect(page.getByRole("tab", { name: "Schedule" })).toHaveAttribute("aria-selected", "true");

  await page.getByLabel("Time zone").fill("Europe/Paris");
  await page.getByRole("textbox", { name: "Schedule", exact: true }).fill("0 9 * * 1-5");
  const preview = page.getByTestId("schedule-preview");
  await expect(preview).toContainText("At 09:00 AM, Monday through Friday");
  await expect(preview.locator("li")).toHaveCount(5);

  await page.getByRole("button", { name: "Save schedule" }).click();
  const upcoming = page.getByTestId("upcoming");
  await expect(upcoming.locator("li")).toHaveCount(5);
  const agent = await (await request.get(`/api/agents/${id}`)).json();
  expect(agent.schedule).toBe("0 9 * * 1-5");
  expect(agent.time_zone).toBe("Europe/Paris");
  expect(agent.next_run_at).toMatch(/T0[78]:00:00.000Z$/); // 09:00 in Paris, summer or winter
});

test("a trigger is created, a request signed with its secret starts a run that appears live", async ({
  page,
  context,
}) => {
  const id = await newAgent(page.request, `Hooked ${Date.now()}`);
  const runs = await context.newPage();
  await runs.goto(`/agents/${id}?tab=runs`);
  await hydrated(runs);
  await expect(runs.getByTestId("connection")).toHaveAttribute("data-state", "open");
  await expect(runs.getByTestId("runs-empty")).toBeVisible();

  await page.goto(`/agents/${id}?tab=triggers`);
  await hydrated(page);
  await page.getByLabel("Trigger name").fill("Deploys");
  await page.getByRole("button", { name: "Create trigger" }).click();
  const panel = page.getByTestId("trigger-secret");
  await expect(panel).toContainText("it is not shown again");
  const secret = await page.getByTestId("secret-value").inputValue();
  const url = await page.getByTestId("trigger-url").inputValue();
  expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
  expect(url).toMatch(/\/api\/hooks\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("curl-example")).toContainText(url);

  // Signed here with Node's own crypto, as a sender would.
  const body = JSON.stringify({ event: "deploy", version: "1.2.3" });
  const timestamp = Math.floor(Date.now() / 1000).toString();
  const signature = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  const sent = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Hatchery-Timestamp": timestamp,
      "X-Hatchery-Signature": `sha256=${signature}`,
    },
    body,
  });
  expect(sent.status).toBe(202);
  const { run_id: runId } = await sent.json();

  const row = runs.locator(`tr[data-run="${runId}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText("webhook");

  // The row opens the run; the run opens the thread that holds the payload.
  await row.getByRole("link", { name: "Open" }).click();
  await expect(runs).toHaveURL(new RegExp(`/runs/${runId}$`));
  await expect(runs.getByTestId("run-facts")).toContainText("webhook");
  await expect(runs.getByTestId("run-facts")).toContainText("Hooked");
  await expect(runs.getByTestId("run-facts")).toContainText("local/smollm2-135m");
  await expect(runs.getByTestId("run-status")).toHaveText("succeeded", { timeout: 30_000 });
  await runs.getByRole("link", { name: "Open thread" }).click();
  await expect(runs).toHaveURL(/\/chat\?thread=/);
  // The payload is the person's side of the thread (the model's answer may quote it too).
  await expect(runs.locator('article[data-role="user"]')).toContainText('"version":"1.2.3"');

  // The delivery is in the trigger's log; a wrong signature is refused and logged too.
  const refused = await fetch(url, {
    method: "POST",
    headers: { "X-Hatchery-Timestamp": timestamp, "X-Hatchery-Signature": `sha256=${"0".repeat(64)}` },
    body,
  });
  expect(refused.status).toBe(401);
  const trigger = page.getByTestId("triggers").locator("li.trigger").first();
  await trigger.getByRole("button", { name: "Deliveries" }).click();
  const deliveries = trigger.getByTestId("deliveries");
  await expect(deliveries.locator("tbody tr")).toHaveCount(2);
  await expect(deliveries.getByRole("link", { name: runId })).toHaveAttribute("href", `/runs/${runId}`);
  await expect(deliveries).toContainText("401");
});

test("the usage page draws cost and tokens as charts", async ({ page, request }) => {
  const id = await newAgent(request, `Counted ${Date.now()}`);
  const ran = await request.post(`/api/agents/${id}/run`);
  expect(ran.status()).toBe(202);

  await page.goto("/usage");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "Usage" })).toBeVisible();
  for (const chart of ["chart-cost", "chart-tokens"]) {
    const figure = page.getByTestId(chart);
    await expect(figure.locator("svg[role=img]")).toBeVisible();
    expect(await figure.locator("rect.chart-bar").count()).toBeGreaterThan(0);
  }
  await expect(page.getByTestId("usage-total")).toContainText(/\d+ runs/);
  await expect(page.getByTestId("caps")).toContainText("No daily cost cap is set.");

  await page.getByLabel("Group by").selectOption("agent");
  await expect(page.getByTestId("chart-cost")).toContainText("Cost per agent");
});
