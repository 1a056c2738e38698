"""Detection power of torch.autograd.gradcheck (default settings) on the planted-error cases of
the toolkit's checker study (`unverify gradcheck --suite`): the same smooth functions, the same
domains, the same planting (one gradient entry multiplied by 1 ± 10^-k, k = 1..12, entry and sign
at random), 200 points per cell, drawn here from numpy's seeded generator.

gradcheck compares a claimed Jacobian with its own central differences (eps = 1e-6) under
|a - n| <= atol + rtol |n| (atol = 1e-5, rtol = 1e-3). The claimed gradient is supplied through a
custom autograd.Function whose backward returns it. Float runs use float32 inputs (gradcheck's
defaults are meant for float64; it warns, and that is part of what is measured).

Not a test dependency. To reproduce (PyTorch from PyPI; CPU is enough):

    pip install torch numpy
    python3 Benchmarks/gradcheck-power/torch_power.py --trials 200 --out Benchmarks/gradcheck-power/torch.json
"""
import argparse, json, math, warnings

import numpy as np
import torch

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


def ln64(x, m):
    n = x.shape[0]
    mu = x.mean()
    v = ((x - mu) ** 2).mean()
    s = m.sqrt(v + 1e-5)
    w = m.sin(m.arange(1, n + 1, dtype=x.dtype))
    return (w * (x - mu) / s).sum()


def ln64_grad(x):
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    mu = x.mean(); v = ((x - mu) ** 2).mean(); s = math.sqrt(v + 1e-5)
    z = (x - mu) / s
    g = np.sin(np.arange(1, n + 1))
    return (g - g.mean() - z * (g * z).mean()) / s


def rosen(x, m):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosen_grad(x):
    x = np.asarray(x, dtype=np.float64)
    d = np.zeros_like(x)
    d[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    d[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return d


class TM:  # torch math namespace with the same names as used above
    sqrt = staticmethod(torch.sqrt); sin = staticmethod(torch.sin); arange = staticmethod(torch.arange)


S = lambda f, d, lo, hi: dict(f=f, d=d, dim=1, lo=lo, hi=hi)
FUNCS = {
    "sin": S(lambda x: torch.sin(x).sum(), lambda x: np.cos(x), -3, 3),
    "exp": S(lambda x: torch.exp(x).sum(), lambda x: np.exp(x), -5, 5),
    "log(1+x²)": S(lambda x: torch.log(1 + x * x).sum(), lambda x: 2 * x / (1 + x * x), -4, 4),
    "atan": S(lambda x: torch.atan(x).sum(), lambda x: 1 / (1 + x * x), -10, 10),
    "x⁵−3x³+x": S(lambda x: (x ** 5 - 3 * x ** 3 + x).sum(), lambda x: 5 * x ** 4 - 9 * x ** 2 + 1, -2, 2),
    "x·exp(−x²)": S(lambda x: (x * torch.exp(-x * x)).sum(), lambda x: (1 - 2 * x * x) * np.exp(-x * x), -2, 2),
    "1e12·sin(1e-6 x) (large x)": S(lambda x: (1e12 * torch.sin(1e-6 * x)).sum(), lambda x: 1e6 * np.cos(1e-6 * x), 1e6, 3e6),
    "sin(1e6 x) (tiny x)": S(lambda x: torch.sin(1e6 * x).sum(), lambda x: 1e6 * np.cos(1e6 * x), 1e-6, 3e-6),
    "Rosenbrock (4)": dict(f=lambda x: rosen(x, TM), d=rosen_grad, dim=4, lo=-2, hi=2),
    "LayerNorm (64)": dict(f=lambda x: ln64(x, TM), d=ln64_grad, dim=64, lo=-3, hi=3),
}


def claimed_function(f, grad):
    class F(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return f(x.detach())

        @staticmethod
        def backward(ctx, g):
            return g * grad

    return F.apply


def run(trials, dtype, seed):
    rows = []
    for fi, (name, spec) in enumerate(FUNCS.items()):
        cells = []
        for k in [None] + list(range(1, 13)):
            rng = np.random.default_rng([seed, fi, k or 0])
            c = dict(exponent=k, trials=0, detected=0, missed=0, falseAlarms=0, unrepresentable=0)
            for _ in range(trials):
                x = rng.uniform(spec["lo"], spec["hi"], spec["dim"])
                xt = torch.tensor(x, dtype=dtype)
                truth = np.atleast_1d(spec["d"](xt.double().numpy()))
                claim = truth.copy()
                j = int(rng.integers(truth.size)); sign = 1 if rng.random() < 0.5 else -1
                if k is not None:
                    planted = torch.tensor(truth[j] * (1 + sign * 10.0 ** -k), dtype=dtype)
                    if planted == torch.tensor(truth[j], dtype=dtype):
                        c["unrepresentable"] += 1
                        continue
                    claim[j] = float(planted)
                fn = claimed_function(spec["f"], torch.tensor(claim, dtype=dtype))
                ok = torch.autograd.gradcheck(fn, (xt.clone().requires_grad_(True),), raise_exception=False)
                c["trials"] += 1
                if k is None:
                    if not ok: c["falseAlarms"] += 1
                elif ok:
                    c["missed"] += 1
                else:
                    c["detected"] += 1
            cells.append(c)
        rows.append(dict(function=name, precision="Double" if dtype == torch.float64 else "Float", cells=cells))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20220801)
    ap.add_argument("--out", default="Benchmarks/gradcheck-power/torch.json")
    a = ap.parse_args()
    rows = run(a.trials, torch.float64, a.seed) + run(a.trials, torch.float32, a.seed)
    json.dump(dict(torch=torch.__version__, trials=a.trials, seed=a.seed, rows=rows), open(a.out, "w"), indent=1)
    for r in rows:
        rates = ["%5.1f" % (100 * c["detected"] / c["trials"]) if c["trials"] else "   — " for c in r["cells"][1:]]
        print("%-28s %-6s %s  false alarms %d/%d" % (r["function"], r["precision"], " ".join(rates),
                                                     r["cells"][0]["falseAlarms"], r["cells"][0]["trials"]))
