import { spawn, type ChildProcess } from "node:child_process";
import { test as base, expect, type Page } from "@playwright/test";
import { serverBinary, siteRoot } from "../build";

// Every test fails if the page logs a console error or throws. Each entry reads
// "<message> @ <url>"; a test that expects an error removes it from the list.
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`${message.text()} @ ${message.location().url}`);
      });
      page.on("pageerror", (error) => errors.push(error.message));
      await use(errors);
      expect(errors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

// Waits until the WASM bundle has hydrated the page: clicks before that are lost.
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

// Starts a server of a test's own (the build under test) on `port` with `dataDir`, and `env` on
// top of the defaults; the test kills it.
export function startServer(port: number, dataDir: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(serverBinary, [], {
    env: {
      ...process.env,
      HATCHERY_ADDR: `127.0.0.1:${port}`,
      HATCHERY_DATA_DIR: dataDir,
      HATCHERY_LOG: "warn",
      LEPTOS_SITE_ROOT: siteRoot,
      ...env,
    },
    stdio: "ignore",
  });
}

// Waits until the server on `port` answers /readyz.
export async function waitUntilReady(port: number) {
  await expect(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(response.status).toBe(200);
  }).toPass({ timeout: 15_000 });
}
