#!/usr/bin/env python3
"""Reference embeddings from the TFLite interpreter itself, for the parity test of rollcall's
candle port of MobileFaceNet (tests/mobilefacenet_parity.rs).

Input: a sheet of 112x112 RGB face chips in one lossless WebP (rows of chips, left to right, top to
bottom; an all-black tile ends the sheet). rollcall writes it from its public-domain demo
photos with an ignored test:

    cargo test --test mobilefacenet_parity -- --ignored write_parity_chips

Output: a safetensors file holding `embeddings` [N, 192], the interpreter's raw (not
normalised) outputs for the chips, input (rgb - 127.5) / 128, run with TFLite's built-in
kernels (no XNNPACK delegate). Usage (the venv of tools/convert_mobilefacenet.py, plus pillow):

    /work/venvs/mfn/venv/bin/pip install pillow
    /work/venvs/mfn/venv/bin/python tools/mobilefacenet_reference.py \
        /work/venvs/mfn/package/android/src/main/assets/MobileFaceNet.tflite \
        tests/data/mobilefacenet_chips.webp tests/data/mobilefacenet_reference.safetensors

A second mode embeds a folder of chip PNGs (for many faces of the shared research data; never
commit its output):

    python tools/mobilefacenet_reference.py MODEL --folder DIR OUT.safetensors
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from convert_mobilefacenet import SOURCE_SHA256, write_safetensors  # noqa: E402

CHIP = 112


def chips_from_sheet(path):
    sheet = np.asarray(Image.open(path).convert("RGB"))
    rows, cols = sheet.shape[0] // CHIP, sheet.shape[1] // CHIP
    chips = []
    for r in range(rows):
        for c in range(cols):
            tile = sheet[r * CHIP:(r + 1) * CHIP, c * CHIP:(c + 1) * CHIP]
            if not tile.any():
                return chips
            chips.append(tile)
    return chips


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[1] == "--folder":
        model, out = Path(args[0]), Path(args[3])
        files = sorted(Path(args[2]).glob("*.png"))
        chips = [np.asarray(Image.open(f).convert("RGB")) for f in files]
        names = [f.name for f in files]
    elif len(args) == 3:
        model, sheet, out = Path(args[0]), Path(args[1]), Path(args[2])
        chips = chips_from_sheet(sheet)
        names = [f"{i}" for i in range(len(chips))]
    else:
        sys.exit(__doc__)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        sys.exit(f"{model} has sha256 {digest}, not {SOURCE_SHA256}")
    it = Interpreter(
        model_path=str(model),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outp = it.get_output_details()[0]
    batch = int(inp["shape"][0])  # the graph's batch is fixed (2)
    embeddings = []
    for start in range(0, len(chips), batch):
        group = chips[start:start + batch]
        x = np.zeros((batch, CHIP, CHIP, 3), np.float32)
        for i, c in enumerate(group):
            if c.shape != (CHIP, CHIP, 3):
                sys.exit(f"chip {names[start + i]} is {c.shape}, not 112x112 RGB")
            x[i] = (c.astype(np.float32) - 127.5) / 128.0
        it.set_tensor(inp["index"], x)
        it.invoke()
        embeddings.extend(np.array(it.get_tensor(outp["index"]))[: len(group)])
    emb = np.stack(embeddings).astype(np.float32)
    write_safetensors(
        out,
        {"embeddings": emb},
        {
            "source_sha256": digest,
            "interpreter": "ai-edge-litert 2.3.0, built-in kernels",
            "chips": json.dumps(names),
        },
    )
    print(f"{len(chips)} chips -> {out}")


if __name__ == "__main__":
    main()
