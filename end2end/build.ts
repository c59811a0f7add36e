// What the browser tests run against: a server binary and the site (the WASM bundle and its
// CSS) under `target/site`. Both are the release build by default, which is what
// `scripts/run.sh` serves. `scripts/test.sh` builds the release bundle only
// (`cargo leptos build --release --frontend-only`) and serves it with the debug server that
// its `cargo test` step has just built (HATCHERY_E2E_SERVER=debug), sparing a third full
// build of the workspace. While iterating, `cargo leptos build` then
// HATCHERY_E2E_SERVER=debug HATCHERY_E2E_BUNDLE=debug tests a debug build of both.
function profileOf(variable: string, fallback: string): "release" | "debug" {
  const value = process.env[variable] ?? fallback;
  if (value !== "release" && value !== "debug") {
    throw new Error(`${variable} must be "release" or "debug", not "${value}"`);
  }
  return value;
}

/** The profile of the server binary under test. */
export const serverProfile = profileOf("HATCHERY_E2E_SERVER", "release");
/** The profile the bundle in `target/site` was built with. */
export const bundleProfile = profileOf("HATCHERY_E2E_BUNDLE", "release");

// The server binary and the site it serves, relative to this folder.
export const serverBinary = `../target/${serverProfile}/hatchery`;
export const siteRoot = "../target/site";
