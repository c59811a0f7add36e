// The build under test: the release build by default, which is what `scripts/run.sh` serves
// and `scripts/test.sh` builds (`cargo leptos build --release`). Set HATCHERY_E2E_PROFILE=debug
// to test a `cargo leptos build` instead while iterating.
export const profile = process.env.HATCHERY_E2E_PROFILE ?? "release";
if (profile !== "release" && profile !== "debug") {
  throw new Error(`HATCHERY_E2E_PROFILE must be "release" or "debug", not "${profile}"`);
}

// The server binary and the site it serves, relative to this folder.
export const serverBinary = `../target/${profile}/hatchery`;
export const siteRoot = "../target/site";
