#!/usr/bin/env python3
"""Step 1 of tools/fit_dlib_rect.py: MTCNN (facenet-pytorch) boxes and landmarks of 600 LFW
training-identity photos -> mt_train.json. Run with a venv that has facenet-pytorch, torch, pillow."""
import csv, json, random
from PIL import Image
from facenet_pytorch import MTCNN
import torch
torch.set_num_threads(1)
root='../shared/data/faces/'
rows=[r for r in csv.DictReader(open(root+'lfw/manifest.csv')) if r['split']=='train']
random.Random(5).shuffle(rows)
m=MTCNN(keep_all=True, device='cpu')
out={}
for r in rows[:600]:
    p=r['path']; img=Image.open(root+p).convert('RGB')
    boxes, probs, lms = m.detect(img, landmarks=True)
    if boxes is None: continue
    W,H=img.size
    def vis(b): return max(0,min(b[2],W)-max(b[0],0))*max(0,min(b[3],H)-max(b[1],0))
    i=max(range(len(boxes)), key=lambda k: vis(boxes[k]))
    out[p]={'box':[float(x) for x in boxes[i]], 'lm':[[float(x) for x in q] for q in lms[i]]}
json.dump(out, open('mt_train.json','w')); print(len(out))
