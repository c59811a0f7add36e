import { test, expect, hydrated } from "./fixtures";
import { bundleProfile } from "../build";

// The browser bundle `scripts/run.sh` serves: compiled with the `wasm-release` profile and
// optimised by wasm-opt. Its views keep their full types (debug builds erase them), so only
// this bundle shows whether the release build compiles and hydrates.
test.describe("the release build", () => {
  test.skip(bundleProfile !== "release", "tests the release bundle only");

  test("serves an optimised bundle that hydrates the home page and connects its WebSocket", async ({ page, request }) => {
    // A debug bundle is over 10 MB; the release one is a fraction of that.
    const bundle = await request.get("/pkg/hatchery.wasm");
    expect(bundle.status()).toBe(200);
    expect((await bundle.body()).length).toBeLessThan(4_000_000);

    await page.goto("/");
    await hydrated(page);
    const status = page.getByTestId("database-status");
    await page.getByRole("button", { name: "Check now" }).click();
    await expect(status).toContainText("Ready");

    const indicator = page.getByTestId("connection");
    await expect(indicator).toHaveAttribute("data-state", "open");
    await expect(indicator).toHaveText("Live");
  });
});
