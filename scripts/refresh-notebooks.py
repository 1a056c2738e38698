#!/usr/bin/env python3
"""Writes notebooks-md/*.md from a report (default report/report.md): narrative around the
report's own tables, so the numbers a reviewer reads are the numbers the toolkit measured.

    python3 scripts/refresh-notebooks.py [report/report.md]
"""
import re
import sys
from pathlib import Path

report = Path(sys.argv[1] if len(sys.argv) > 1 else "report/report.md").read_text()
head = dict(re.findall(r"^- (Generated|Seed|Toolchain): (.*)$", report, re.M))


def section(anchor):
    m = re.search(r'<a id="%s"></a>\n(.*?)(?=\n<a id=|\Z)' % re.escape(anchor), report, re.S)
    if not m:
        return "_(section %s not in this report)_\n" % anchor
    body = m.group(1)
    return re.sub(r"^## ", "### ", body, flags=re.M)


stamp = "_Numbers from the report generated %s (seed %s, %s). Regenerate with `make report && python3 scripts/refresh-notebooks.py`._\n\n" % (
    head.get("Generated", "?"), head.get("Seed", "?"), head.get("Toolchain", "?"))

books = {
    "01-replaying-the-authors-code.md": ("Does our UN behave exactly like the authors' code?", """
The authors' `UN1d` has behaviours the paper does not describe: the iteration counter is
incremented before the step, the filtration threshold is the *unbiased* variance of the square
roots of the *whole previous buffer* (all `M·C` entries pooled), a skipped step overwrites its
buffer slot with the running variance, the backward multiplies by a compensation factor `r`
clamped to `[1/5, 5]` after step `max(1000, warm-up)`, both moving averages start at zero, and
the backward averages over all `B·N` positions while the statistics use real tokens only.

`UnifiedNorm(mode: .referenceCompatible)` reproduces all of that. The five float64 traces
recorded from the authors' PyTorch code are replayed step by step, comparing every recorded
quantity:

```swift
let result = try TraceReplay.replay(UNTrace.load(path: "../shared/traces/padding.json"))
```
""", ["trace-replay"]),
    "02-is-the-backward-a-gradient.md": ("Is each backward pass the gradient of its forward?", """
UN's backward is *calibrated*: it uses a moving average `ψ` of the gradient statistic instead of
the current one. Whether a given implementation's backward is the true gradient of its forward
is measured here, not assumed. The gradient checker (Richardson extrapolation from an
automatically chosen step, with an error estimate per entry) is first measured on functions
with known derivatives, then applied to every layer, mode and regime.

```swift
let r = try GradientChecker().checkGradient(of: loss, at: x, gradient: backward(x))
print(r)   // a table of the worst entries with their error estimates
```
""", ["checker-accuracy", "gradient-map", "claim-g1", "claim-g3"]),
    "03-the-filter.md": ("The outlier filter: a bound that cannot be exceeded, and a rule that fires anyway", """
The paper filters an iteration when `E(Ω) − Π(Ω) > M·V(Ω^{1/2})`. Kober's inequality says
`E − Π ≤ M·V` for *every* positive window, so that test never fires in exact arithmetic; in
floating point the naive comparison does fire at `M = 2`, where the two sides are equal. The
authors' code compares with the previous buffer's pooled variance instead, and that rule fires —
measured below, on stationary data where nothing is an outlier.
""", ["claim-k1", "claim-k2", "claim-k4", "filtration-study", "claim-s2"]),
    "04-fusion-statistics-hardware.md": ("Fusion, statistics and the hardware path", """
At inference UN is a per-channel affine map and folds into the neighbouring linear layer; the
fold is exact over the reals and within a derived rounding bound in floating point. LayerNorm is
not affine and cannot be folded. The statistical routines behind S1 and S2 are checked against
SciPy, and the kernels of the hardware path are compared with the CPU on OpenCL.
""", ["claim-f1", "claim-f2", "claim-f3", "claim-s1", "claim-s3", "hardware-path", "inference-cost"]),
}

out = Path("notebooks-md")
out.mkdir(exist_ok=True)
index = ["# Notebooks\n", "Read without running anything; each is narrative around the numbers of one report.\n"]
for name, (title, text, anchors) in books.items():
    body = "# %s\n\n%s%s\n" % (title, stamp, text.strip()) + "\n\n" + "\n".join(section(a) for a in anchors)
    (out / name).write_text(body)
    index.append("- [%s](%s)\n" % (title, name))
(out / "README.md").write_text("\n".join(index))
print("wrote", ", ".join(books))
