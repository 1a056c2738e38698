"""PyTorch on CPU beside `unbench` (same workload, same definition of the ratio): LayerNorm and
RMSNorm forward, LayerNorm training forward + backward, each against a memory copy of the same
tensor timed in the same process and round (`torch.Tensor.copy_` into a preallocated tensor),
and `torch.autograd.gradcheck` on the LayerNorm 4 × 64 problem. Not a test dependency.

    pip install torch numpy
    python3 Benchmarks/torch/torch_bench.py --threads 1 --json Benchmarks/results/torch-1thread.json
"""
import argparse
import json
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--rounds", type=int, default=7)
p.add_argument("--json")
p.add_argument("--only-gradcheck", action="store_true", help="time gradcheck alone (for alternating pairs)")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(20221201)
B, N, C = 8, 197, 768
x = torch.rand(B, N, C, dtype=torch.float32) * 6 - 3
dy = torch.rand(B, N, C, dtype=torch.float32) * 2 - 1
target = torch.empty_like(x)
ln = torch.nn.LayerNorm(C)
rms = torch.nn.RMSNorm(C, eps=1e-5)


def med(f, reps=5):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def ln_train():
    xr = x.detach().requires_grad_(True)
    y = ln(xr)
    y.backward(dy)


cases = [
    ("LayerNorm forward (inference)", 2, lambda: torch.no_grad()(ln)(x)),
    ("RMSNorm forward (inference)", 2, lambda: torch.no_grad()(rms)(x)),
    ("LayerNorm training forward + backward", 5, ln_train),
]
results = []
print("torch %s, %d thread(s), Float 8x197x768; ratio = (nominal bytes/time) / (copy bytes/time), same round"
      % (torch.__version__, a.threads))
print("| operation | nominal tensor passes | time per call (ms, median) | ratio: median | min | max |")
print("|---|---|---|---|---|---|")
for name, tensors, f in ([] if a.only_gradcheck else cases):
    ratios, times = [], []
    for _ in range(a.rounds):
        tc = med(lambda: target.copy_(x))
        to = med(f)
        ratios.append((tensors / 2) * tc / to)
        times.append(to)
    ratios.sort()
    m = statistics.median(ratios)
    print("| %s | %d | %.3g | %.3g | %.3g | %.3g |" % (name, tensors, statistics.median(times) * 1e3, m, ratios[0], ratios[-1]))
    results.append({"name": name, "tensors": tensors, "medianSeconds": statistics.median(times),
                    "ratio": {"median": m, "min": ratios[0], "max": ratios[-1]}})

xg = (torch.rand(4, 64, dtype=torch.float64) * 4 - 2).requires_grad_(True)
f = lambda v: torch.nn.functional.layer_norm(v, (64,), eps=1e-5)
tg = med(lambda: torch.autograd.gradcheck(f, (xg,)), reps=5)
print("| torch.autograd.gradcheck, LayerNorm 4x64, float64, slow mode (median of 5) | | %.3g | | | |" % (tg * 1e3))
results.append({"name": "gradcheck LayerNorm 4x64 float64 slow mode", "medianSeconds": tg})
if a.json:
    with open(a.json, "w") as fh:
        json.dump({"schemaVersion": 1, "torch": torch.__version__, "threads": a.threads, "results": results}, fh, indent=1)
