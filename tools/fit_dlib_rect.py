#!/usr/bin/env python3
"""Fits the mapping from an MTCNN detection (box + 5 landmarks) to the square box dlib's HOG
detector gives for the same face, used by rollcall's `pipeline::dlib_rect` so dlib's shape
predictor sees the kind of box it was trained on.

Data: 600 photos of LFW *training* identities (../shared/data/faces/lfw, split=train), seeded.
  1. /work/venvs/mtcnn/bin/python tools/fit_dlib_rect_mtcnn.py   -> mt_train.json (facenet-pytorch MTCNN)
  2. this script, in a venv with dlib-bin + face-recognition-models + pillow + numpy:
     python tools/fit_dlib_rect.py   (reads mt_train.json, writes the coefficients)
Every term is relative to the MTCNN box (no absolute positions), so the fit transfers.
"""
import json

import dlib
import numpy as np
from PIL import Image

ROOT = "../shared/data/faces/"
mt = json.load(open("mt_train.json"))
det = dlib.get_frontal_face_detector()
xs, ys, ss, tx, ty, ts = [], [], [], [], [], []
for path, m in sorted(mt.items()):
    img = np.array(Image.open(ROOT + path).convert("RGB"))
    found = det(img, 1)
    if not found:
        continue
    r = max(found, key=lambda r: r.width() * r.height())
    b, lm = m["box"], np.array(m["lm"])
    w, h, cx, cy = b[2] - b[0], b[3] - b[1], (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    eye, mouth, nose = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2, lm[2]
    rcx, rcy, rs = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2, r.right() - r.left() + 1
    if abs(rcx - cx) > 0.5 * w or abs(rcy - cy) > 0.5 * h:
        continue  # the two detectors found different faces
    xs.append([w, nose[0] - cx, eye[0] - cx, mouth[0] - cx]); tx.append(rcx - cx)
    ys.append([h, eye[1] - cy, mouth[1] - cy, nose[1] - cy]); ty.append(rcy - cy)
    ss.append([w, h, np.linalg.norm(lm[1] - lm[0]), np.linalg.norm(mouth - eye)]); ts.append(rs)
for name, x, t in (("x", xs, tx), ("y", ys, ty), ("side", ss, ts)):
    coef = np.linalg.lstsq(np.array(x), np.array(t), rcond=None)[0]
    print(name, [round(float(v), 4) for v in coef], f"({len(x)} faces)")
