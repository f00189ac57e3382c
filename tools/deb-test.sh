#!/usr/bin/env bash
# Debian package test: builds rollcall's .deb from the dev-profile binary (cargo deb --no-build),
# checks what it holds, checks that its Depends resolve on this machine, installs it into a
# clean temporary root with dpkg --root, runs the installed binary (--version and the
# real-window smoke test, tools/gui-smoke.sh) from outside the source tree, and removes it again.
#
#   tools/deb-test.sh [--no-build]     (--no-build: package target/debug/rollcall as it is)
# Needs what tools/setup.sh --test installs (cargo-deb, dpkg-dev, desktop-file-utils, appstream,
# xvfb, imagemagick).
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.rollcall.Rollcall
icon_sizes=(16 32 48 64 128 256 512)
# Packages the binary opens at run time (dlopen), which dpkg-shlibdeps cannot see.
runtime_depends=(libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libwayland-client0 libx11-6 libfontconfig1 libdbus-1-3)

fail() {
  echo "deb-test: $*" >&2
  exit 1
}
step() { printf -- '-- %s\n' "$*"; }

# The package is made of the dev-profile binary the tests already built (the dev profile is
# opt-level 3; a release build of eframe and candle would take 15-25 minutes on two cores).
# cargo build is a no-op when that binary is up to date.
if [[ "${1:-}" != "--no-build" ]]; then
  cargo build --locked --quiet --bin rollcall
fi
[[ -x target/debug/rollcall ]] || fail "target/debug/rollcall is missing (run cargo build)"

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
root=$work/root

step "building the package (cargo deb --no-build --profile dev)"
# cargo-deb works in a target folder of its own: it deletes every older rollcall_*.deb in
# <target>/debian, and the user's target/debian may hold a release package.
mkdir -p "$work/target/debug"
ln target/debug/rollcall "$work/target/debug/rollcall" 2>/dev/null || cp target/debug/rollcall "$work/target/debug/rollcall"
# It warns that the dev profile is unsupported: it is for release builds, and rollcall's dev
# profile is one (opt-level 3). --strip drops the line tables (123 MB to 79 MB); --fast: xz at
# a lower level, 23 s instead of 56 s, for a 4 % larger file.
if ! deb=$(CARGO_TARGET_DIR="$work/target" cargo deb --locked --no-build --profile dev --strip --fast \
  --output "$work/" 2>"$work/cargo-deb.log" | tail -n 1) || [[ ! -f "$deb" ]]; then
  cat "$work/cargo-deb.log" >&2
  fail "cargo deb made no package"
fi
# Its other warnings, if any, are worth reading.
grep -vE 'dev profile is not supported|To enable debug symbols set' "$work/cargo-deb.log" >&2 || true
echo "$(basename "$deb"): $(du -h "$deb" | cut -f1)"

step "control fields (dpkg-deb --info)"
field() { dpkg-deb --field "$deb" "$1"; }
version=$("$work/target/debug/rollcall" --version | awk '{ print $2 }')
[[ "$(field Package)" == rollcall ]] || fail "Package is $(field Package), not rollcall"
[[ "$(field Version)" == "$version-1" ]] || fail "Version is $(field Version), the binary says $version"
[[ "$(field Architecture)" == "$(dpkg --print-architecture)" ]] || fail "Architecture is $(field Architecture)"
[[ "$(field Section)" == education ]] || fail "Section is $(field Section)"
depends=$(field Depends)
# libc6 comes from $auto (dpkg-shlibdeps), the others from Cargo.toml.
for p in libc6 libssl3 "${runtime_depends[@]}"; do
  [[ ", $depends," == *", $p "* || ", $depends," == *", $p,"* ]] || fail "Depends lacks $p: $depends"
done
echo "Depends: $depends"

step "contents (dpkg-deb --contents)"
expected=(
  usr/bin/rollcall
  "usr/share/applications/$app_id.desktop"
  "usr/share/metainfo/$app_id.metainfo.xml"
  usr/share/icons/hicolor/scalable/apps/rollcall.svg
  usr/share/doc/rollcall/copyright
  usr/share/doc/rollcall/README.md
  usr/share/doc/rollcall/mnist/README.md
  usr/share/doc/rollcall/demo/README.md
)
for n in "${icon_sizes[@]}"; do
  expected+=("usr/share/icons/hicolor/${n}x$n/apps/rollcall.png")
done
# Every bundled model's notes and licence files (the weights themselves are inside the binary).
for f in assets/models/*/README.md assets/models/*/LICEN[CS]E* assets/models/*/COPYING*; do
  if [[ -e "$f" ]]; then
    expected+=("usr/share/doc/rollcall/models/${f#assets/models/}")
  fi
done
dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' | sort >"$work/contents"
printf '%s\n' "${expected[@]}" | sort >"$work/expected"
if ! diff -u "$work/expected" "$work/contents" >"$work/contents.diff"; then
  cat "$work/contents.diff" >&2
  fail "the package holds other files than expected (- missing, + unexpected)"
fi
echo "${#expected[@]} files, as expected"

step "Depends resolve on this machine (apt-get install --simulate)"
if ! apt-get install --simulate --no-install-recommends "$deb" >"$work/apt.log" 2>&1; then
  cat "$work/apt.log" >&2
  fail "apt cannot satisfy the package's Depends here"
fi
also=$(awk '$1 == "Inst" && $2 != "rollcall" { printf " %s", $2 }' "$work/apt.log")
echo "they do; apt would install rollcall${also:+ and}${also:-}"

step "installing into a clean root (dpkg --root)"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers" "$root/var/log"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# The root is empty, so none of the Depends is installed in it: --force-depends, and only that.
# (The libraries the installed binary uses are this machine's, checked with apt above.)
dpkg_root=(dpkg --root="$root" --log=/dev/null)
[[ $(id -u) -eq 0 ]] || dpkg_root+=(--force-not-root)
"${dpkg_root[@]}" --force-depends --install "$deb" >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg --install failed"
}
[[ "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' rollcall)" == "install ok installed" ]] \
  || fail "dpkg does not list rollcall as installed"
# Every asset listed in Cargo.toml is installed byte for byte, with its mode.
installed=$root/usr/bin/rollcall
sed -n '/^\[package.metadata.deb\]/,$p' Cargo.toml \
  | sed -n 's/^ *\["\([^"]*\)", "\([^"]*\)", "\([0-7]*\)"\],.*/\1 \2 \3/p' >"$work/assets"
while read -r source dest mode; do
  [[ "$dest" == */ ]] && dest=$dest$(basename "$source")
  [[ "$(stat -c %a "$root/$dest")" == "$mode" ]] || fail "/$dest has mode $(stat -c %a "$root/$dest"), not $mode"
  [[ "$source" == target/release/* ]] || cmp -s "$source" "$root/$dest" || fail "/$dest differs from $source"
done <"$work/assets"
# All but copyright (which cargo-deb writes) come from those lines: none was written another way.
(($(wc -l <"$work/assets") == ${#expected[@]} - 1)) \
  || fail "read $(wc -l <"$work/assets") assets in Cargo.toml, each as one [\"source\", \"dest\", \"mode\"] line, for ${#expected[@]} files"
if readelf --wide --sections "$installed" | grep -qE '\.debug_(info|line|str)|\.symtab'; then
  fail "the installed binary still has its symbols or line tables (not stripped)"
fi
if ldd "$installed" | grep 'not found'; then
  fail "the installed binary misses a library"
fi
echo "installed and verified: $(find "$root/usr" -type f | wc -l) files under $root/usr"

step "menu entry, metainfo and icons"
desktop-file-validate "$root/usr/share/applications/$app_id.desktop"
# validate-tree: the metainfo, and that the menu entry it names is installed beside it.
appstreamcli validate-tree --no-net "$root" >"$work/appstream.log" 2>&1 || {
  cat "$work/appstream.log" >&2
  fail "appstreamcli validate-tree failed"
}
for n in "${icon_sizes[@]}"; do
  size=$(identify -format '%wx%h' "$root/usr/share/icons/hicolor/${n}x$n/apps/rollcall.png")
  [[ "$size" == "${n}x$n" ]] || fail "the ${n}x$n icon is $size"
done
echo "desktop-file-validate and appstreamcli validate-tree pass; icons ${icon_sizes[*]} have their sizes"

step "the installed binary, from outside the source tree"
mkdir -p "$work/home" "$work/elsewhere"
# A home of its own, so that it reads no settings or data of the user running the test.
home=(env HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share" XDG_CONFIG_HOME="$work/home/.config")
said=$(cd "$work/elsewhere" && "${home[@]}" "$installed" --version)
[[ "$said" == "rollcall $version" ]] || fail "the installed rollcall --version says '$said'"
echo "$installed --version: $said"
# gui-smoke.sh runs the binary in a temporary folder of its own.
"${home[@]}" ROLLCALL_BIN="$installed" tools/gui-smoke.sh "$work/smoke.png"

step "removing it (dpkg --purge)"
"${dpkg_root[@]}" --purge rollcall >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg --purge failed"
}
left=$(find "$root" -path "$root/var" -prune -o -type f -print | wc -l)
((left == 0)) || fail "$left files are left after the purge"
echo "deb-test: ok ($(basename "$deb"): ${#expected[@]} files, installed into a clean root, --version and the window smoke test passed from the installed binary, purged)"
