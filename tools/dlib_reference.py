#!/usr/bin/env python3
"""Reference values from dlib itself for rollcall's port of dlib's face pipeline
(src/vision/dlib/): HOG face rectangles, 5-point landmarks, 150x150 face chips and 128-D
embeddings, as the face_recognition package computes them.

Run it in a throwaway virtualenv outside the repository (Python 3.11):

    python3 -m venv /work/venvs/dlib
    /work/venvs/dlib/bin/pip install dlib-bin numpy pillow 'setuptools<81' face-recognition-models
    /work/venvs/dlib/bin/pip install --no-deps face_recognition

Two modes:

  pins   the small JSON that rollcall's tests pin (public-domain demo photos only). JPEG
         decoders differ by a few levels here and there, so dlib is run on the pixels that
         rollcall decodes, written as PNG by an ignored test first:
         cargo test --test dlib_parity -- --ignored write_decoded_demo_images
         OMP_NUM_THREADS=1 /work/venvs/dlib/bin/python tools/dlib_reference.py pins \
             --decoded target/dlib-reference/decoded --out tests/data/dlib_reference.json
  bulk   many faces from the shared research data (never commit the output):
         OMP_NUM_THREADS=1 /work/venvs/dlib/bin/python tools/dlib_reference.py bulk \
             --faces ../shared/data/faces --out target/dlib-reference --lfw 300 --att 100

Per face it records: the HOG rectangle (largest face, upsample 1; the whole image when HOG finds
none), dlib's 5 points (sp(img, rect)), the FNV-1a 64 hash of the raw RGB bytes (row by row)
of dlib.get_face_chip(img, shape, 150, 0.25), the descriptor of that chip
(facerec.compute_face_descriptor(chip)), and "eyes_nose_mouth": eye centres, nose tip and mouth
corners from dlib's 68-point model, a stand-in for MTCNN's five points. In bulk mode the chips
and the decoded images are also written as PNG files next to faces.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

import dlib
import face_recognition_models as frm
import numpy as np
from PIL import Image

DEMO = ["assets/demo/obama.jpg", "assets/demo/biden.jpg", "assets/demo/obama2.jpg"]


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


class Pipeline:
    def __init__(self):
        self.detector = dlib.get_frontal_face_detector()
        self.sp5 = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self.sp68 = dlib.shape_predictor(frm.pose_predictor_model_location())
        self.facerec = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

    def face(self, img: np.ndarray) -> dict:
        rects = self.detector(img, 1)
        if len(rects) == 0:
            h, w = img.shape[:2]
            rect, found = dlib.rectangle(0, 0, w - 1, h - 1), False
        else:
            rect, found = max(rects, key=lambda r: r.width() * r.height()), True
        shape = self.sp5(img, rect)
        chip = dlib.get_face_chip(img, shape, 150, 0.25)
        emb = np.array(self.facerec.compute_face_descriptor(chip))
        s68 = self.sp68(img, rect)
        p68 = np.array([[p.x, p.y] for p in s68.parts()], dtype=np.float64)
        enm = [p68[36:42].mean(0), p68[42:48].mean(0), p68[30], p68[48], p68[54]]
        return {
            "hog_found": found,
            "rect": [rect.left(), rect.top(), rect.right(), rect.bottom()],
            "points": [[p.x, p.y] for p in shape.parts()],
            "chip_fnv1a64": fnv1a64(np.ascontiguousarray(chip).tobytes()),
            "embedding": [round(float(v), 6) for v in emb],
            "eyes_nose_mouth": [[round(float(x), 3), round(float(y), 3)] for x, y in enm],
            "_chip": chip,
        }


def load_rgb(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def pins(args):
    pipe = Pipeline()
    faces = []
    for rel in DEMO:
        src = Path(args.decoded) / (Path(rel).stem + ".png") if args.decoded else Path(rel)
        f = pipe.face(load_rgb(src))
        f.pop("_chip")
        faces.append({"image": rel, **f})
    out = {
        "made_by": "tools/dlib_reference.py pins",
        "dlib_version": dlib.__version__,
        "pixels": "rollcall's decoding" if args.decoded else "Pillow's decoding",
        "faces": faces,
    }
    # One line per field keeps the file short and readable.
    lines = [json.dumps({k: v for k, v in out.items() if k != "faces"})[:-1] + ', "faces": [']
    lines += [" " + json.dumps(f) + ("," if i + 1 < len(faces) else "") for i, f in enumerate(faces)]
    Path(args.out).write_text("\n".join(lines) + "\n]}\n")


def bulk(args):
    root = Path(args.faces)
    rows = []
    for name, count in (("lfw", args.lfw), ("att_faces", args.att)):
        manifest = list(csv.DictReader(open(root / name / "manifest.csv")))
        random.Random(20240917).shuffle(manifest)
        rows += [r["path"] for r in manifest[:count]]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline()
    faces = []
    for i, rel in enumerate(rows):
        img = load_rgb(root / rel)
        f = pipe.face(img)
        chip_name, img_name = f"chip_{i:04}.png", f"img_{i:04}.png"
        Image.fromarray(f.pop("_chip")).save(out / chip_name)
        Image.fromarray(img).save(out / img_name)
        faces.append({"image": rel, "decoded": img_name, "chip": chip_name, **f})
        if i % 50 == 0:
            print(f"{i}/{len(rows)}", file=sys.stderr)
    (out / "faces.json").write_text(json.dumps({
        "made_by": "tools/dlib_reference.py bulk",
        "dlib_version": dlib.__version__,
        "faces_dir": str(root),
        "faces": faces,
    }) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("pins")
    p.add_argument("--out", required=True)
    p.add_argument("--decoded", help="folder of PNGs holding rollcall's decoding of the photos")
    b = sub.add_parser("bulk")
    b.add_argument("--faces", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--lfw", type=int, default=300)
    b.add_argument("--att", type=int, default=100)
    a = ap.parse_args()
    pins(a) if a.mode == "pins" else bulk(a)
