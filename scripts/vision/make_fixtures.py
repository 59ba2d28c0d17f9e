#!/usr/bin/python3
"""Writes the vision test fixtures in tests/fixtures/vision/ (run from the repository root with Debian's python3,
which has python3-numpy and python3-pil: /usr/bin/python3 scripts/vision/make_fixtures.py).

  fashion-mnist/   the first 64 train and 32 test images + labels of Fashion-MNIST (Debian dataset-fashion-mnist,
                   MIT), gzip'd IDX exactly as the originals but with the counts cut (gzip mtime 0: reproducible)
  cifar10/         generated CIFAR-10 binary files: data_batch_1..5.bin (2 records each), test_batch.bin (3 records),
                   batches.meta.txt (the real CIFAR-10 class names); pixel = (31 r + 67 c + 5 y + 3 x) mod 256 for
                   record r (counted over the split), channel c, row y, column x; label = (r * 3) mod 10
  cifar100/        generated CIFAR-100 binary files: train.bin (4 records), test.bin (2 records), fine_label_names.txt
                   (fine_00 .. fine_99; no coarse names file, so coarse names fall back to numbers); same pixel
                   formula; coarse = r mod 20, fine = (7 r + 3) mod 100
  folder/          an ImageNet-style tree made from the Fashion-MNIST slice: PNG (8-bit gray, RGBA, 16-bit gray,
                   palette) and JPEG (gray, RGB, quality 90), one file in a sub-folder, a non-image file and a hidden
                   file that the reader must skip
  photo/           chelsea.jpg, a real photo (Chelsea the cat, CC0) cut to 300x300 and resized to 94x94 RGB, JPEG
                   quality 90 (baseline); the source is scikit-image's data/chelsea.png from Debian python3-skimage
                   0.19.3-8, which need not be installed: apt-get download python3-skimage && dpkg -x *.deb /tmp/skimage,
                   then SKIMAGE_DATA=/tmp/skimage/usr/lib/python3/dist-packages/skimage/data
  expected.json    what PIL decodes from every JPEG (libjpeg-turbo, the same library the C++ reader uses): size,
                   mode, pixel sum, first pixels, and the sums after PIL's convert("L") / convert("RGB")
"""
import gzip
import json
import os
import shutil
import struct

import numpy as np
from PIL import Image

SRC = "/usr/share/datasets/fashion-mnist"
SKIMAGE_DATA = os.environ.get("SKIMAGE_DATA", "/usr/lib/python3/dist-packages/skimage/data")
OUT = "tests/fixtures/vision"
N_TRAIN, N_TEST = 64, 32


def gz_write(path, data):
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(data)


def idx_slice(prefix, n):
    images = gzip.open(f"{SRC}/{prefix}-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{SRC}/{prefix}-labels-idx1-ubyte.gz").read()
    magic, _, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 0x803 and (rows, cols) == (28, 28)
    os.makedirs(f"{OUT}/fashion-mnist", exist_ok=True)
    gz_write(f"{OUT}/fashion-mnist/{prefix}-images-idx3-ubyte.gz",
             struct.pack(">IIII", 0x803, n, rows, cols) + images[16:16 + n * rows * cols])
    gz_write(f"{OUT}/fashion-mnist/{prefix}-labels-idx1-ubyte.gz", struct.pack(">II", 0x801, n) + labels[8:8 + n])
    pix = np.frombuffer(images[16:16 + n * rows * cols], np.uint8).reshape(n, rows, cols)
    return pix, np.frombuffer(labels[8:8 + n], np.uint8)


def cifar_records(first, count, label_bytes):
    out = bytearray()
    for r in range(first, first + count):
        out += bytes(label_bytes(r))
        c, y, x = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
        out += ((31 * r + 67 * c + 5 * y + 3 * x) % 256).astype(np.uint8).tobytes()
    return bytes(out)


def write_cifar():
    d = f"{OUT}/cifar10"
    os.makedirs(d, exist_ok=True)
    for i in range(5):
        with open(f"{d}/data_batch_{i + 1}.bin", "wb") as f:
            f.write(cifar_records(2 * i, 2, lambda r: [(r * 3) % 10]))
    with open(f"{d}/test_batch.bin", "wb") as f:
        f.write(cifar_records(0, 3, lambda r: [(r * 3) % 10]))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(f"{d}/batches.meta.txt", "w") as f:
        f.write("\n".join(names) + "\n\n")  # the real file ends with blank lines too
    d = f"{OUT}/cifar100"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/train.bin", "wb") as f:
        f.write(cifar_records(0, 4, lambda r: [r % 20, (7 * r + 3) % 100]))
    with open(f"{d}/test.bin", "wb") as f:
        f.write(cifar_records(0, 2, lambda r: [r % 20, (7 * r + 3) % 100]))
    with open(f"{d}/fine_label_names.txt", "w") as f:
        f.write("".join(f"fine_{i:02d}\n" for i in range(100)))


def jpeg_facts(path):
    img = Image.open(path)
    a = np.asarray(img)
    return {"height": img.height, "width": img.width, "mode": img.mode, "sum": int(a.astype(np.int64).sum()),
            "first": a.reshape(-1)[:12].tolist(),
            "sum_L": int(np.asarray(img.convert("L")).astype(np.int64).sum()),
            "sum_RGB": int(np.asarray(img.convert("RGB")).astype(np.int64).sum())}


def write_folder(train, test):
    root = f"{OUT}/folder"
    shutil.rmtree(root, ignore_errors=True)
    (tp, tl), (vp, vl) = train, test
    assert [tl[i] for i in (23, 35, 57)] == [8, 8, 8] and [tl[i] for i in (0, 11, 15)] == [9, 9, 9]
    assert [tl[i] for i in (19, 22)] == [4, 4] and (vl[18], vl[0], vl[6]) == (8, 9, 4)
    for sub in ["train/Bag", "train/ankle_boot/sub", "train/coat", "val/Bag", "val/ankle_boot", "val/coat"]:
        os.makedirs(f"{root}/{sub}", exist_ok=True)
    g = lambda i: tp[i]
    Image.fromarray(g(23), "L").save(f"{root}/train/Bag/train_00023.png")
    rgba = np.stack([g(35), g(35), g(35), 255 - g(35)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(f"{root}/train/Bag/train_00035.PNG")
    Image.fromarray(g(57).astype(np.uint16) * 257).save(f"{root}/train/Bag/train_00057.png")  # 16-bit gray
    Image.fromarray(g(0), "L").save(f"{root}/train/ankle_boot/train_00000.jpg", quality=90)
    color = np.stack([g(11), 255 - g(11), g(11) // 2], axis=-1)
    Image.fromarray(color, "RGB").save(f"{root}/train/ankle_boot/train_00011.JPEG", quality=90)
    Image.fromarray(g(15), "L").save(f"{root}/train/ankle_boot/sub/train_00015.jpeg", quality=90)
    Image.fromarray(g(19), "L").convert("P").save(f"{root}/train/coat/train_00019.png")  # palette PNG
    Image.fromarray(g(22), "L").save(f"{root}/train/coat/train_00022.jpg", quality=90)
    with open(f"{root}/train/coat/notes.txt", "w") as f:
        f.write("not an image: the reader ignores it\n")
    with open(f"{root}/train/coat/.hidden.png", "w") as f:
        f.write("hidden and not a PNG: the reader skips it\n")
    Image.fromarray(vp[18], "L").save(f"{root}/val/Bag/t10k_00018.png")
    Image.fromarray(vp[0], "L").save(f"{root}/val/ankle_boot/t10k_00000.jpg", quality=90)
    Image.fromarray(vp[6], "L").save(f"{root}/val/coat/t10k_00006.png")
    os.makedirs(f"{OUT}/photo", exist_ok=True)
    # "Chelsea the cat ... No copyright restrictions. CC0 by the photographer (Stefan van der Walt)." (skimage.data)
    cat = Image.open(f"{SKIMAGE_DATA}/chelsea.png").convert("RGB")  # 451 x 300 (w x h)
    cat.crop((75, 0, 375, 300)).resize((94, 94), Image.LANCZOS).save(f"{OUT}/photo/chelsea.jpg", quality=90)
    jpegs = ["folder/train/ankle_boot/train_00000.jpg", "folder/train/ankle_boot/train_00011.JPEG",
             "folder/train/ankle_boot/sub/train_00015.jpeg", "folder/train/coat/train_00022.jpg",
             "folder/val/ankle_boot/t10k_00000.jpg", "photo/chelsea.jpg"]
    facts = {p: jpeg_facts(f"{OUT}/{p}") for p in jpegs}
    facts["fashion-mnist"] = {
        "train_image0_sum": int(tp[0].astype(np.int64).sum()), "train_image0_row14": tp[0][14].tolist(),
        "t10k_image0_sum": int(vp[0].astype(np.int64).sum()), "t10k_image0_row20": vp[0][20].tolist(),
        "train_labels": tl.tolist(), "t10k_labels": vl.tolist()}
    with open(f"{OUT}/expected.json", "w") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    train, test = idx_slice("train", N_TRAIN), idx_slice("t10k", N_TEST)
    write_cifar()
    write_folder(train, test)
    print("wrote", OUT)
