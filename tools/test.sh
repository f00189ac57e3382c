#!/usr/bin/env bash
# Runs every check CI runs: formatting, the layer rules, clippy, and all tests.
# Installs the Debian packages it needs first (tools/setup.sh). Usage: tools/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh --test

step() { printf '\n== %s\n' "$*"; }
step "formatting (cargo fmt --check)"
cargo fmt --all -- --check
step "layer rules (tools/check-layers.sh)"
tools/check-layers.sh
tools/check-layers.sh --self-test
step "lints (cargo clippy)"
cargo clippy --locked --all-targets -- -D warnings
step "tests (cargo test)"
# The PostgreSQL tests start their own throwaway servers; here they may not skip.
ROLLCALL_REQUIRE_POSTGRES=1 cargo test --locked
step "real window under Xvfb (tools/gui-smoke.sh)"
tools/gui-smoke.sh
step "Debian package (tools/deb-test.sh)"
tools/deb-test.sh
