#!/usr/bin/env bash
# Installs the system packages rollcall needs to build, test and run on Debian/Ubuntu.
# Safe to run again: it installs only what is missing. Usage: tools/setup.sh [--test]
set -euo pipefail

# Build: nokhwa's V4L2 bindings are generated with bindgen, which needs libclang.
# Run: eframe opens an X11/Wayland window through OpenGL (Mesa).
# School server: TLS to PostgreSQL goes through the system's OpenSSL (libssl-dev to build).
packages=(libclang-dev pkg-config libssl-dev libx11-dev libxkbcommon-x11-0 libgl1 libegl1 libgl1-mesa-dri libwayland-client0)
# --test (or its old name --gui-test): what tools/test.sh needs besides the build.
if [[ "${1:-}" == "--test" || "${1:-}" == "--gui-test" ]]; then
  # The real-window smoke test: a virtual X server, a screenshot tool and a clicker.
  packages+=(xvfb imagemagick xdotool x11-utils)
  # The tests run a real PostgreSQL server (initdb on a temporary folder, as an unprivileged user).
  packages+=(postgresql)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

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
