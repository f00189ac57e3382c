#!/usr/bin/env python3
"""Times the dlib/face_recognition anchor on the same 640x480 frame `rollcall bench faces` uses
(the top 4:3 band of assets/demo/obama.jpg, centred, resized to 640x480), so the two can be
compared in one run on one machine:

    cargo run --release -- bench faces --anchor-python /path/to/venv/bin/python

Needs a venv with dlib-bin, face-recognition-models, numpy and pillow (the anchor's venv).
One thread, as the anchor measures. Prints one JSON object of median milliseconds.
"""
import os

os.environ["OMP_NUM_THREADS"] = "1"

import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import dlib  # noqa: E402
import face_recognition_models as frm  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

photo = sys.argv[1] if len(sys.argv) > 1 else "assets/demo/obama.jpg"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
img = Image.open(photo).convert("RGB")
w, h = img.size
cw, ch = (h * 4 // 3, h) if w * 3 > h * 4 else (w, w * 3 // 4)
frame = np.asarray(img.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, ch)).resize((640, 480), Image.BILINEAR))

det = dlib.get_frontal_face_detector()
sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
enc = dlib.face_recognition_model_v1(frm.face_recognition_model_location())


def median_ms(f):
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


out = {
    "hog_upsample0_ms": median_ms(lambda: det(frame, 0)),
    "hog_upsample1_ms": median_ms(lambda: det(frame, 1)),
}
faces = det(frame, 1) or det(frame, 0)
if faces:
    shape = sp(frame, faces[0])
    out["align_ms"] = median_ms(
        lambda: dlib.get_face_chip(frame, sp(frame, faces[0]), size=150, padding=0.25))
    out["encode_ms"] = median_ms(lambda: enc.compute_face_descriptor(frame, shape))
out["faces"] = len(faces)
print(json.dumps(out))
