#!/usr/bin/env python3
"""Converts facenet-pytorch's MTCNN weights (legacy, non-zip PyTorch pickles) to safetensors.

facenet-pytorch 2.6.0 ships ``facenet_pytorch/data/{pnet,rnet,onet}.pt``: state dicts written by
an old ``torch.save`` in the legacy format (a magic-number pickle, a protocol pickle, a sys-info
pickle, the state-dict pickle whose tensors point at storages by persistent id, a pickle of the
storage keys, then each storage as a little-endian int64 element count followed by its raw
bytes). candle reads only the zip format, so this script reads the legacy format itself, with the
standard library and numpy only (no torch), and writes one safetensors file per net whose keys
are the PyTorch state-dict keys (``conv1.weight``, ``prelu1.weight``, ``dense4.bias``, ...).

Usage (the exact command behind assets/models/mtcnn/):

    pip download facenet-pytorch==2.6.0 --no-deps -d /work/venvs/dl
    python3 -m venv /work/venvs/mtcnn && /work/venvs/mtcnn/bin/pip install "numpy<2"
    /work/venvs/mtcnn/bin/python tools/convert_mtcnn.py \
        /work/venvs/dl/facenet_pytorch-2.6.0-py3-none-any.whl assets/models/mtcnn

The first argument may also be a folder holding pnet.pt, rnet.pt and onet.pt.
"""

import hashlib
import io
import json
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
NETS = ("pnet", "rnet", "onet")
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class StorageType:
    """Stands for a torch.*Storage class named in the pickle."""

    def __init__(self, name):
        if name not in STORAGE_DTYPES:
            raise ValueError(f"unsupported storage type torch.{name}")
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


class LazyStorage:
    """A storage whose bytes follow the pickles; filled in after the state dict is read."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.array = None


class LazyTensor:
    """A tensor view (offset, size, stride) of a storage, materialised once storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)

    def materialise(self):
        flat = self.storage.array
        if flat is None:
            raise ValueError("a tensor refers to a storage that was never read")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
        )
        return np.ascontiguousarray(view)


def rebuild_tensor_v2(storage, offset, size, stride, *_rest):
    return LazyTensor(storage, offset, size, stride)


def rebuild_parameter(data, *_rest):
    return data


class StateDictUnpickler(pickle.Unpickler):
    """Allows only the handful of globals a state dict needs; anything else is refused."""

    def __init__(self, file, storages):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return rebuild_parameter
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = LazyStorage(storage_type.dtype, numel)
        return self.storages[key]


def load_legacy(data):
    """Reads a legacy torch.save file (bytes) into an ordered dict of numpy arrays."""
    f = io.BytesIO(data)
    plain = pickle.Unpickler(f)
    if plain.load() != LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch file (bad magic number)")
    protocol = pickle.Unpickler(f).load()
    if protocol != 1001:
        raise ValueError(f"unsupported legacy protocol {protocol}")
    sys_info = pickle.Unpickler(f).load()
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian files are not supported")
    storages = {}
    state = StateDictUnpickler(f, storages).load()
    keys = pickle.Unpickler(f).load()
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != storage.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {storage.numel} expected")
        nbytes = numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise ValueError(f"storage {key} is truncated")
        storage.array = np.frombuffer(raw, dtype=storage.dtype)
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")
    return OrderedDict((k, v.materialise()) for k, v in state.items())


SAFETENSORS_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<f2"): "F16"}


def write_safetensors(path, tensors, metadata):
    """Writes numpy arrays as a safetensors file (8-byte header length, JSON header, data)."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<")))
        blob = array.tobytes()
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(head)))
        out.write(head)
        for blob in blobs:
            out.write(blob)


def read_inputs(source):
    """Returns {net: bytes} from a facenet-pytorch wheel or a folder of .pt files."""
    source = Path(source)
    if source.is_dir():
        return {net: (source / f"{net}.pt").read_bytes() for net in NETS}
    with zipfile.ZipFile(source) as wheel:
        return {net: wheel.read(f"facenet_pytorch/data/{net}.pt") for net in NETS}


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, out_dir = argv[1], Path(argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    for net, data in read_inputs(source).items():
        tensors = load_legacy(data)
        sha = hashlib.sha256(data).hexdigest()
        metadata = {
            "source": f"facenet-pytorch 2.6.0 facenet_pytorch/data/{net}.pt",
            "source_sha256": sha,
            "converter": "tools/convert_mtcnn.py",
        }
        target = out_dir / f"{net}.safetensors"
        write_safetensors(target, tensors, metadata)
        count = sum(int(a.size) for a in tensors.values())
        print(f"{net}.pt sha256 {sha} -> {target} ({len(tensors)} tensors, {count} weights)")
        for name, array in tensors.items():
            print(f"  {name:16} {list(array.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
