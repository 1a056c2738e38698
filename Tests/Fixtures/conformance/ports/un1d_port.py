"""A PyTorch port of the authors' UN1d written from the behaviour list of the spec (section 4),
independently of the Swift code, in float64, with an explicit backward (UN's backward is not the
autograd of its forward). `make` is the faithful port; `make_torch_habits` makes two mistakes a
PyTorch programmer easily makes (PyTorch's momentum convention; g_sigma as a mean over the real
tokens only); `make_counter_after` increments the counter after the step. Used by
Tests/Fixtures/conformance/ports/record.sh; not a test dependency."""
import torch


class _UNFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, pad_mask, layer):
        shape = x.shape
        C = shape[-1]
        xs = x.reshape(-1, C)
        real = torch.ones(xs.shape[0], dtype=torch.bool) if pad_mask is None else ~pad_mask.reshape(-1)
        L = layer
        L.iters += 1
        t = L.iters - 1 if "counter_after" in L.mistakes else L.iters
        M = L.window
        x2 = (xs[real] ** 2).mean(0)
        recorded = L.buf_x2.sqrt().flatten().var(unbiased=True)
        slot = t % M
        L.buf_x2[slot] = x2
        skip = M <= 1
        if t >= L.warmup and L.filtration:
            am = L.buf_x2.mean(0)
            gm = torch.exp(torch.log(L.buf_x2).mean(0))
            if bool(((am - gm) > M * recorded).any()):
                L.buf_x2[slot] = L.running_var
                skip = True
                L.skips += 1
        use_current = t <= M or t < L.warmup or skip
        var = x2 if use_current else torch.exp(torch.log(L.buf_x2).mean(0))
        if t <= max(1000, L.warmup) or skip:
            r = torch.ones(C, dtype=torch.float64)
        else:
            r = ((var + L.eps).sqrt() / (L.running_var + L.eps).sqrt()).clamp(1 / 5, 5)
        z = xs / (var + L.eps).sqrt()
        y = weight * z + bias
        a = L.momentum
        if "torch_momentum" in L.mistakes:
            L.running_var = (1 - a) * L.running_var + a * var
        else:
            L.running_var = a * L.running_var + (1 - a) * var
        ctx.save_for_backward(z, var, r, weight)
        ctx.skip, ctx.t, ctx.real, ctx.shape, ctx.layer = skip, t, real, shape, layer
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, dy):
        z, var, r, weight = ctx.saved_tensors
        L = ctx.layer
        C = z.shape[-1]
        dys = dy.reshape(-1, C)
        g = dys * weight * r
        if "gz_over_real" in L.mistakes:
            gz = (g * z)[ctx.real].mean(0)
        else:
            gz = (g * z).mean(0)
        Mbp = L.bp_window
        L.buf_gz[ctx.t % Mbp] = L.ema_gz if ctx.skip else gz
        mean_gz = gz if (ctx.t <= Mbp or ctx.t < L.warmup or ctx.skip) else L.buf_gz.mean(0)
        a = L.momentum
        if "torch_momentum" in L.mistakes:
            L.ema_gz = (1 - a) * L.ema_gz + a * mean_gz
        else:
            L.ema_gz = a * L.ema_gz + (1 - a) * mean_gz
        c = mean_gz if ctx.skip else L.ema_gz
        dx = (g - c * z) / (var + L.eps).sqrt()
        return dx.reshape(ctx.shape), (dys * r * z).sum(0), dys.sum(0), None, None


class UN1dPort(torch.nn.Module):
    def __init__(self, channels, window=4, bp_window=None, warmup=4000, filtration=False, eps=1e-5, momentum=0.9,
                 mistakes=()):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(channels, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.zeros(channels, dtype=torch.float64))
        self.window, self.bp_window = window, bp_window or window
        self.warmup, self.filtration, self.eps, self.momentum = warmup, filtration, eps, momentum
        self.mistakes = set(mistakes)
        self.running_var = torch.ones(channels, dtype=torch.float64)
        self.ema_gz = torch.zeros(channels, dtype=torch.float64)
        self.buf_x2 = torch.zeros(self.window, channels, dtype=torch.float64)
        self.buf_gz = torch.zeros(self.bp_window, channels, dtype=torch.float64)
        self.iters = 0
        self.skips = 0

    def forward(self, x, pad_mask=None):
        if self.training:
            return _UNFunction.apply(x, self.weight, self.bias, pad_mask, self)
        return self.weight * x / (self.running_var + self.eps).sqrt() + self.bias


def make(**cfg):
    return UN1dPort(**cfg)


def make_torch_habits(**cfg):
    return UN1dPort(mistakes=("torch_momentum", "gz_over_real"), **cfg)


def make_counter_after(**cfg):
    return UN1dPort(mistakes=("counter_after",), **cfg)
