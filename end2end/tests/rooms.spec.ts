import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, fakeProvider, hydrated, startServer, waitUntilReady } from "./fixtures";

// The fake provider answers per agent (by the name in its instructions): each agent's
// replies are taken in order, the last one again once the others are used; a reply streams a
// word at a time, until the client goes away.
function roomProvider(scripts: Record<string, string[]>) {
  return fakeProvider(async ({ messages, token, sleep, closed }) => {
    const system = messages[0].content ?? "";
    const agent = Object.keys(scripts).find((name) => system.includes(`You are ${name}.`)) ?? "";
    const script = scripts[agent] ?? ["(no script)"];
    const reply = script.length > 1 ? script.shift()! : script[0];
    for (const word of reply.split(" ")) {
      if (closed()) break;
      token(`${word} `);
      await sleep(60);
    }
  });
}

const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 9;
const base = `http://127.0.0.1:${port}`;

test("a room's agents answer in order with tokens streaming, a critique folds under its message, a person cuts in, and a reload shows the same", async ({
  page,
}) => {
  test.setTimeout(90_000);
  const rambling = Array.from({ length: 300 }, (_, n) => `word${n}`).join(" ");
  const provider = await roomProvider({
    Ada: ["Hello from Ada, glad to be here.", rambling, "Ada again."],
    Bob: ["Bob agrees with Ada."],
    Cy: ["A fair point."],
  });
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-rooms-"));
  const server = startServer(port, dataDir, { HATCHERY_AUTH: "disabled", HATCHERY_LLM_BASE_URL: provider.url });
  try {
    await waitUntilReady(port);
    for (const name of ["Ada", "Bob", "Cy"]) {
      const created = await fetch(`${base}/api/agents`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name, system_instructions: `You are ${name}.` }),
      });
      expect(created.status).toBe(201);
    }

    await page.goto(`${base}/rooms`);
    await hydrated(page);
    await page.getByLabel("Name").fill("Debate");
    await page.getByRole("button", { name: "New room" }).click();
    await expect(page).toHaveURL(/\/rooms\/[0-9a-f-]+$/);
    await hydrated(page);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
    const members = page.getByTestId("members");
    for (const [name, role] of [["Ada", "Participant"], ["Bob", "Participant"], ["Cy", "Critic"]]) {
      await page.getByLabel("Agent").selectOption({ label: name });
      await page.getByLabel("Role").selectOption({ label: role });
      await page.getByRole("button", { name: "Add", exact: true }).click();
      await expect(members.locator(`[data-member="${name}"]`)).toBeVisible();
    }

    // Ada's reply streams in before it is stored; then Bob's, in order.
    const input = page.getByLabel("Message", { exact: true });
    await input.fill("Hi all");
    await input.press("Enter");
    const adaStreaming = page.locator('[data-testid=room-streaming][data-author="Ada"]');
    await expect(adaStreaming).toContainText("Hello");
    await expect(adaStreaming).not.toContainText("here.");
    await expect(members.locator('[data-member="Ada"] [data-testid=activity]')).toHaveText("speaking");
    const messages = page.getByTestId("room-message");
    await expect(messages.last()).toContainText("Bob agrees with Ada.");
    await expect(messages).toHaveText([/Hi all/, /Hello from Ada, glad to be here\./, /Bob agrees with Ada\./]);
    // Cy's verdict on each message is folded under it.
    const adaMessage = messages.nth(1);
    const critique = adaMessage.getByTestId("critiques");
    await expect(critique.locator("summary")).toHaveText("1 critique");
    await expect(critique).not.toHaveAttribute("open", "");
    await critique.locator("summary").click();
    await expect(critique).toContainText("A fair point.");
    await expect(page.getByTestId("room-state")).toHaveText("idle");

    // Ada rambles; writing cuts her off, keeps what she said, and a new round answers.
    await input.fill("Tell me more");
    await input.press("Enter");
    await expect(adaStreaming).toContainText("word3");
    await input.fill("Enough, thanks");
    await input.press("Enter");
    await expect(page.getByTestId("interrupted-note")).toHaveText("Your message interrupted 1 reply.");
    const cutOff = messages.filter({ hasText: "(interrupted)" });
    await expect(cutOff).toHaveCount(1);
    await expect(cutOff).toContainText("word0 word1 word2 word3");
    await expect(messages.last()).toContainText("Bob agrees with Ada.");
    await expect(page.getByTestId("room-state")).toHaveText("idle");
    // Each message's own text, without the critiques under it.
    const texts = page.locator("[data-testid=room-message] > .markdown");
    await expect(texts).toHaveCount(8);
    const shown = await texts.allInnerTexts();

    await page.reload();
    await hydrated(page);
    await expect(texts).toHaveCount(8);
    expect(await texts.allInnerTexts()).toEqual(shown);
    await expect(messages.nth(1).getByTestId("critiques").locator("summary")).toHaveText("1 critique");
  } finally {
    server.kill("SIGKILL");
    provider.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
