#!/usr/bin/env bash
# Installs the system packages rollcall needs to build, test and run on Debian/Ubuntu.
# Safe to run again: it installs only what is missing. Usage: tools/setup.sh [--test|--package]
#   --package  also what building the Debian package needs: dpkg-dev and cargo-deb
#   --test     what tools/test.sh needs: the window test's tools, PostgreSQL, and --package's
set -euo pipefail
mode=${1:-}
[[ "$mode" == "--gui-test" ]] && mode=--test # its old name
# cargo-deb, pinned: `cargo install` builds it (about 2 minutes on two cores) into ~/.cargo/bin.
cargo_deb_version=3.8.0

# Build: nokhwa's V4L2 bindings are generated with bindgen, which needs libclang.
# Run: eframe opens an X11/Wayland window through OpenGL (Mesa).
# School server: TLS to PostgreSQL goes through the system's OpenSSL (libssl-dev to build).
packages=(libclang-dev pkg-config libssl-dev libx11-dev libxkbcommon-x11-0 libgl1 libegl1 libgl1-mesa-dri libwayland-client0)
# Run, too: the other libraries the window opens (X11, Wayland's EGL, fonts; D-Bus for the file
# dialogs), as the Debian package's Depends in Cargo.toml list them.
packages+=(libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrender1 libxkbcommon0 libwayland-egl1 libfontconfig1 libdbus-1-3)
# --test: what tools/test.sh needs besides the build.
if [[ "$mode" == "--test" ]]; then
  # The real-window smoke test: a virtual X server, a screenshot tool and a clicker.
  packages+=(xvfb imagemagick xdotool x11-utils)
  # The tests run a real PostgreSQL server (initdb on a temporary folder, as an unprivileged user).
  packages+=(postgresql)
  # tools/check-cycles.py (run by tools/check-layers.sh) reads the imports.
  packages+=(python3)
  # tools/deb-test.sh checks the package's menu entry and AppStream metainfo.
  packages+=(desktop-file-utils appstream)
fi
# The Debian package: dpkg-shlibdeps (dpkg-dev) works out its library dependencies; cargo-deb
# links the system's liblzma (liblzma-dev) for the xz compression.
if [[ "$mode" == "--test" || "$mode" == "--package" ]]; then
  packages+=(dpkg-dev liblzma-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  echo "rollcall setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt_get=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt_get=(sudo apt-get)
  else
    echo "rollcall setup: these Debian packages are missing and I cannot install them without root:" >&2
    echo "  ${missing[*]}" >&2
    echo "Install them with: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" update -qq
  "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-deb, as the user who runs the build (no sudo), unless this version is already there.
if [[ "$mode" == "--test" || "$mode" == "--package" ]]; then
  if [[ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]]; then
    echo "rollcall setup: installing cargo-deb $cargo_deb_version (cargo install, about 2 minutes)" >&2
    # Its own build folder, so that it never waits for (or locks) rollcall's target/.
    build_dir=$(mktemp -d)
    CARGO_TARGET_DIR="$build_dir" cargo install cargo-deb --locked --version "$cargo_deb_version" --quiet
    rm -rf "$build_dir"
  fi
fi
