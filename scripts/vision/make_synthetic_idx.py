#!/usr/bin/env python3
"""Writes random grey images of any size as an IDX data set (train + t10k files) for throughput runs: the data
loader then reads from memory and the number measured is the model step. Not for accuracy.

  python3 scripts/vision/make_synthetic_idx.py OUT_DIR --size 224 --train 2048 --test 512
IDX labels are bytes: 256 classes (set model.vision.num_classes for a larger head).
"""
import argparse
import os
import random
import struct


def write(path, magic, dims, payload):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims))
        f.write(payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--train", type=int, default=2048)
    ap.add_argument("--test", type=int, default=512)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(0)
    for prefix, n in (("train", a.train), ("t10k", a.test)):
        write(os.path.join(a.out, f"{prefix}-images-idx3-ubyte"), 0x803, (n, a.size, a.size),
              rng.randbytes(n * a.size * a.size))
        labels = bytes(i % 256 for i in range(n))  # every class appears (the reader counts them from the labels)
        write(os.path.join(a.out, f"{prefix}-labels-idx1-ubyte"), 0x801, (n,), labels)


if __name__ == "__main__":
    main()
