#!/usr/bin/env bash
# Installs what Hatchery needs and is missing; fast when everything is already there.
#   scripts/setup.sh run    tools to build and serve the site
#   scripts/setup.sh test   the same, plus what the tests need (Chromium, PostgreSQL, Playwright,
#                           llm-katan)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
purpose=${1:-run}

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  say "installing $* (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown && return
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

# The wasm-bindgen CLI must be exactly the version of the crate in Cargo.lock.
ensure_wasm_bindgen() {
  local want
  want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $want" ] && return
  say "installing wasm-bindgen-cli $want (a few minutes, once)"
  # Not --locked: the CLI's own lockfile names a crate version that crates.io has yanked.
  cargo install --quiet --force wasm-bindgen-cli --version "$want"
}

ensure_cargo_leptos() {
  [ "$(cargo leptos --version 2>/dev/null)" = "cargo-leptos $CARGO_LEPTOS_VERSION" ] && return
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
  cargo install --quiet --force --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
}

# npm packages of one folder, installed exactly from its lockfile when that is newer than
# what was installed.
ensure_npm() {
  local dir=$1
  [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && return
  say "installing npm packages in $dir"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
}

# The tests run a second time against a throwaway PostgreSQL (scripts/with-postgres.sh).
ensure_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && return
  apt_install postgresql
}

# A test runs the Triggers tab's curl example, which signs with openssl.
ensure_curl_and_openssl() {
  command -v curl >/dev/null && command -v openssl >/dev/null && return
  apt_install curl openssl
}

# A third-party OpenAI-compatible server (llm-katan, from PyPI) that the provider tests run
# against beside their own fake, in a virtual environment of its own.
ensure_python_tools() {
  local venv=scripts/tools/.venv
  [ "$venv/.installed" -nt scripts/tools/requirements.txt ] && return
  python3 -m venv --help >/dev/null 2>&1 || apt_install python3 python3-venv
  say "installing Python test tools in $venv (about a minute, once)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/tools/requirements.txt
  touch "$venv/.installed"
}

# The server's allocator (jemalloc) is C, built by make with the C compiler.
ensure_c_build_tools() {
  command -v make >/dev/null && command -v cc >/dev/null && return
  apt_install build-essential
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  apt_install chromium
}

ensure_c_build_tools
ensure_wasm_target
ensure_wasm_bindgen
ensure_cargo_leptos
# wasm-opt for release bundles; Debian's binaryen is too old to produce a working bundle.
ensure_npm scripts/tools
case "$purpose" in
  run) ;;
  test)
    ensure_chromium
    ensure_postgres
    ensure_curl_and_openssl
    ensure_python_tools
    ensure_npm end2end
    ;;
  *)
    echo "usage: scripts/setup.sh run|test" >&2
    exit 64
    ;;
esac
