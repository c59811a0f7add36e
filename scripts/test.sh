#!/usr/bin/env bash
# Installs what is missing, then runs every check and test: formatting, clippy on the server
# and WASM targets, the Rust tests (the API suite on SQLite, then again on a throwaway
# PostgreSQL), and the Playwright tests in Chromium against the real server. Stops at the
# first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh test
# wasm-opt for the release bundle, from npm (cargo-leptos would try to download its own).
export PATH="$PWD/scripts/tools/node_modules/.bin:$PATH"

step() {
  local name=$1 started=$SECONDS
  shift
  printf '\n\033[1;34m==> %s\033[0m\n' "$name"
  "$@"
  printf '\033[1;32m    %s: ok (%ss)\033[0m\n' "$name" $((SECONDS - started))
}

step "format" cargo fmt --all -- --check
step "clippy (server)" cargo clippy --locked --workspace --exclude hatchery-frontend --all-targets -- -D warnings
step "clippy (wasm32)" cargo clippy --locked --target wasm32-unknown-unknown \
  -p hatchery-frontend -p hatchery-app -p hatchery-shared --all-targets -- -D warnings
step "rust tests (SQLite)" cargo test --locked --workspace --exclude hatchery-frontend
step "API tests (PostgreSQL)" scripts/with-postgres.sh cargo test --locked -p hatchery-server --test api
# The release bundle, served by the debug server `cargo test` has just built: the server's
# release build is the same code and would cost a third full build of the workspace.
step "build site (release bundle)" cargo leptos build --cargo-locked --release --frontend-only
step "browser tests" bash -c 'cd end2end && HATCHERY_E2E_SERVER=debug npx playwright test'
printf '\n\033[1;32mAll checks passed.\033[0m\n'
