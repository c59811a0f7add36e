import { defineConfig } from "@playwright/test";
import { serverBinary, siteRoot } from "./build";

// The server under test: the build named in `build.ts` (release unless told otherwise), on
// its own port with a fresh data directory each run, in developer mode (every request is the
// built-in admin). Tests of sign-in start servers of their own with accounts.
const port = Number(process.env.HATCHERY_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: true,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  webServer: {
    command:
      `rm -rf ../target/e2e-data && exec ${serverBinary}`,
    env: {
      HATCHERY_ADDR: `127.0.0.1:${port}`,
      HATCHERY_DATA_DIR: "../target/e2e-data",
      HATCHERY_AUTH: "disabled",
      HATCHERY_LOG: "warn",
      // The built-in model answers runs; short replies keep the tests quick.
      HATCHERY_LOCAL_MAX_TOKENS: "48",
      LEPTOS_SITE_ROOT: siteRoot,
    },
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
