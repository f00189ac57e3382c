#!/usr/bin/env bash
# Screenshots of every screen of the window with the sample class (rollcall class sample: 40
# synthetic students, 30 past sessions, 20 faces waiting for review), at 1280×720 and 1024×600,
# under a virtual X server. They are the README's pictures: regenerate them after UI changes.
#
#   tools/screenshots.sh [OUT_DIR]      (default: assets/screenshots)
# Needs: xvfb, imagemagick, xdotool, x11-utils (tools/setup.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-assets/screenshots}
wait_s=${SCREENSHOT_SECONDS:-8}

tools/setup.sh --test
cargo build --locked --quiet
bin=$PWD/target/debug/rollcall
work=$(mktemp -d)
cleanup() {
  [[ -n "${app:-}" ]] && kill "$app" 2>/dev/null || true
  [[ -n "${xvfb:-}" ]] && kill "$xvfb" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"

export ROLLCALL_DB="$work/sample.db"
"$bin" class sample --name "Sample 9C"

for size in 1280x720 1024x600; do
  display=":$((90 + RANDOM % 9))"
  Xvfb "$display" -screen 0 "${size}x24" -nolisten tcp >/dev/null 2>&1 &
  xvfb=$!
  sleep 1
  for screen in roster attendance review training reports students settings; do
    extra=()
    # The Attendance screens run the demo camera: its faces are not in the sample class, so
    # they show as not recognised.
    if [[ $screen == attendance || $screen == review ]]; then extra=(--camera demo --attend "Sample 9C"); fi
    DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$bin" --screen "$screen" "${extra[@]}" >"$work/app.log" 2>&1 &
    app=$!
    for _ in $(seq 50); do
      DISPLAY=$display xdotool search --name '^rollcall$' >/dev/null 2>&1 && break
      sleep 0.2
    done
    # No window manager: make the window exactly the screen.
    DISPLAY=$display xdotool search --name '^rollcall$' windowmove 0 0 windowsize "${size%x*}" "${size#*x}" >/dev/null 2>&1 || true
    sleep "$wait_s"
    if ! kill -0 "$app" 2>/dev/null; then
      echo "screenshots: the app exited early on $screen:" >&2
      cat "$work/app.log" >&2
      exit 1
    fi
    DISPLAY=$display import -window root "$out/$screen-$size.png"
    kill "$app"
    wait "$app" 2>/dev/null || true
    app=
  done
  kill "$xvfb"
  wait "$xvfb" 2>/dev/null || true
  xvfb=
done
echo "screenshots: $(ls "$out"/*.png | wc -l) pictures in $out"
