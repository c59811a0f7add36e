import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, hydrated, startServer, waitUntilReady } from "./fixtures";

const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 11;
const base = `http://127.0.0.1:${port}`;

test("an agent kept as a file shows its file, is not editable, and shows live why a bad edit is not in force", async ({
  page,
}) => {
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-files-"));
  const agentsDir = join(dataDir, "agents");
  mkdirSync(agentsDir);
  const file = join(agentsDir, "reviewer.md");
  writeFileSync(file, "---\nname: Reviewer\nroom_role: critic\n---\nYou review.\n");
  const server = startServer(port, dataDir, { HATCHERY_AUTH: "disabled", HATCHERY_AGENTS_DIR: agentsDir });
  try {
    await waitUntilReady(port);
    let id = "";
    await expect(async () => {
      const agents = await (await fetch(`${base}/api/agents?scope=all`)).json();
      id = agents.items.find((agent: { name: string }) => agent.name === "Reviewer")?.id ?? "";
      expect(id).not.toBe("");
    }).toPass({ timeout: 15_000 });

    await page.goto(`${base}/agents/${id}`);
    await hydrated(page);
    await expect(page.getByTestId("agent-file")).toContainText(file);
    await expect(page.getByLabel("Name", { exact: true })).toBeDisabled();
    await expect(page.getByLabel("System instructions")).toHaveValue("You review.");
    await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
    await expect(page.getByRole("link", { name: "Export" })).toHaveAttribute("href", `/api/agents/${id}/export`);

    // A bad edit: the page says why, live, and the agent keeps its instructions.
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
    writeFileSync(file, "---\nname: Reviewer\ntemprature: 1\n---\nBroken.\n");
    await expect(page.getByTestId("agent-file-error")).toContainText("temprature");
    await page.reload();
    await hydrated(page);
    await expect(page.getByLabel("System instructions")).toHaveValue("You review.");
    await expect(page.getByTestId("agent-file-error")).toContainText("temprature");
  } finally {
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
