#!/usr/bin/env python3
"""Reference MTCNN detections from the real facenet-pytorch, for rollcall's parity tests.

Runs facenet-pytorch 2.6.0's ``MTCNN.detect`` (default settings: min face 20 px, thresholds
0.6/0.7/0.7, factor 0.709; ``select_largest=False`` so faces come sorted by score, as
``rollcall::vision::mtcnn::Mtcnn::detect`` returns them) on each image and prints, per image,
its size, a SHA-256 of its decoded RGB pixels (so a test can tell whether the Rust decoder gave
the very same pixels), and every face as x1 y1 x2 y2, score and the five landmarks.

Images are opened with Pillow with the EXIF orientation applied, like rollcall's image_io.
A path ending in ``.rgb`` is raw 8-bit RGB whose size is given in its name (``name.WxH.rgb``),
for feeding the exact pixels another decoder produced.

Setup and the command behind the numbers pinned in src/vision/mtcnn/tests.rs:

    python3 -m venv /work/venvs/mtcnn
    /work/venvs/mtcnn/bin/pip install "torch==2.2.2" "torchvision==0.17.2" "numpy<2" \
        "pillow>=10.2,<10.3" requests tqdm
    /work/venvs/mtcnn/bin/pip install --no-deps facenet-pytorch==2.6.0
    /work/venvs/mtcnn/bin/python tools/mtcnn_reference.py assets/demo/*.jpg \
        ../shared/data/faces/faceapi_demo_scenes/_unlabelled/sample1.jpg \
        ../shared/data/faces/lfw/Aaron_Sorkin/Aaron_Sorkin_0001.jpg

With ``--time`` it also times facenet-pytorch's ``detect`` on the first image (torch on the CPU
with its default threads), for comparison with rollcall's own timing; give it the 640x480
``webcam_frame`` dump to time the frame rollcall's timing test uses.
"""

import hashlib
import re
import sys
import time

import numpy as np
import torch
from facenet_pytorch import MTCNN
from PIL import Image, ImageOps


def load(path):
    match = re.search(r"\.(\d+)x(\d+)\.rgb$", path)
    if match:
        w, h = int(match.group(1)), int(match.group(2))
        data = open(path, "rb").read()
        return Image.frombytes("RGB", (w, h), data)
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def main(argv):
    timing = "--time" in argv
    paths = [a for a in argv[1:] if a != "--time"]
    mtcnn = MTCNN(keep_all=True, select_largest=False, device="cpu")
    for path in paths:
        img = load(path)
        pixels = np.asarray(img, dtype=np.uint8)
        sha = hashlib.sha256(pixels.tobytes()).hexdigest()
        boxes, probs, points = mtcnn.detect(img, landmarks=True)
        print(f"{path}: {img.size[0]}x{img.size[1]} rgb-sha256 {sha}")
        if boxes is None:
            print("  no faces")
            continue
        for box, prob, pts in zip(boxes, probs, points):
            coords = " ".join(f"{v:.4f}" for v in box)
            marks = " ".join(f"({x:.4f}, {y:.4f})" for x, y in pts)
            print(f"  box {coords} score {prob:.7f} landmarks {marks}")
    if timing and paths:
        frame = load(paths[0])
        mtcnn.detect(frame)
        runs = 20
        start = time.perf_counter()
        for _ in range(runs):
            mtcnn.detect(frame)
        ms = (time.perf_counter() - start) / runs * 1000
        print(f"facenet-pytorch detect on {paths[0]} ({frame.size[0]}x{frame.size[1]}): {ms:.1f} ms, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
