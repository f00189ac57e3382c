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
# Small photos in every format the image crate reads here (a full-size JPEG takes ~50 ms to
# decode, which would hold the fuzzer to a few runs a second).
if command -v convert >/dev/null; then
  for ext in jpg png gif bmp tiff webp ico tga pnm; do
    [ -e "corpus/image_decode/demo-small.$ext" ] ||
      convert ../../assets/demo/obama.jpg -resize 24x24 "corpus/image_decode/demo-small.$ext" 2>/dev/null || true
  done
  [ -e corpus/image_decode/grey16.png ] ||
    convert ../../assets/demo/biden.jpg -resize 16x16 -colorspace Gray -depth 16 corpus/image_decode/grey16.png || true
  [ -e corpus/image_decode/cmyk.jpg ] ||
    convert ../../assets/demo/biden.jpg -resize 16x16 -colorspace CMYK corpus/image_decode/cmyk.jpg || true
else
  cp -n ../../assets/demo/obama.jpg corpus/image_decode/ 2>/dev/null || true
fi
cp -n ../../assets/models/mtcnn/pnet.safetensors corpus/model_load/ 2>/dev/null || true
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  # Photos: small inputs run fast, and a decompression bomb is small by nature. Model files
  # need room for real headers and tensors.
  max_len=4194304
  [ "$t" = image_decode ] && max_len=65536
  cargo fuzz run --fuzz-dir . "$t" "corpus/$t" -- -max_total_time="$seconds" -rss_limit_mb=4096 -max_len="$max_len"
done
echo "fuzz: no crash in ${targets[*]} (${seconds}s each)"
