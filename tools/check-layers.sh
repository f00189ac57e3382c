#!/usr/bin/env bash
# Enforces rollcall's layering (see ../STYLE.md and src/lib.rs): each module may name only the
# crates and sibling modules its layer allows. Like rerun's check_forbidden_dependencies.py.
# Then tools/check-cycles.py: no circles between the files of one folder.
#
#   tools/check-layers.sh [SRC_DIR]     check a source tree (default: src)
#   tools/check-layers.sh --self-test   plant a bad import in a copy and make sure it is caught
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [[ "${1:-}" == "--self-test" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$here/../src" "$tmp/src"
  "$here/check-layers.sh" "$tmp/src" >/dev/null || { echo "self-test: the clean tree fails the check" >&2; exit 1; }
  failures=0
  plant() { # module file, line to plant
    cp -r "$here/../src" "$tmp/planted"
    printf '\n%s\n' "$2" >>"$tmp/planted/$1"
    if "$here/check-layers.sh" "$tmp/planted" >/dev/null 2>&1; then
      echo "self-test: planting '$2' in $1 was NOT caught" >&2
      failures=$((failures + 1))
    fi
    rm -rf "$tmp/planted"
  }
  plant core/mod.rs 'use rusqlite::Connection;'
  plant core/mod.rs 'use crate::store::Store;'
  plant core/mod.rs 'fn f() { let _ = std::fs::read("x"); }'
  plant store/mod.rs 'use egui::Ui;'
  plant store/mod.rs 'use crate::vision::image_io;'
  plant vision/mod.rs 'use crate::store::Store;'
  plant cli/mod.rs 'use crate::gui::App;'
  plant cli/mod.rs 'use eframe::App;'
  plant core/mod.rs 'use candle_core::Tensor;'
  if [[ -d "$here/../src/camera" ]]; then plant camera/mod.rs 'use crate::core::StudentId;'; fi
  if [[ -d "$here/../src/train" ]]; then plant train/mod.rs 'use nokhwa::Camera;'; fi
  plant cli/mod.rs 'use v4l::Device;'
  plant core/mod.rs 'use crate::{core::StudentId, store::Store};'
  plant gui/mod.rs 'use crate::cli::train::TrainArgs;'
  plant gui/mod.rs 'use crate::{store::Store, cli};'
  plant workflow/mod.rs 'use crate::gui::RollcallApp;'
  plant workflow/mod.rs 'use rusqlite::Connection;'
  plant vision/mod.rs $'use crate::{\n    core::Embedding,\n    store::Store,\n};'
  if ((failures > 0)); then exit 1; fi
  echo "layer check self-test: every planted import was caught"
  python3 "$here/check-cycles.py" --self-test
  exit 0
fi

src=${1:-"$here/../src"}
status=0

# forbid MODULE DESCRIPTION REGEX: fail when a .rs file of MODULE matches REGEX outside comments.
forbid() {
  local module=$1 what=$2 regex=$3
  local files=()
  [[ -d "$src/$module" ]] && while IFS= read -r f; do files+=("$f"); done < <(find "$src/$module" -name '*.rs')
  [[ -f "$src/$module.rs" ]] && files+=("$src/$module.rs")
  ((${#files[@]} == 0)) && return 0
  local hits grouped
  hits=$(grep -nE "$regex" "${files[@]}" | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
  # Grouped imports that rustfmt spreads over several lines (use crate::{\n core,\n store,\n};)
  # are joined into one line first, so the same pattern sees every module they name.
  grouped=$(perl -0ne 'while (/^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+crate::\{(.*?)\};/msg) { my $g = $1; next unless $g =~ /\n/; $g =~ s/\s+/ /g; print "$ARGV: use crate::{$g};\n" }' "${files[@]}" | grep -E "$regex" || true)
  [[ -n "$grouped" ]] && hits=$(printf '%s\n%s' "$hits" "$grouped" | sed '/^$/d')
  if [[ -n "$hits" ]]; then
    echo "layer violation: $module must not use $what" >&2
    echo "$hits" | sed 's/^/  /' >&2
    status=1
  fi
}

ui='\b(egui|eframe|egui_plot|egui_extras|egui_kittest|rfd)::'
tensors='\b(candle_core|candle_nn|candle|safetensors)::'
sql='\b(rusqlite|rusqlite_migration)::'
cam='\b(nokhwa|v4l)::'
# A module path, alone (crate::store) or in a group (crate::{core, store::Store}).
mods() { echo "crate::(\\{.*\\b)?($(IFS='|'; echo "$*"))\b"; }

# core: pure domain logic, no I/O, no frameworks.
forbid core "another layer" "$(mods store vision train camera cli gui)"
forbid core "a UI crate" "$ui"
forbid core "candle" "$tensors"
forbid core "SQLite" "$sql"
forbid core "the camera" "$cam"
forbid core "I/O (files, network, processes, threads, images, CSV)" '\bstd::(fs|net|process|thread)\b|\b(image|csv|directories)::|\bFile::'
# store: SQLite and CSV over core.
forbid store "a layer above it" "$(mods vision train camera cli gui)"
forbid store "a UI crate" "$ui"
forbid store "candle" "$tensors"
forbid store "the camera" "$cam"
# camera: stands alone.
forbid camera "another rollcall layer" "$(mods core store vision train cli gui)"
forbid camera "a UI crate" "$ui"
forbid camera "candle" "$tensors"
forbid camera "SQLite" "$sql"
# vision: images and candle models over core.
forbid vision "a layer above it" "$(mods store train camera cli gui)"
forbid vision "a UI crate" "$ui"
forbid vision "SQLite" "$sql"
forbid vision "the camera" "$cam"
# train: datasets, losses, trainer over vision and core.
forbid train "a layer above it" "$(mods store camera cli gui)"
forbid train "a UI crate" "$ui"
forbid train "SQLite" "$sql"
forbid train "the camera" "$cam"
# workflow: what the two front ends share, over the libraries; knows neither front end.
forbid workflow "a front end (cli or gui)" "$(mods cli gui)"
forbid workflow "a UI crate" "$ui"
forbid workflow "candle directly (go through vision or train)" "$tensors"
forbid workflow "SQLite directly (go through store)" "$sql"
forbid workflow "nokhwa directly (go through camera)" "$cam"
# cli: everything but the GUI; no framework of its own layers' below.
forbid cli "the GUI" "$(mods gui)"
forbid cli "a UI crate" "$ui"
forbid cli "candle directly (go through vision or train)" "$tensors"
forbid cli "SQLite directly (go through store)" "$sql"
forbid cli "nokhwa directly (go through camera)" "$cam"
# gui: screens and their workers over workflow and the libraries; not the CLI, and not SQLite,
# candle or nokhwa directly.
forbid gui "the CLI (shared work lives in workflow)" "$(mods cli)"
forbid gui "candle directly (go through vision or train)" "$tensors"
forbid gui "SQLite directly (go through store)" "$sql"
forbid gui "nokhwa directly (go through camera)" "$cam"

if ((status == 0)); then
  echo "layer check: ok"
fi
# No circles between the files of one folder either.
python3 "$here/check-cycles.py" "$src" || status=1
exit $status
