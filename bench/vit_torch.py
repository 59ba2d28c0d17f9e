#!/usr/bin/env python3
"""Plain PyTorch ViT of exactly sigtrain's vision model and step, for the side-by-side images/s comparison.

Same shapes and options as configs/vision/vit_base.yaml + imagenet_vit_b16.yaml (pre-norm, LayerNorm with biases,
QK-norm over the head dim, GELU MLP, learned positions, CLS pooling, softmax attention through
F.scaled_dot_product_attention), bf16 autocast with fp32 master weights, fused AdamW, the same global batch. Data:
random images on the GPU (the number measured is the model step, as in sigtrain's throughput runs, whose loader
runs in worker threads ahead of the GPU).

  python3 bench/vit_torch.py --mode eager --steps 30 --batch 256 --image 224 --patch 16
  python3 bench/vit_torch.py --mode compile ...
Prints one line: mode, images/s, step ms, peak memory GiB.
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.LayerNorm(d // heads)
        self.k_norm = nn.LayerNorm(d // heads)
        self.out = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d_ff)
        self.proj = nn.Linear(d_ff, d)

    def forward(self, x):
        B, T, d = x.shape
        qkv = self.qkv(self.norm1(x)).view(B, T, 3, self.heads, d // self.heads)
        q, k, v = qkv.unbind(2)
        q, k = self.q_norm(q), self.k_norm(k)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + self.out(o.transpose(1, 2).reshape(B, T, d))
        return x + self.proj(F.gelu(self.fc(self.norm2(x)), approximate="tanh"))


class ViT(nn.Module):
    def __init__(self, image, patch, channels, d, layers, heads, d_ff, classes):
        super().__init__()
        self.patch = patch
        n = (image // patch) ** 2
        self.patch_embed = nn.Linear(channels * patch * patch, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, heads, d_ff) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch
        x = images.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
        x = torch.cat([self.cls_token.expand(B, -1, -1), self.patch_embed(x)], 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--micro", type=int, default=256)
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--d-ff", type=int, default=3072)
    ap.add_argument("--classes", type=int, default=1000)
    a = ap.parse_args()
    torch.manual_seed(0)
    dev = torch.device("cuda")
    model = ViT(a.image, a.patch, a.channels, a.d, a.layers, a.heads, a.d_ff, a.classes).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True)
    fwd = torch.compile(model) if a.mode == "compile" else model
    images = torch.randn(a.micro, a.channels, a.image, a.image, device=dev)
    labels = torch.randint(0, a.classes, (a.micro,), device=dev)
    accum = a.batch // a.micro

    def step():
        opt.zero_grad(set_to_none=True)
        for _ in range(accum):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = F.cross_entropy(fwd(images).float(), labels, label_smoothing=0.1)
            (loss / accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print(f"pytorch-{a.mode} {a.batch / dt:.0f} img/s {dt * 1e3:.1f} ms/step "
          f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB", flush=True)


if __name__ == "__main__":
    main()
