import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, hydrated, startServer, waitUntilReady } from "./fixtures";

test("the page connects and the indicator says it is live", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);

  const indicator = page.getByTestId("connection");
  await expect(indicator).toHaveAttribute("data-state", "open");
  await expect(indicator).toHaveText("Live");
});

test("a notice published through the API appears live and can be dismissed", async ({ page, request }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
  const text = `Maintenance window ${Date.now()}`;

  // The built-in admin's topic: every request acts as user "dev" in this version.
  const published = await request.post("/api/topics/user:dev/events", {
    data: { type: "notice", data: { level: "warning", text } },
  });
  expect(published.status()).toBe(202);

  const toast = page.getByRole("alert").filter({ hasText: text });
  await expect(toast).toBeVisible();
  await toast.getByRole("button", { name: "Dismiss" }).click();
  await expect(toast).toHaveCount(0);
});

test("Ctrl+Shift+D opens the overlay listing frames, with a filter", async ({ page, request }) => {
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");
  await request.post("/api/topics/user:dev/events", {
    data: { type: "notice", data: { level: "info", text: "for the overlay" } },
  });
  await expect(page.getByRole("alert").filter({ hasText: "for the overlay" })).toBeVisible();

  await page.keyboard.press("Control+Shift+D");

  const overlay = page.getByRole("dialog", { name: "Real-time frames" });
  await expect(overlay).toBeVisible();
  const rows = overlay.locator("tbody tr");
  await expect(rows.filter({ hasText: "hello" })).toHaveCount(1);
  // Other tests may publish notices to the same user meanwhile: at least this one shows.
  await expect(rows.filter({ hasText: "notice" }).first()).toBeVisible();
  await overlay.getByRole("searchbox", { name: "Filter frames" }).fill("notice");
  await expect(rows.filter({ hasNotText: "notice" })).toHaveCount(0);
  await expect(rows.filter({ hasText: "hello" })).toHaveCount(0);
  await expect(rows.first()).toContainText("user:dev");
  await page.keyboard.press("Control+Shift+D");
  await expect(overlay).toBeHidden();
});

// A server of this test's own, so that it can be killed and started again; in developer
// mode, like the shared server.
const developerMode = { HATCHERY_AUTH: "disabled" };
const ownPort = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 1;

test("after the server restarts the client reconnects by itself, resyncs, and never holds two sockets", async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(60_000);
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-"));
  let server = startServer(ownPort, dataDir, developerMode);
  try {
    await waitUntilReady(ownPort);
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      const stats = { created: 0, live: 0, maxLive: 0 };
      (window as unknown as { socketStats: typeof stats }).socketStats = stats;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          stats.created += 1;
          stats.live += 1;
          stats.maxLive = Math.max(stats.maxLive, stats.live);
          this.addEventListener("close", () => (stats.live -= 1));
        }
      };
    });
    await page.goto(`http://127.0.0.1:${ownPort}/`);
    await hydrated(page);
    const indicator = page.getByTestId("connection");
    await expect(indicator).toHaveAttribute("data-state", "open");
    const status = page.getByTestId("database-status");
    await expect(status).toHaveText("Not checked yet");

    server.kill("SIGKILL");
    await expect(indicator).toHaveAttribute("data-state", "reconnecting");
    await expect(indicator).toContainText("Reconnecting");
    server = startServer(ownPort, dataDir, developerMode);
    await waitUntilReady(ownPort);

    await expect(indicator).toHaveAttribute("data-state", "open", { timeout: 30_000 });
    // The restart lost the hub's history (a new epoch), so the dashboard refetched by itself.
    await expect(status).toContainText("Ready");
    const stats = await page.evaluate(() => (window as unknown as { socketStats: { created: number; maxLive: number } }).socketStats);
    expect(stats.created).toBeGreaterThanOrEqual(2);
    expect(stats.maxLive).toBe(1);
    // The browser reports each request refused while the server was down (the socket's
    // attempts, and the icon if it asked then); nothing else.
    const unexpected = consoleErrors.filter((e) => !/net::ERR_CONNECTION_(REFUSED|RESET)/.test(e));
    expect(unexpected).toEqual([]);
    consoleErrors.length = 0;
  } finally {
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
