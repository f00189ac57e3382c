#!/usr/bin/env bash
# Fuzzes rollcall's input paths (photos, dlib model files, model weights) with cargo-fuzz
# (libFuzzer) for a bounded time each. Not part of tools/test.sh: the instrumented build of
# every dependency takes a while. Usage: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# cargo-fuzz needs nightly compiler flags; on a stable toolchain RUSTC_BOOTSTRAP=1 enables them.
set -euo pipefail
cd "$(dirname "$0")/fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(image_decode dlib_import model_load)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p corpus
# Seed corpora with real inputs so the fuzzer starts from valid files.
mkdir -p corpus/image_decode corpus/model_load corpus/dlib_import
cp -n ../../assets/demo/*.jpg corpus/image_decode/ 2>/dev/null || true
cp -n ../../assets/models/mtcnn/pnet.safetensors corpus/model_load/ 2>/dev/null || true
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  cargo fuzz run --fuzz-dir . "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=4194304
done
echo "fuzz: no crash in ${targets[*]} (${seconds}s each)"
