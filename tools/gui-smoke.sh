#!/usr/bin/env bash
# Real-window smoke test: starts rollcall under a virtual X server (Xvfb, Mesa OpenGL) on a
# small demo database, takes a screenshot after a few seconds, and checks that the window is
# mapped, still running, and drew something (the screenshot is not a blank screen).
#
#   tools/gui-smoke.sh [SCREENSHOT.png]      (default: target/gui-smoke.png)
#   ROLLCALL_BIN=/usr/bin/rollcall tools/gui-smoke.sh    (that binary, not a fresh cargo build)
# The binary runs in a temporary folder, so it finds nothing of the source tree but the demo
# photos given to it. Needs: xvfb, imagemagick, x11-utils (tools/setup.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
shot=$(realpath -m "${1:-target/gui-smoke.png}")
seconds=${GUI_SMOKE_SECONDS:-12}
demo=$PWD/assets/demo

if [[ -n "${ROLLCALL_BIN:-}" ]]; then
  bin=$(realpath "$ROLLCALL_BIN")
else
  cargo build --locked --quiet
  bin=$PWD/target/debug/rollcall
fi
work=$(mktemp -d)
display=":$((90 + RANDOM % 9))"
cleanup() {
  [[ -n "${app:-}" ]] && kill "$app" 2>/dev/null || true
  [[ -n "${xvfb:-}" ]] && kill "$xvfb" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

export ROLLCALL_DB="$work/smoke.db"
"$bin" class add 7B >/dev/null
"$bin" student add --name "Barack Obama" --class 7B --photo "$demo/obama.jpg" --consent-by "Self (adult)" >/dev/null
"$bin" student add --name "Joe Biden" --class 7B --photo "$demo/biden.jpg" --consent-by "Self (adult)" >/dev/null
"$bin" session start --class 7B >/dev/null

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 1
# The window opens straight on taking attendance for 7B with the demo camera.
DISPLAY=$display LIBGL_ALWAYS_SOFTWARE=1 "$bin" --camera demo --attend 7B >"$work/app.log" 2>&1 &
app=$!
sleep "$seconds"

if ! kill -0 "$app" 2>/dev/null; then
  echo "gui-smoke: the app exited early:" >&2
  cat "$work/app.log" >&2
  exit 1
fi
if ! DISPLAY=$display xwininfo -name rollcall >/dev/null 2>&1; then
  echo "gui-smoke: no window titled rollcall is mapped" >&2
  cat "$work/app.log" >&2
  exit 1
fi
mkdir -p "$(dirname "$shot")"
DISPLAY=$display import -window root "$shot"
# A drawn egui window has text and widgets: its pixel values vary; a blank screen does not.
spread=$(convert "$shot" -colorspace Gray -format '%[fx:standard_deviation]' info:)
colors=$(convert "$shot" -format '%k' info:)
if awk -v s="$spread" 'BEGIN { exit !(s < 0.02) }' || ((colors < 50)); then
  echo "gui-smoke: the screenshot looks blank (std dev $spread, $colors colours)" >&2
  exit 1
fi
# Attendance ran: the demo camera's students were marked in the database.
marked=$("$bin" session show --class 7B | grep -c present || true)
if ((marked < 1)); then
  echo "gui-smoke: the window ran the demo camera but marked nobody" >&2
  cat "$work/app.log" >&2
  exit 1
fi
echo "gui-smoke: ok (window mapped, running after ${seconds}s, $marked student(s) marked from the demo camera, screenshot $shot: $colors colours, std dev $spread)"
