"""Time of torch.autograd.gradcheck (default: slow mode, float64) on a LayerNorm over 4 tokens ×
64 channels (a 256 × 256 Jacobian), one thread, beside the toolkit's client benchmark
(`Benchmarks/run.sh`). Run: python3 Benchmarks/gradcheck-power/torch_ln_timing.py"""
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(1)
x = (torch.rand(4, 64, dtype=torch.float64) * 4 - 2).requires_grad_(True)
f = lambda x: torch.nn.functional.layer_norm(x, (64,), eps=1e-5)
best = float("inf")
for _ in range(5):
    t = time.perf_counter()
    ok = torch.autograd.gradcheck(f, (x,))
    best = min(best, time.perf_counter() - t)
print("torch %s gradcheck, LayerNorm 4x64, float64, slow mode: passed %s, best of 5: %.3f s" % (torch.__version__, ok, best))
