#!/usr/bin/env python3
"""SciPy reference values for the statistics module (Tests/UNStatisticsTests).

Regenerate with:  python3 Tests/Fixtures/scipy/make_scipy_reference.py > Tests/Fixtures/scipy/reference.json
Inputs are generated here from a fixed seed and written out with the results, so the Swift tests
use exactly these inputs. Cases aim at the extreme tails (p near 1e-12) and near 1.
"""

import json
import numpy as np
import scipy
from scipy import stats

rng = np.random.default_rng(20221105)
cases = []


def add(kind, inputs, statistic, pvalue, **extra):
    d = dict(kind=kind, inputs=inputs, statistic=float(statistic), pvalue=float(pvalue))
    d.update(extra)
    cases.append(d)


# One-sample t: mean shifts giving p near 1, moderate, and ~1e-12.
for n, shift in [(20, 0.0), (20, 0.3), (50, 1.2), (200, 0.55), (12, 3.0)]:
    x = rng.normal(shift, 1, n)
    r = stats.ttest_1samp(x, 0.0)
    add("t1", dict(x=x.tolist(), mu=0.0), r.statistic, r.pvalue)
# Two-sample t (pooled and Welch).
for n1, n2, d, s2 in [(15, 20, 0.0, 1), (30, 25, 0.8, 2), (100, 120, 1.1, 1.5), (8, 40, 2.5, 0.3)]:
    x = rng.normal(0, 1, n1)
    y = rng.normal(d, s2, n2)
    r = stats.ttest_ind(x, y, equal_var=True)
    add("t2pooled", dict(x=x.tolist(), y=y.tolist()), r.statistic, r.pvalue)
    r = stats.ttest_ind(x, y, equal_var=False)
    add("t2welch", dict(x=x.tolist(), y=y.tolist()), r.statistic, r.pvalue)
# Chi-square variance test (two-sided), H0: sigma^2 = s0.
for n, s, s0 in [(30, 1.0, 1.0), (30, 1.5, 1.0), (200, 1.0, 1.6), (60, 3.0, 1.0)]:
    x = rng.normal(0, s, n)
    stat = (n - 1) * np.var(x, ddof=1) / s0
    p = 2 * min(stats.chi2.cdf(stat, n - 1), stats.chi2.sf(stat, n - 1))
    add("chi2var", dict(x=x.tolist(), sigma2=s0), stat, min(p, 1.0))
# F variance-ratio test (two-sided).
for n1, n2, s1, s2 in [(25, 30, 1, 1), (40, 40, 1.4, 1), (200, 150, 1, 1.8), (10, 80, 3, 1)]:
    x = rng.normal(0, s1, n1)
    y = rng.normal(0, s2, n2)
    f = np.var(x, ddof=1) / np.var(y, ddof=1)
    p = 2 * min(stats.f.cdf(f, n1 - 1, n2 - 1), stats.f.sf(f, n1 - 1, n2 - 1))
    add("ftest", dict(x=x.tolist(), y=y.tolist()), f, min(p, 1.0))
# Brown-Forsythe (Levene centred at the median).
for n1, n2, s1, s2, dist in [
    (40, 50, 1, 1, "t"),
    (100, 100, 1, 1.5, "norm"),
    (300, 250, 1, 2.2, "t"),
    (30, 30, 1, 1, "lognorm"),
]:
    if dist == "t":
        x = rng.standard_t(4, n1) * s1
        y = rng.standard_t(4, n2) * s2
    elif dist == "lognorm":
        x = rng.lognormal(0, s1, n1)
        y = rng.lognormal(0, s2, n2)
    else:
        x = rng.normal(0, s1, n1)
        y = rng.normal(0, s2, n2)
    r = stats.levene(x, y, center="median")
    add("brownforsythe", dict(x=x.tolist(), y=y.tolist()), r.statistic, r.pvalue)
# Chi-square goodness of fit.
for k, n, skew in [(6, 600, 0.0), (10, 1000, 0.15), (4, 5000, 0.2), (8, 80, 0.0)]:
    probs = np.ones(k) / k
    obs = rng.multinomial(
        n, (probs * (1 + skew * np.linspace(-1, 1, k))) / np.sum(probs * (1 + skew * np.linspace(-1, 1, k)))
    )
    exp = probs * n
    r = stats.chisquare(obs, exp)
    add("chi2gof", dict(observed=obs.astype(float).tolist(), expected=exp.tolist(), ddof=0), r.statistic, r.pvalue)
# Kolmogorov-Smirnov one sample against N(0,1): exact (auto) and asymptotic.
for n, shift in [(10, 0.0), (50, 0.2), (100, 0.0), (300, 0.45), (1000, 0.05), (40, 1.6), (2000, 0.2)]:
    x = rng.normal(shift, 1, n)
    r = stats.kstest(x, "norm", method="exact")
    # Where SciPy's public kstwo switches to the Pelz-Good approximation (n > 140 and
    # n d^1.5 > 1.4 with n d^2 < 2.2), also record SciPy's own exact Durbin-matrix value.
    from scipy.stats import _ksstats

    d = r.statistic
    exact = None
    if n > 140 and n * d * d < 2.2 and n * d**1.5 > 1.4:
        exact = float(1.0 - _ksstats._kolmogn_DMTW(n, d, cdf=True))
    add(
        "ks1exact",
        dict(x=x.tolist()),
        r.statistic,
        r.pvalue,
        **({"exactReference": exact} if exact is not None else {})
    )
    r = stats.kstest(x, "norm", method="asymp")
    add("ks1asymp", dict(x=x.tolist()), r.statistic, r.pvalue)
# Kolmogorov-Smirnov two sample, exact.
for n1, n2, shift in [(10, 12, 0.0), (30, 25, 0.8), (60, 50, 0.3), (80, 90, 1.6), (7, 7, 3.0)]:
    x = rng.normal(0, 1, n1)
    y = rng.normal(shift, 1, n2)
    r = stats.ks_2samp(x, y, method="exact")
    add("ks2exact", dict(x=x.tolist(), y=y.tolist()), r.statistic, r.pvalue)
# Exact binomial test (two-sided) and Clopper-Pearson 95% interval.
for k, n, p in [
    (5, 10, 0.5),
    (9, 10, 0.5),
    (37, 100, 0.5),
    (2, 1000, 0.05),
    (180, 200, 0.5),
    (0, 50, 0.1),
    (50, 50, 0.9),
]:
    r = stats.binomtest(k, n, p)
    ci = r.proportion_ci(confidence_level=0.95, method="exact")
    add("binom", dict(k=k, n=n, p=p), k / n, r.pvalue, ciLow=float(ci.low), ciHigh=float(ci.high))
# Holm step-down adjusted p-values (reference computed here, independently).
for ps in [[0.01, 0.04, 0.03, 0.005], [0.5, 1e-12, 0.2, 0.049, 0.051], [0.9, 0.95]]:
    ps = np.array(ps)
    m = len(ps)
    order = np.argsort(ps)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adj[i] = running
    add("holm", dict(p=ps.tolist()), 0.0, 0.0, adjusted=adj.tolist())
# Descriptive statistics with GSL's definitions: variance with n-1; skewness and kurtosis use the
# sample sd (n-1) inside the standardization and divide by n; quantiles interpolate linearly.
for n in [7, 100]:
    x = rng.standard_t(5, n)
    m = x.mean()
    sd = x.std(ddof=1)
    add(
        "describe",
        dict(x=x.tolist()),
        0.0,
        0.0,
        mean=float(m),
        variance=float(x.var(ddof=1)),
        skewness=float(np.mean(((x - m) / sd) ** 3)),
        kurtosis=float(np.mean(((x - m) / sd) ** 4) - 3),
        quantiles=[float(np.quantile(x, q)) for q in [0.0, 0.1, 0.5, 0.9, 1.0]],
    )

print(
    json.dumps(
        dict(
            generator="Tests/Fixtures/scipy/make_scipy_reference.py",
            scipy=scipy.__version__,
            numpy=np.__version__,
            cases=cases,
        ),
        indent=0,
    )
)
