#!/usr/bin/env bash
# Installs what is missing, builds Hatchery (release) and serves it at http://127.0.0.1:3000.
# The data directory (HATCHERY_DATA_DIR, default ./data) and its SQLite database are created
# and migrated by the server at start-up. Ctrl+C stops it gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh run
export PATH="$PWD/scripts/tools/node_modules/.bin:$PATH"
exec cargo leptos serve --release
