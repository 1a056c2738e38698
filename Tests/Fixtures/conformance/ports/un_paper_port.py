"""UN written from the paper's text alone (Yang et al. 2022, section 3; spec section 3), without
the authors' code, in PyTorch float64: per channel sigma^2 = mean of x^2 over the real tokens;
the smoothed statistic is the geometric mean of the last M values once M are available, else the
current one; the outlier test compares E - Pi with M * V(sqrt) of the same window (population
variance), and a firing drops the moving averages for the step; backward
dL/dx = (G - psi * z) / sqrt(var + eps) on real tokens with psi = alpha psi + (1 - alpha) * mean of
the last M_bp g_sigma, g_sigma = sum(G z) / T, psi = g_sigma while the window is not full.
Used by Tests/Fixtures/conformance/ports/record.sh; not a test dependency."""
import torch


class _Fn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, pad_mask, L):
        shape = x.shape
        C = shape[-1]
        xs = x.reshape(-1, C)
        real = torch.ones(xs.shape[0], dtype=torch.bool) if pad_mask is None else ~pad_mask.reshape(-1)
        L.t += 1
        s2 = (xs[real] ** 2).mean(0)
        L.hist_s2.append(s2)
        M = L.window
        regime = "current"
        var = s2
        if L.t >= M and L.t >= L.warmup:
            w = torch.stack(L.hist_s2[-M:])
            am = w.mean(0)
            gm = torch.exp(torch.log(w).mean(0))
            thr = M * w.sqrt().var(0, unbiased=False)
            fires = L.filtration and bool(((am - gm) > thr).any())
            if fires or M == 1:
                regime = "skip"
            else:
                var = gm
                regime = "smoothed"
        z = xs / (var + L.eps).sqrt()
        L.running_var = L.momentum * L.running_var + (1 - L.momentum) * var
        ctx.save_for_backward(z, var, weight)
        ctx.real, ctx.shape, ctx.regime, ctx.L = real, shape, regime, L
        return (weight * z + bias).reshape(shape)

    @staticmethod
    def backward(ctx, dy):
        z, var, weight = ctx.saved_tensors
        L = ctx.L
        C = z.shape[-1]
        dys = dy.reshape(-1, C)
        G = dys * weight
        g_sigma = (G * z).sum(0) / ctx.real.sum()
        L.hist_g.append(g_sigma)
        a = L.momentum
        if ctx.regime == "smoothed":
            mean_g = torch.stack(L.hist_g[-L.bp_window:]).mean(0) if L.t >= L.bp_window else g_sigma
            L.psi = a * L.psi + (1 - a) * mean_g
            psi = L.psi
        else:
            L.psi = a * L.psi + (1 - a) * g_sigma
            psi = g_sigma
        corr = torch.where(ctx.real[:, None], psi * z, torch.zeros_like(z))
        dx = (G - corr) / (var + L.eps).sqrt()
        return dx.reshape(ctx.shape), (dys * z).sum(0), dys.sum(0), None, None


class PaperUN(torch.nn.Module):
    def __init__(self, channels, window=4, bp_window=None, warmup=4000, filtration=False, eps=1e-5, momentum=0.9):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(channels, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.zeros(channels, dtype=torch.float64))
        self.window, self.bp_window = window, bp_window or window
        self.warmup, self.filtration, self.eps, self.momentum = warmup, filtration, eps, momentum
        self.running_var = torch.ones(channels, dtype=torch.float64)
        self.psi = torch.zeros(channels, dtype=torch.float64)
        self.hist_s2, self.hist_g = [], []
        self.t = 0

    def forward(self, x, pad_mask=None):
        if self.training:
            return _Fn.apply(x, self.weight, self.bias, pad_mask, self)
        return self.weight * x / (self.running_var + self.eps).sqrt() + self.bias


def make(**cfg):
    return PaperUN(**cfg)
