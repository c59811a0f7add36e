import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, expect, hydrated, startServer, waitUntilReady } from "./fixtures";

// Servers of this file's own with accounts (sign-in required) and an empty database, so
// that the first run's admin page shows: one per test.
const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100) + 2;
const base = `http://127.0.0.1:${port}`;

// The browser reports each refused request of these statuses, which the flow provokes on
// purpose (a wrong password, a bad schedule); nothing else may fail.
function dropExpected(errors: string[], statuses: number[]) {
  const expected = (e: string) => statuses.some((s) => e.includes(`status of ${s}`));
  const unexpected = errors.filter((e) => !expected(e));
  errors.length = 0;
  errors.push(...unexpected);
}

test("first run, sign-in and sign-out, and an agent created, edited live across tabs and deleted", async ({
  page,
  context,
  consoleErrors,
}) => {
  test.setTimeout(120_000);
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-accounts-"));
  const server = startServer(port, dataDir);
  try {
    await waitUntilReady(port);

    // First run: the only thing to do is create the admin.
    await page.goto(`${base}/`);
    await hydrated(page);
    await expect(page).toHaveURL(`${base}/setup`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Name").fill("Ada");
    await page.getByLabel("Password", { exact: true }).fill("correct horse battery");
    await page.getByLabel("Password again").fill("correct horse battery");
    await page.getByRole("button", { name: "Create admin account" }).click();
    await expect(page).toHaveURL(`${base}/`);
    await expect(page.getByTestId("agents-empty")).toBeVisible();
    const menu = page.getByTestId("account-menu");
    await expect(menu).toContainText("Ada");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "open");

    // Sign out, then a wrong password, then the right one.
    await menu.locator("summary").click();
    await menu.getByRole("menuitem", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${base}/sign-in`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert")).toContainText("the email or the password is wrong");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(`${base}/`);
    await expect(page.getByTestId("agents-empty")).toBeVisible();

    // A bad schedule is refused on its field; a good one saves.
    await page.getByRole("link", { name: "New agent" }).click();
    await page.getByLabel("Name").fill("Morning digest");
    await page.getByLabel("Schedule").fill("61 * * * *");
    await page.getByRole("button", { name: "Save" }).click();
    const schedule = page.getByLabel("Schedule");
    await expect(schedule).toHaveAttribute("aria-invalid", "true");
    await expect(page.locator("#field-schedule-error")).toContainText("not a valid cron expression");
    await schedule.fill("0 9 * * 1-5");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page).toHaveURL(`${base}/`);
    const row = page.getByTestId("agents").getByRole("row", { name: /Morning digest/ });
    await expect(row).toContainText("At 09:00 AM, Monday through Friday");
    await expect(row).toContainText("idle");

    // A second tab sees an edit made in the first without reloading.
    const other = await context.newPage();
    await other.goto(`${base}/`);
    await hydrated(other);
    await expect(other.getByTestId("connection")).toHaveAttribute("data-state", "open");
    await expect(other.getByTestId("agents")).toContainText("Morning digest");
    await row.getByRole("link", { name: "Morning digest" }).click();
    await expect(page.getByLabel("Name")).toHaveValue("Morning digest");
    await page.getByLabel("Name").fill("Evening digest");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page).toHaveURL(`${base}/`);
    await expect(other.getByTestId("agents")).toContainText("Evening digest");
    await expect(other.getByTestId("agents")).not.toContainText("Morning digest");

    // Delete, after confirming; both tabs empty.
    const renamed = page.getByTestId("agents").getByRole("row", { name: /Evening digest/ });
    await renamed.getByRole("button", { name: "Delete" }).click();
    await renamed.getByRole("button", { name: "Yes, delete" }).click();
    await expect(page.getByTestId("agents-empty")).toBeVisible();
    await expect(other.getByTestId("agents-empty")).toBeVisible();

    dropExpected(consoleErrors, [401, 422]);
  } finally {
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("an admin adds a user, and an API token works until it is revoked", async ({ page }) => {
  test.setTimeout(60_000);
  const ownPort = port + 2;
  const own = `http://127.0.0.1:${ownPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-tokens-"));
  const server = startServer(ownPort, dataDir);
  try {
    await waitUntilReady(ownPort);
    // The first account is the admin, and creating it signs this browser in.
    const setup = await page.request.post(`${own}/api/auth/setup`, {
      data: { email: "grace@example.com", display_name: "Grace", password: "correct horse battery" },
    });
    expect(setup.status()).toBe(201);

    await page.goto(`${own}/admin/users`);
    await hydrated(page);
    await page.getByLabel("Email").fill("lin@example.com");
    await page.getByLabel("Name").fill("Lin");
    await page.getByLabel("Password").fill("another long passphrase");
    await page.getByRole("button", { name: "Add user" }).click();
    const lin = page.getByRole("row", { name: /lin@example\.com/ });
    await expect(lin.getByRole("cell").nth(2)).toHaveText("user");
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole("row", { name: /lin@example\.com/ })).toBeVisible();
    const grace = page.getByRole("row", { name: /grace@example\.com/ });
    await expect(grace.getByRole("cell").nth(2)).toHaveText("admin");

    // Disabled, Lin cannot sign in; enabled again, she can.
    const signInAsLin = () =>
      fetch(`${own}/api/auth/sign-in`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: "lin@example.com", password: "another long passphrase" }),
      });
    await page.getByRole("row", { name: /lin@example\.com/ }).getByRole("button", { name: "Disable" }).click();
    await expect(page.getByRole("row", { name: /lin@example\.com/ }).getByRole("cell").nth(4)).toHaveText("disabled");
    expect((await signInAsLin()).status).toBe(403);
    await page.getByRole("row", { name: /lin@example\.com/ }).getByRole("button", { name: "Enable" }).click();
    await expect(page.getByRole("row", { name: /lin@example\.com/ }).getByRole("cell").nth(4)).toHaveText("active");
    expect((await signInAsLin()).status).toBe(200);

    await page.goto(`${own}/account/password`);
    await hydrated(page);
    await page.getByLabel("Current password").fill("correct horse battery");
    await page.getByLabel("New password").fill("a newer horse battery");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.locator("main").getByRole("status")).toContainText("Password changed");

    await page.goto(`${own}/account/tokens`);
    await hydrated(page);
    await page.getByLabel("Token name").fill("CI");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = (await page.getByTestId("new-token").locator("code").textContent()) ?? "";
    const asScript = () => fetch(`${own}/api/agents`, { headers: { Authorization: `Bearer ${secret}` } });
    expect((await asScript()).status).toBe(200);
    const row = page.getByRole("row", { name: /CI/ });
    await expect(row).toBeVisible();
    await row.getByRole("button", { name: "Revoke" }).click();
    await expect(row).toHaveCount(0);
    expect((await asScript()).status).toBe(401);
    await page.reload();
    await hydrated(page);
    await expect(page.getByText("No tokens yet.")).toBeVisible();
  } finally {
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("open sign-up creates an account and signs into it; a taken email needs its own password", async ({
  page,
  consoleErrors,
}) => {
  test.setTimeout(60_000);
  const ownPort = port + 4;
  const own = `http://127.0.0.1:${ownPort}`;
  const dataDir = mkdtempSync(join(tmpdir(), "hatchery-e2e-signup-"));
  const server = startServer(ownPort, dataDir, { HATCHERY_SIGNUP: "open" });
  try {
    await waitUntilReady(ownPort);
    const setup = await fetch(`${own}/api/auth/setup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "grace@example.com", display_name: "Grace", password: "correct horse battery" }),
    });
    expect(setup.status).toBe(201);

    const createAccount = async (email: string, password: string) => {
      await page.goto(`${own}/sign-in`);
      await hydrated(page);
      await page.getByRole("button", { name: "No account yet? Create one" }).click();
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Name").fill("Someone");
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Create account" }).click();
    };

    await createAccount("lin@example.com", "another long passphrase");
    await expect(page).toHaveURL(`${own}/`);
    const menu = page.getByTestId("account-menu");
    await expect(menu).toContainText("Someone");
    await menu.locator("summary").click();
    await menu.getByRole("menuitem", { name: "Sign out" }).click();
    await expect(page).toHaveURL(`${own}/sign-in`);

    // Grace's email with another password: nothing is created, and the page says so.
    await createAccount("grace@example.com", "not graces password");
    await expect(page.getByRole("alert")).toContainText("already has an account");
    await expect(page).toHaveURL(`${own}/sign-in`);
    const grace = await fetch(`${own}/api/auth/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "grace@example.com", password: "correct horse battery" }),
    });
    expect(grace.status).toBe(200);
    expect((await grace.json()).display_name).toBe("Grace");

    dropExpected(consoleErrors, [401]);
  } finally {
    server.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
});
