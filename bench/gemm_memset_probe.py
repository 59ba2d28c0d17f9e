# Which GEMMs come with a `Memset (Device)` on this GPU: LibTorch's mm / addmm at GPT-2-small's shapes (B·T 16,384,
# d 768), deterministic algorithms off and on; one line per case with each GPU activity's count and mean µs per call.
# Used for docs/benchmarks.md ("cuBLASLt algorithms timed once per shape"): on an H100 with CUDA 13 each nvjet
# coopA / coopB GEMM came with one 0.8 µs memset, the split-K weight gradient with none.
#   python3 bench/gemm_memset_probe.py
import torch
from torch.profiler import profile, ProfilerActivity
dev = "cuda"
M, d = 16384, 768
bf = torch.bfloat16
x = torch.randn(M, d, device=dev, dtype=bf)
w = torch.randn(d, d, device=dev, dtype=bf)
w3 = torch.randn(3 * d, d, device=dev, dtype=bf)
b3 = torch.randn(3 * d, device=dev, dtype=bf)
dy = torch.randn(M, d, device=dev, dtype=bf)
cases = {
    "fwd x@Wt (TNT)": lambda: torch.mm(x, w.t()),
    "fwd addmm qkv": lambda: torch.addmm(b3, x, w3.t()),
    "dx dy@W (NNT)": lambda: torch.mm(dy, w),
    "dW dyT@x bf16": lambda: torch.mm(dy.t(), x),
}
for det in (False, True):
    torch.use_deterministic_algorithms(det, warn_only=True)
    for name, fn in cases.items():
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(4):
                fn()
            torch.cuda.synchronize()
        evs = [(e.name, e.device_time) for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kinds = {}
        for n_, t in evs:
            k = kinds.setdefault(n_[:70], [0, 0.0])
            k[0] += 1
            k[1] += t
        print(f"deterministic={det} {name}: " + "; ".join(f"{k} x{c / 4:.1f} {t / c:.1f}us" for k, (c, t) in kinds.items()), flush=True)
