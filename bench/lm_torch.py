#!/usr/bin/env python3
"""Plain PyTorch programs of exactly sigtrain's token models and training step, for the side-by-side speed table
(issue 14; scripts/device/speed_side_by_side.sh runs them beside `sigtrain train` in one device call).

Models (the shapes of the sigtrain configs named):
  gpt2      configs/lm/gpt2_small.yaml: decoder, 12 x 768, 12 heads, learned positions, LayerNorm with biases,
            GELU(tanh) MLP 4d, tied 50304-id head, T 1024, next-token loss over every position.
  stress    configs/stress/paper.yaml: bidirectional encoder, 12 x 1024, 16 heads, RoPE, same blocks, tied
            8193-id head, T 8192, masked-token loss (15 % of positions; logits for all, as sigtrain computes them).
  cell      configs/singlecell/pbmc68k.yaml: encoder 4 x 256, 4 heads, no positions, expression values through
            a Linear(1,d)-GELU-Linear(d,d) added to the gene embedding, bin classifier = the first 51 rows of the
            tied embedding, T 512 (every cell padded to max_len; sigtrain's tokens/s counts the same padded slots).
The step is sigtrain's: bf16 autocast with fp32 master weights, loss in fp32 (sum / count), backward, global
grad norm clipped at 1.0 (gpt2, cell; the stress recipe measures it but does not clip), fused AdamW (betas and
weight decay as the configs; decay on matrices only). Init: truncated normal std 0.02, residual projections
0.02 / sqrt(2 L). Data: random token ids on the GPU (the number measured is the model step; sigtrain's loader
prepares batches on the host ahead of it).

Attention: softmax through F.scaled_dot_product_attention (flash/cuDNN), sigmoid as PyTorch users write it
(materialised P = sigmoid(QK^T scale - log n), b = -log(valid keys), masked), which torch.compile may fuse.

  python3 bench/lm_torch.py --model gpt2 --mode compile --attention softmax --steps 30
Prints one JSON line: model, mode, attention, tokens_per_s, mfu_pct, step_ms, peak_mem_gib, final_loss.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = {
    "gpt2": dict(causal=True, layers=12, d=768, heads=12, vocab=50304, T=1024, batch=16, positions="learned",
                 loss="all", betas=(0.9, 0.95), wd=0.1, clip=1.0, values=False, classes=0),
    "stress": dict(causal=False, layers=12, d=1024, heads=16, vocab=8193, T=8192, batch=1, positions="rope",
                   loss="masked", betas=(0.9, 0.98), wd=0.01, clip=None, values=False, classes=0),
    "cell": dict(causal=False, layers=4, d=256, heads=4, vocab=770, T=512, batch=32, positions="none",
                 loss="masked", betas=(0.9, 0.98), wd=0.01, clip=1.0, values=True, classes=51),
}


def trunc_normal(t, std):
    nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


def rope_tables(T, head_dim, device, theta=10000.0):
    half = head_dim // 2
    inv = theta ** (-torch.arange(half, dtype=torch.float64) * 2.0 / head_dim)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    return ang.cos().float().to(device), ang.sin().float().to(device)


def apply_rope(x, cos, sin):  # x [B, T, H, D]; sigtrain's Rope::apply (halves, not interleaved)
    half = x.shape[-1] // 2
    c = cos[: x.shape[1]].view(1, x.shape[1], 1, half).to(x.dtype)
    s = sin[: x.shape[1]].view(1, x.shape[1], 1, half).to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], -1)


def sigmoid_attention(q, k, v, causal):  # [B, H, T, D]; b = -log(valid keys) per query row
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if causal:
        rows = torch.arange(T, device=q.device)
        s = s - torch.log1p(rows.to(s.dtype)).view(T, 1)
        s = s.masked_fill(rows.view(1, T) > rows.view(T, 1), float("-inf"))
    else:
        s = s - math.log(T)
    return torch.sigmoid(s) @ v


class Block(nn.Module):
    def __init__(self, cfg, attention, residual_std):
        super().__init__()
        d, self.heads, self.causal, self.attention = cfg["d"], cfg["heads"], cfg["causal"], attention
        self.attn_norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.mlp_norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)
        for lin, std in ((self.qkv, 0.02), (self.out, residual_std), (self.fc, 0.02), (self.proj, residual_std)):
            trunc_normal(lin.weight, std)
            nn.init.zeros_(lin.bias)

    def forward(self, x, rope):
        B, T, d = x.shape
        qkv = self.qkv(self.attn_norm(x)).view(B, T, 3, self.heads, d // self.heads)
        q, k, v = qkv.unbind(2)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.attention == "softmax":
            o = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        else:
            o = sigmoid_attention(q, k, v, self.causal)
        x = x + self.out(o.transpose(1, 2).reshape(B, T, d))
        return x + self.proj(F.gelu(self.fc(self.mlp_norm(x)), approximate="tanh"))


class TokenModel(nn.Module):
    def __init__(self, cfg, attention):
        super().__init__()
        self.cfg = cfg
        d = cfg["d"]
        self.tok_embed = nn.Embedding(cfg["vocab"], d)
        trunc_normal(self.tok_embed.weight, 0.02)
        if cfg["positions"] == "learned":
            self.pos_embed = nn.Parameter(torch.empty(cfg["T"], d))
            trunc_normal(self.pos_embed, 0.02)
        if cfg["values"]:
            self.value_fc, self.value_proj = nn.Linear(1, d), nn.Linear(d, d)
            for lin in (self.value_fc, self.value_proj):
                trunc_normal(lin.weight, 0.02)
                nn.init.zeros_(lin.bias)
        residual_std = 0.02 / math.sqrt(2 * cfg["layers"])
        self.blocks = nn.ModuleList(Block(cfg, attention, residual_std) for _ in range(cfg["layers"]))
        self.final_norm = nn.LayerNorm(d)
        self.rope = None

    def forward(self, tokens, values):
        x = self.tok_embed(tokens)
        if self.cfg["positions"] == "learned":
            x = x + self.pos_embed[: tokens.shape[1]].unsqueeze(0)
        if values is not None:
            x = x + self.value_proj(F.gelu(self.value_fc(values.to(x.dtype).unsqueeze(-1))))
        for block in self.blocks:
            x = block(x, self.rope)
        h = self.final_norm(x)
        w = self.tok_embed.weight if not self.cfg["classes"] else self.tok_embed.weight[: self.cfg["classes"]]
        return F.linear(h, w)


def flops_per_token(model, cfg):  # sigtrain's Model::flops_per_token: 6 N + 12 L d T (halved when causal)
    n = sum(p.numel() for p in model.parameters())
    attn = 12.0 * cfg["layers"] * cfg["d"] * cfg["T"] * (0.5 if cfg["causal"] else 1.0)
    return 6.0 * n + attn


CATEGORIES = [  # first match wins, as in trainer/instruments/step_profiler.cpp
    ("attention", ("sigmoid_attention", "flash", "fmha", "cudnn", "attention", "sdpa")),
    ("loss", ("cross_entropy", "log_softmax", "softmax", "nll_loss")),
    ("optimizer", ("adam",)),
    ("grad_norm", ("lpnorm",)),
    ("norm", ("layer_norm", "layernorm", "rms_norm", "rmsnorm", "rowwisemoments", "gammabeta", "norm_forward",
              "norm_backward", "norm_param_grad")),
    ("gemm", ("gemm", "gemv", "cutlass", "xmma", "nvjet", "cublas", "matmul", "splitk")),
    ("activation", ("gelu", "silu", "tanh")),
    ("triton (fused by inductor)", ("triton",)),
    ("embedding/index", ("embedding", "index", "gather", "scatter")),
    ("copy/fill", ("memcpy", "memset", "copy", "fill", "cast")),
    ("foreach", ("multi_tensor",)),
    ("reduce", ("reduce",)),
    ("elementwise", ("elementwise", "vectorized", "unrolled")),
]


def profile_steps(step, n, top=0):
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for i in range(n):
            step(i)
        torch.cuda.synchronize()
        wall_ms = 1000.0 * (time.perf_counter() - t0) / n
    totals, kernels, by_name = {}, 0, {}
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        name = e.name.lower()
        cat = next((c for c, keys in CATEGORIES if any(k in name for k in keys)), "other")
        totals[cat] = totals.get(cat, 0.0) + e.device_time / 1000.0 / n
        ms_calls = by_name.setdefault(e.name, [0.0, 0])
        ms_calls[0] += e.device_time / 1000.0 / n
        ms_calls[1] += 1
        kernels += 1
    print(f"profile: wall {wall_ms:.2f} ms/step, {kernels / n:.0f} GPU kernels/step", flush=True)
    for cat, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"profile: {cat:28s} {ms:8.2f} ms/step", flush=True)
    # The kernels one by one (ms/step, calls/step), as sigtrain's profile/summary.md lists them: GEMM against GEMM.
    for name, (ms, calls) in sorted(by_name.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"profile kernel: {ms:8.3f} ms/step {calls / n:6.1f} calls/step  {name[:110]}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="gpt2")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--attention", choices=["softmax", "sigmoid"], default="softmax")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batch", type=int, default=0, help="sequences per step (default: the model's)")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--profile", action="store_true",
                    help="also print GPU ms/step by kernel category over 5 steps (torch.profiler; the categories of "
                         "sigtrain's trainer/instruments/step_profiler.cpp)")
    ap.add_argument("--profile-top", type=int, default=40,
                    help="with --profile, also list this many kernels (memsets and copies included) by GPU time")
    args = ap.parse_args()

    cfg = dict(MODELS[args.model])
    if args.batch:
        cfg["batch"] = args.batch
    torch.manual_seed(1337)
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    model = TokenModel(cfg, args.attention).to(dev)
    if cfg["positions"] == "rope":
        model.rope = rope_tables(cfg["T"], cfg["d"] // cfg["heads"], dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["wd"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=cfg["betas"], eps=1e-8, fused=True)
    fpt = flops_per_token(model, cfg)
    B, T, V = cfg["batch"], cfg["T"], cfg["vocab"]
    classes = cfg["classes"] or V

    def step_fn(tokens, values, targets):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(tokens, values)
            loss_sum = F.cross_entropy(logits.float().view(-1, classes), targets.view(-1), ignore_index=-100,
                                       reduction="sum")
            loss = loss_sum / (targets != -100).sum().clamp_min(1)
        loss.backward()
        return loss

    fwd_bwd = torch.compile(step_fn) if args.mode == "compile" else step_fn
    params = list(model.parameters())

    def train_step(tokens, values, targets):
        opt.zero_grad(set_to_none=True)
        loss = fwd_bwd(tokens, values, targets)
        norm = torch.nn.utils.clip_grad_norm_(params, cfg["clip"] if cfg["clip"] else float("inf"), foreach=True)
        opt.step()
        return loss, norm

    g = torch.Generator(device=dev).manual_seed(0)

    def batch():
        tokens = torch.randint(0, V, (B, T), device=dev, generator=g)
        values = torch.rand((B, T), device=dev, generator=g) * 50 if cfg["values"] else None
        if cfg["loss"] == "all":
            targets = torch.randint(0, classes, (B, T), device=dev, generator=g)
        else:
            targets = torch.randint(0, classes, (B, T), device=dev, generator=g)
            targets = targets.masked_fill(torch.rand((B, T), device=dev, generator=g) >= 0.15, -100)
        return tokens, values, targets

    batches = [batch() for _ in range(4)]
    for i in range(args.warmup):
        train_step(*batches[i % 4])
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss, _ = train_step(*batches[i % 4])
    torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    tokens_per_s = args.steps * B * T / secs
    if args.profile:
        profile_steps(lambda i: train_step(*batches[i % 4]), 5, args.profile_top)
    print(json.dumps({
        "model": args.model, "mode": args.mode, "attention": args.attention, "tokens_per_s": round(tokens_per_s),
        "mfu_pct": round(100.0 * tokens_per_s * fpt / (args.peak_tflops * 1e12), 2),
        "step_ms": round(1000.0 * secs / args.steps, 2),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2), "final_loss": round(loss.item(), 4),
        "params": sum(p.numel() for p in params)}), flush=True)


if __name__ == "__main__":
    main()
