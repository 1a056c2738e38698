#!/usr/bin/env python3
"""Exports scikit-learn's bundled handwritten digits (UCI optdigits test set: 1,797 images of
8 x 8 pixels, values 0..16, CC BY 4.0) to Data/digits/digits.bin, the file the lab reads
(UNLab's DigitsDataset). Run once; the file is committed, nothing is downloaded at run time.

    pip install scikit-learn   # ships the data inside the package (sklearn/datasets/data/digits.csv.gz)
    python3 scripts/export_digits.py

Format (all integers little-endian):
    bytes 0..3   magic "UNDG"
    byte  4      format version (1)
    byte  5, 6   image rows, columns (8, 8)
    byte  7      largest pixel value (16)
    bytes 8..9   sample count N (uint16)
    bytes 10..11 training count (uint16): the first that many samples are the training split,
                 the rest the test split
    then N records of 1 label byte (0..9) followed by rows*columns pixel bytes, row-major.

The split is fixed: a permutation of the 1,797 samples by numpy's RandomState(0), the first
80% (round(0.8 * 1797) = 1,438) for training, the remaining 359 for testing.
"""
import pathlib
import struct

import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
images = digits.images.astype(np.uint8)  # (1797, 8, 8), integer values 0..16
labels = digits.target.astype(np.uint8)
assert images.shape == (1797, 8, 8) and np.all(digits.images == images) and images.max() == 16
order = np.random.RandomState(0).permutation(len(labels))
train = int(round(0.8 * len(labels)))

out = bytearray(b"UNDG")
out += struct.pack("<BBBBHH", 1, 8, 8, 16, len(labels), train)
for i in order:
    out.append(int(labels[i]))
    out += images[i].reshape(-1).tobytes()
path = pathlib.Path(__file__).resolve().parent.parent / "Data" / "digits" / "digits.bin"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_bytes(bytes(out))
print(f"wrote {path} ({len(out)} bytes: {train} training, {len(labels) - train} test samples)")
