#!/usr/bin/env bash
# Builds and runs rollcall (the window, or a subcommand: tools/run.sh --help).
# Installs the Debian packages it needs first (tools/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
exec cargo run --locked --release --quiet -- "$@"
