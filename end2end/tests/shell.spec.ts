import { test, expect, hydrated } from "./fixtures";

test("the dashboard renders with the navigation and the server version", async ({ page, request }) => {
  await page.goto("/");

  await expect(page).toHaveTitle("Dashboard · Hatchery");
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const label of ["Dashboard", "Agents", "Runs", "Usage", "Rooms", "Logs"]) {
    await expect(nav.getByRole("link", { name: label })).toBeVisible();
  }
  await expect(nav.getByRole("link", { name: "Dashboard" })).toHaveAttribute("aria-current", "page");
  const health = await (await request.get("/healthz")).json();
  await expect(page.locator("footer")).toContainText(`v${health.version}`);
});

test("checking the system asks the server and shows the database as ready", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  const status = page.getByTestId("database-status");
  await expect(status).toHaveText("Not checked yet");

  await page.getByRole("button", { name: "Check now" }).click();

  await expect(status).toContainText("Ready");
  await expect(status).toContainText(/answered in \d+ ms · schema \d+/);
});

test("navigating between sections happens in the page, without a reload", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs" }).click();

  await expect(page).toHaveURL(/\/logs$/);
  await expect(page.getByRole("heading", { level: 1, name: "Logs" })).toBeVisible();
  await expect(page.getByRole("tab", { name: "Audit" })).toHaveAttribute("aria-selected", "true");
  await expect(page).toHaveTitle("Logs · Hatchery");
  expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe("same page");
});

test("an unknown address shows the 404 page with a way back", async ({ page, consoleErrors }) => {
  const response = await page.goto("/no/such/page");

  expect(response?.status()).toBe(404);
  // The browser reports the page's own 404 status; nothing else may fail.
  const pageStatus = `Failed to load resource: the server responded with a status of 404 (Not Found) @ ${response?.url()}`;
  expect(consoleErrors).toEqual([pageStatus]);
  consoleErrors.length = 0;
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await hydrated(page);
  await page.getByRole("link", { name: "Back to the dashboard" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});
