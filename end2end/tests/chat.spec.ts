import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, fakeProvider, hydrated, startServer, waitUntilReady } from "./fixtures";

// The fake provider's answers depend on the conversation's last message: "hello" streams a
// greeting slowly, "calc" calls the calculator and then answers, "long" streams until the
// client goes away.
function chatProvider() {
  return fakeProvider(async ({ messages, send, token, sleep, closed }) => {
    const last = messages[messages.length - 1];
    if (last.role === "tool") {
      token("The answer is **42**.");
    } else if (last.content === "calc") {
      send({
        choices: [{
          index: 0,
          delta: {
            tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "calculator", arguments: '{"expression": "6 * 7"}' } }],
          },
        }],
      });
    } else if (last.content === "long") {
      for (let n = 0; !closed() && n < 600; n++) {
        token(`word${n} `);
        await sleep(50);
      }
    } else {
      for (const word of ["Hello ", "there, ", "how ", "can ", "I ", "help ", "today?"]) {
        token(word);
        await sleep(250);
      }
    }
  });
}

// Opens an agent's chat at `url`, once its socket is live, and starts a new thread.
async function openNewChat(page: import("@playwright/test").Page, url: string) {
  await page.goto(url);
  await hydrated(page);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
  await page.getByRole("button", { name: "New chat" }).click();
  await expect(page).toHaveURL(/\?thread=/);
}

const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 3;
const base = `http://127.0.0.1:${port}`;

test("a chat streams, shows tool calls, follows the end, stops, keeps its history and outlives a restart; a run's page follows and stops it", async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(90_000);
  const provider = await chatProvider();
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-chat-"));
  const env = { HATCHERY_AUTH: "disabled", HATCHERY_LLM_BASE_URL: provider.url };
  let server = startServer(port, dataDir, env);
  try {
    await waitUntilReady(port);
    const created = await fetch(`${base}/api/agents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Helper", tools: ["calculator"] }),
    });
    const agent = await created.json();

    await openNewChat(page, `${base}/agents/${agent.id}/chat`);

    // Tokens appear one by one: part of the reply shows before the rest exists.
    const input = page.getByLabel("Message");
    await input.fill("hello");
    await input.press("Enter");
    const streaming = page.getByTestId("streaming");
    await expect(streaming).toContainText("Hello");
    await expect(streaming).not.toContainText("today?");
    const messages = page.getByTestId("messages");
    await expect(messages.locator("[data-role=assistant]").last()).toContainText("how can I help today?");

    // A tool call becomes a card with its arguments and output.
    await input.fill("calc");
    await input.press("Enter");
    await expect(messages.locator("[data-role=assistant]").last()).toContainText("The answer is 42.");
    const card = page.getByTestId("tool-card");
    await card.locator("summary").click();
    await expect(card).toContainText("calculator");
    await expect(card).toContainText("6 * 7");
    await expect(card).toContainText("42");

    // The view follows a long reply as it grows, until the reader scrolls up, and again
    // once they are back at the end; Stop cuts the reply off and keeps what was written.
    await input.fill("long");
    await input.press("Enter");
    await expect(streaming).toContainText("word3");
    const gapBelow = () => messages.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    await expect.poll(() => messages.evaluate((el) => el.scrollTop), { timeout: 20_000 }).toBeGreaterThan(100);
    await expect.poll(gapBelow).toBeLessThan(40);
    await messages.evaluate((el) => el.scrollTo(0, 0));
    const shown = Number((await streaming.textContent())?.match(/word(\d+)\s*$/)?.[1]);
    await expect(streaming).toContainText(`word${shown + 20}`);
    expect(await messages.evaluate((el) => el.scrollTop)).toBe(0);
    expect(await gapBelow()).toBeGreaterThan(100);
    await messages.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await expect(streaming).toContainText(`word${shown + 60}`);
    await expect.poll(gapBelow).toBeLessThan(40);
    await page.getByRole("button", { name: "Stop" }).click();
    await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
    await expect(page.getByTestId("run-error")).toContainText("stopped by the user");
    await expect(messages.locator(".cut-off")).toBeVisible();

    // A reload shows the stored history.
    await page.reload();
    await hydrated(page);
    await expect(messages.locator("[data-role=user]")).toHaveCount(3);
    await expect(messages).toContainText("how can I help today?");
    await expect(page.getByTestId("tool-card")).toHaveCount(1);
    await expect(messages.locator(".cut-off")).toBeVisible();

    // A run's own page follows it live and stops it too.
    const thread = new URL(page.url()).searchParams.get("thread");
    const posted = await fetch(`${base}/api/threads/${thread}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "long" }),
    });
    expect(posted.status).toBe(202);
    const { run } = await posted.json();
    await page.goto(`${base}/runs/${run.id}`);
    await hydrated(page);
    await expect(page.getByTestId("run-status")).toHaveText("running");
    await expect(page.getByTestId("run-facts")).toContainText("chat");
    await page.getByRole("button", { name: "Stop" }).click();
    await expect(page.getByTestId("run-status")).toHaveText("cancelled");
    await expect(page.getByTestId("run-error")).toContainText("stopped by the user");
    await expect(page.getByRole("button", { name: "Stop" })).toHaveCount(0);

    // A reply cut short by a crash: once the server is back, the chat says so and takes
    // the next message.
    await page.goto(`${base}/agents/${agent.id}/chat?thread=${thread}`);
    await hydrated(page);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
    await input.fill("long");
    await input.press("Enter");
    await expect(streaming).toContainText("word3");
    server.kill("SIGKILL");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "reconnecting");
    server = startServer(port, dataDir, env);
    await waitUntilReady(port);
    await expect(page.getByTestId("run-error")).toContainText("interrupted by restart", { timeout: 30_000 });
    await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
    consoleErrors.length = 0; // the browser reports the refused reconnects
  } finally {
    server.kill("SIGKILL");
    provider.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("with no provider configured, a new agent answers hello from the built-in model, token by token", async ({
  page,
  request,
}) => {
  test.setTimeout(60_000);
  const created = await request.post("/api/agents", {
    // Greedy sampling: the reply is the same every time, and is several tokens long.
    data: { name: `Local ${Date.now()}`, system_instructions: "Answer in one short sentence.", temperature: 0 },
  });
  expect(created.status()).toBe(201);
  const agent = await created.json();
  const chunks: string[] = [];
  page.on("websocket", (socket) =>
    socket.on("framereceived", ({ payload }) => {
      const text = payload.toString();
      if (text.includes('"type":"stream_chunk"')) chunks.push(text);
    }),
  );

  await openNewChat(page, `/agents/${agent.id}/chat`);
  const input = page.getByLabel("Message");
  await input.fill("hello");
  await input.press("Enter");

  const reply = page.getByTestId("messages").locator("[data-role=assistant]").last();
  await expect(reply).toHaveText(/\w/, { timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible({ timeout: 30_000 });
  expect(chunks.length, "the reply came token by token").toBeGreaterThan(2);

  // The agent got the built-in model, and its settings say that it answers and is offered
  // no tools; it would answer another model too, as no provider is set.
  await page.goto(`/agents/${agent.id}?tab=settings`);
  await hydrated(page);
  await expect(page.getByLabel("Model")).toHaveValue("local/smollm2-135m");
  await expect(page.getByTestId("answered-by")).toHaveText("Answered by the built-in model, inside this server.");
  await expect(page.getByTestId("no-tools")).toBeVisible();
  await page.getByLabel("Model").fill("gpt-4o-mini");
  await expect(page.getByTestId("answered-by")).toHaveText(
    "No provider is set on this server: the built-in model local/smollm2-135m answers instead.",
  );
  await expect(page.getByTestId("no-tools")).toBeVisible();
});
