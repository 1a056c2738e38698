"""Records an un-trace/2 trace (Tests/Fixtures/conformance/README.md) from any PyTorch module with a
`forward(x, pad_mask=None)` interface, in float64, on the inputs of conformance vectors. Not a test
dependency: the traces it writes are what `unverify conform` reads.

    pip install torch numpy
    python3 scripts/record_trace.py --factory my_un.py:make --vectors Tests/Fixtures/conformance/reference --out my-traces
    swift run -c release unverify conform my-traces/*.json

`--factory FILE.py:FUNCTION` (or `module:FUNCTION`) names a function that takes the vector's
configuration as keyword arguments (channels, window, bp_window, warmup, filtration, eps, momentum)
and returns the module. The module must be in float64 with `weight` and `bias` parameters of shape
[C] (they are set to the vector's initial values); `pad_mask` is a bool tensor of shape [B, N]
(True = padded) or None. Train steps run in `train()` mode: forward, then backward with the
vector's gradOutput; the output, the input gradient and the weight and bias gradients are
recorded (gradients are zeroed before each step). Eval steps run in `eval()` mode, forward only.
`--generate SEED` records on freshly drawn inputs instead (same shapes and configurations).
"""
import argparse
import glob
import importlib
import importlib.util
import json
import os
import sys

import torch


def load_factory(spec):
    target, _, fn = spec.rpartition(":")
    if target.endswith(".py"):
        s = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(target))[0], target)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(target)
    return getattr(mod, fn)


def record(factory, vector, implementation, generate=None):
    cfg = vector["config"]
    shape = vector["shape"]
    m = factory(channels=cfg["channels"], window=cfg["fpWindow"], bp_window=cfg["bpWindow"],
                warmup=cfg["warmupIters"], filtration=cfg["outlierFiltration"], eps=cfg["eps"],
                momentum=cfg["momentum"])
    with torch.no_grad():
        m.weight.copy_(torch.tensor(vector["initial"]["weight"], dtype=torch.float64))
        m.bias.copy_(torch.tensor(vector["initial"]["bias"], dtype=torch.float64))
    gen = torch.Generator().manual_seed(generate) if generate is not None else None
    steps = []
    for s in vector["steps"]:
        if gen is None:
            x = torch.tensor(s["x"], dtype=torch.float64).reshape(shape)
        else:
            x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * 1.7
        mask = None
        if s.get("padMask") is not None:
            mask = torch.tensor(s["padMask"]).reshape(shape[:-1])
        if s["mode"] == "train":
            m.train()
            if gen is None:
                dy = torch.tensor(s["gradOutput"], dtype=torch.float64).reshape(shape)
            else:
                dy = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
            xr = x.clone().requires_grad_(True)
            m.weight.grad = None
            m.bias.grad = None
            y = m(xr, pad_mask=mask)
            y.backward(dy)
            steps.append({"mode": "train", "x": x.flatten().tolist(), "padMask": s.get("padMask"),
                          "gradOutput": dy.flatten().tolist(),
                          "expected": {"y": y.detach().flatten().tolist(), "gradInput": xr.grad.flatten().tolist(),
                                       "gradWeight": m.weight.grad.tolist(), "gradBias": m.bias.grad.tolist()}})
        else:
            m.eval()
            with torch.no_grad():
                y = m(x, pad_mask=mask)
            steps.append({"mode": "eval", "x": x.flatten().tolist(), "padMask": s.get("padMask"),
                          "expected": {"y": y.flatten().tolist()}})
    return {"format": "un-trace/2", "name": vector["name"], "implementation": implementation,
            "config": cfg, "shape": shape, "initial": vector["initial"], "steps": steps}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--factory", required=True, help="FILE.py:FUNCTION or module:FUNCTION")
    p.add_argument("--vectors", required=True, help="a vector file or a folder of them")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--implementation", help="a name for the traces (default: the factory)")
    p.add_argument("--generate", type=int, help="record on inputs drawn with this seed instead of the vector's")
    a = p.parse_args()
    factory = load_factory(a.factory)
    files = sorted(glob.glob(os.path.join(a.vectors, "*.json"))) if os.path.isdir(a.vectors) else [a.vectors]
    if not files:
        sys.exit("no vectors in %s" % a.vectors)
    os.makedirs(a.out, exist_ok=True)
    for f in files:
        with open(f) as fh:
            v = json.load(fh)
        t = record(factory, v, a.implementation or a.factory, a.generate)
        with open(os.path.join(a.out, os.path.basename(f)), "w") as fh:
            json.dump(t, fh)
    print("recorded %d traces into %s" % (len(files), a.out))


if __name__ == "__main__":
    main()
