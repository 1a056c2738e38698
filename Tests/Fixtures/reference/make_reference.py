#!/usr/bin/env python3
"""Independent NumPy references for the layer tests (Tests/UnifiedNormalizationTests).

Regenerate with:  python3 Tests/Fixtures/reference/make_reference.py > Tests/Fixtures/reference/layers.json

Forward passes are written here from the formulas in ../shared/spec/unified-normalization.md,
independently of the Swift code. Input gradients of the layers whose backward is meant to be
the exact gradient (LayerNorm, BatchNorm, RMSNorm, UN paper mode with the exact option) are
computed by the complex-step method, dL/dx_k = Im(L(x + i h e_k)) / h with h = 1e-30, which is
accurate to machine precision and shares no code or formula with a hand-derived backward.
PowerNorm's and UN's calibrated backward passes are approximations by design, so they are
transcribed from the spec's formulas.
"""
import json
import numpy as np

EPS = 1e-5
rng = np.random.default_rng(20220801)


def complex_step_vjp(f, x, gy):
    """J(x)^T gy for a real-analytic f, one complex-step evaluation per input entry."""
    h = 1e-30
    out = np.zeros(x.size)
    flat = x.reshape(-1).astype(complex)
    for k in range(x.size):
        xp = flat.copy()
        xp[k] += 1j * h
        out[k] = np.sum(np.imag(f(xp.reshape(x.shape))) / h * gy)
    return out.reshape(x.shape)


def layer_norm(x, w, b, centered=True):
    m = x.mean(axis=-1, keepdims=True) if centered else 0.0
    d = x - m
    return w * d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + EPS) + b


def batch_norm(x, w, b, real):
    r = x.reshape(-1, x.shape[-1])
    xr = r[real]
    mu = xr.mean(axis=0)
    v = ((xr - mu) * (xr - mu)).mean(axis=0)
    return (w * (r - mu) / np.sqrt(v + EPS) + b).reshape(x.shape)


def case(name, x, mask, gy, w, b, y, dx, dw, db, extra=None):
    d = dict(name=name, shape=list(x.shape), x=x.reshape(-1).tolist(),
             padMask=None if mask is None else mask.reshape(-1).tolist(),
             gradOutput=gy.reshape(-1).tolist(), weight=w.tolist(), bias=b.tolist(),
             y=np.real(y).reshape(-1).tolist(), gradInput=dx.reshape(-1).tolist(),
             gradWeight=dw.tolist(), gradBias=db.tolist())
    if extra:
        d.update(extra)
    return d


cases = []
B, N, C = 2, 4, 5
mask = np.array([[False, False, False, True], [False, False, True, True]])
real = ~mask.reshape(-1)
for label, m in [("nopad", None), ("pad", mask)]:
    x = rng.normal(size=(B, N, C)) * rng.uniform(0.5, 3, size=C) + rng.normal(size=C) * 0.3
    gy = rng.normal(size=(B, N, C))
    w = rng.uniform(0.5, 1.5, size=C)
    b = rng.normal(size=C) * 0.1
    rl = real if m is not None else np.ones(B * N, bool)

    # LayerNorm / RMSNorm: per token, padding irrelevant.
    for nm, cen in [("LayerNorm", True), ("RMSNorm", False)]:
        f = lambda xx, cen=cen: layer_norm(xx, w, b, cen)
        y = f(x)
        z = (y - b) / w
        cases.append(case(f"{nm}-{label}", x, m, gy, w, b, y, complex_step_vjp(f, x, gy),
                          (gy * z).reshape(-1, C).sum(0), gy.reshape(-1, C).sum(0)))

    # BatchNorm training, statistics over real tokens.
    f = lambda xx: batch_norm(xx, w, b, rl)
    y = f(x)
    z = (y - b) / w
    cases.append(case(f"BatchNorm-{label}", x, m, gy, w, b, y, complex_step_vjp(f, x, gy),
                      (gy * z).reshape(-1, C).sum(0), gy.reshape(-1, C).sum(0)))

# PowerNorm (authors' code): group scaling (1 group) then the power function; 3 steps, warm-up 2,
# so step 3 normalizes by the running phi while its backward uses the current x2.
x_seq = [rng.normal(size=(B, N, C)) * (1 + 0.3 * k) for k in range(3)]
g_seq = [rng.normal(size=(B, N, C)) for _ in range(3)]
w = rng.uniform(0.5, 1.5, size=C)
b = rng.normal(size=C) * 0.1
phi = np.ones(C)
nu = np.zeros(C)
warm, af, ab = 2, 0.9, 0.9
steps = []
for t in range(1, 4):
    x = x_seq[t - 1].reshape(-1, C)
    gy = g_seq[t - 1].reshape(-1, C)
    s = np.sqrt((x * x).mean(axis=1, keepdims=True) + EPS)
    xs = x / s
    x2 = (xs[real] ** 2).mean(axis=0)
    z = xs / np.sqrt((x2 if t <= warm else phi) + EPS)
    y = w * z + b
    if t < warm:
        phi = phi * (t - 1) / t + x2 / t
    phi = af * phi + (1 - af) * x2
    g = gy * w
    a = g - (1 - ab) * nu * z
    nu = nu + (a * z).mean(axis=0)
    dxs = a / np.sqrt(x2 + EPS)
    dx = (dxs - xs * (dxs * xs).mean(axis=1, keepdims=True)) / s   # exact RMS-scaling backward
    steps.append(dict(x=x.reshape(-1).tolist(), gradOutput=gy.reshape(-1).tolist(), y=y.reshape(-1).tolist(),
                      gradInput=dx.reshape(-1).tolist(), gradWeight=(gy * z).sum(0).tolist(),
                      gradBias=gy.sum(0).tolist(), runningPhi=phi.tolist(), emaGz=nu.tolist()))
cases.append(dict(name="PowerNorm-sequence", shape=[B, N, C], padMask=mask.reshape(-1).tolist(), weight=w.tolist(),
                  bias=b.tolist(), warmupIters=warm, steps=steps))

# UN, paper mode: window 3, warm-up 2, padding; 5 steps (current, current, smoothed x3).
M, alpha, warm = 3, 0.9, 2
hist = []
ghist = []
psi = np.zeros(C)
steps = []
x_seq = [rng.normal(size=(B, N, C)) * (1 + 0.2 * k) for k in range(5)]
g_seq = [rng.normal(size=(B, N, C)) for _ in range(5)]
T = real.sum()
for t in range(1, 6):
    x = x_seq[t - 1].reshape(-1, C)
    gy = g_seq[t - 1].reshape(-1, C)
    history = list(hist[-(M - 1):])

    def forward(xx, history=history, t=t):
        xx = xx.reshape(-1, C)
        s2 = (xx[real] * xx[real]).mean(axis=0)
        smooth = t >= M and t >= warm
        var = np.exp(np.mean(np.log(np.array(history + [s2])), axis=0)) if smooth else s2
        return (w * xx / np.sqrt(var + EPS) + b), var, s2, smooth

    y, var, s2, smooth = forward(x.astype(complex))
    y, var, s2 = np.real(y), np.real(var), np.real(s2)
    z = x / np.sqrt(var + EPS)
    g = gy * w
    gs = (g * z).sum(axis=0) / T
    ghist.append(gs)
    if smooth:
        psi = alpha * psi + (1 - alpha) * np.mean(np.array(ghist[-M:]), axis=0)
        psi_c = psi
    else:
        psi = alpha * psi + (1 - alpha) * gs
        psi_c = gs
    dx_cal = (g - np.where(real[:, None], psi_c * z, 0)) / np.sqrt(var + EPS)
    dx_exact = complex_step_vjp(lambda xx: forward(xx)[0], x, gy)
    hist.append(s2)
    steps.append(dict(x=x.reshape(-1).tolist(), gradOutput=gy.reshape(-1).tolist(), y=y.reshape(-1).tolist(),
                      gradInputCalibrated=dx_cal.reshape(-1).tolist(), gradInputExact=dx_exact.reshape(-1).tolist(),
                      gradWeight=(gy * z).sum(0).tolist(), gradBias=gy.sum(0).tolist(),
                      smoothed=bool(smooth), runningVar=None))
cases.append(dict(name="UN-paper-sequence", shape=[B, N, C], padMask=mask.reshape(-1).tolist(), weight=w.tolist(),
                  bias=b.tolist(), window=M, warmupIters=warm, steps=steps))

print(json.dumps(dict(generator="Tests/Fixtures/reference/make_reference.py", numpy=np.__version__, eps=EPS,
                      cases=cases), indent=1))
