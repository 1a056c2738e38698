"""Edge-case references for the statistics module (scale-free tests at the ends of the exponent range,
one-sample zero variance). Run: python3 Tests/Fixtures/scipy/make_edge_cases.py"""

import json, scipy, numpy as np
from scipy import stats

cases = []


def add(kind, inputs, stat, p):
    cases.append(dict(kind=kind, inputs=inputs, statistic=stat, pValue=p))


r = stats.ttest_1samp(np.ldexp([1e308, -1e308, 1e308], -1024), 0)
add("t1", dict(x=[1e308, -1e308, 1e308], mu=0), float(r.statistic), float(r.pvalue))
tiny = [5e-324 * k for k in (3, 7, 1, 12, 5)]
r = stats.ttest_1samp(np.ldexp(tiny, 1074), 0)
add("t1", dict(x=tiny, mu=0), float(r.statistic), float(r.pvalue))
big = [1e300 * v for v in (1.0, 2.5, -0.5, 3.0, 0.25)]
r = stats.ttest_1samp(np.array(big) / 1e300, 0)
add("t1", dict(x=big, mu=0), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind([1, 2, 3], [3, 3, 3], equal_var=True)
add("t2pooled", dict(x=[1, 2, 3], y=[3, 3, 3]), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind([1, 2, 3], [3, 3, 3], equal_var=False)
add("t2welch", dict(x=[1, 2, 3], y=[3, 3, 3]), float(r.statistic), float(r.pvalue))
xs = [2e307, -1e307, 3e307, 5e306]
ys = [-2e307, 1e306, -3e307, 4e306, -1e307]
r = stats.ttest_ind(np.array(xs) / 1e307, np.array(ys) / 1e307, equal_var=True)
add("t2pooled", dict(x=xs, y=ys), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind(np.array(xs) / 1e307, np.array(ys) / 1e307, equal_var=False)
add("t2welch", dict(x=xs, y=ys), float(r.statistic), float(r.pvalue))
# Added with the second probe campaign (issue 10): a mean far outside the data, a sample far
# smaller than the other, Welch with one zero-variance sample, binomial tests at 10⁹ trials,
# Clopper–Pearson and beta quantiles at a = b = 10⁶, Student's t at huge degrees of freedom.
r = stats.ttest_1samp([1, 2, 3], 1e308)
add("t1", dict(x=[1, 2, 3], mu=1e308), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind([1, 1], [1e-85, 2e-85], equal_var=False)
add("t2welch", dict(x=[1, 1], y=[1e-85, 2e-85]), float(r.statistic), float(r.pvalue))
# SciPy returns NaN for this one (its pooled variance underflows at the common scale): the value
# is computed from the scaled samples, whose pooled variance is that of [1, 2, 3] alone.
r = stats.ttest_ind([1, 2, 3], [1.0, 1.0], equal_var=True)
tt = (2 - 1e308) / np.sqrt((2 * 1.0 + 0) / 3 * (1 / 3 + 1 / 2))
add("t2pooled", dict(x=[1, 2, 3], y=[1e308, 1e308]), float(tt), 0.0)
for k, n, pp in [(3, 20, 0.4), (1_000_000_000, 2_000_000_000, 0.5), (700, 2000, 0.37), (0, 10, 0.0), (5, 10, 1.0)]:
    add("binom", dict(args=[k, n, pp]), k / n, float(stats.binomtest(k, n, pp).pvalue))
ci = stats.binomtest(1_000_000, 2_000_000).proportion_ci(method="exact")
add("cp", dict(args=[1_000_000, 2_000_000]), float(ci.low), float(ci.high))
for q, a, bb in [(0.5, 1e6, 1e6), (0.025, 5, 10), (1e-10, 3, 4), (0.975, 1e5, 3)]:
    add("beta", dict(args=[q, a, bb]), float(stats.beta.ppf(q, a, bb)), float(stats.beta.isf(q, a, bb)))
import mpmath as mp

mp.mp.dps = 50
for tv, nu in [(3, 1e8), (3, 1e14), (3, 1e16), (3, 1e20), (10, 1e10), (0.5, 1e300)]:
    r_ = mp.mpf(nu) / (mp.mpf(nu) + mp.mpf(tv) ** 2)
    pv = mp.betainc(mp.mpf(nu) / 2, mp.mpf(1) / 2, 0, r_, regularized=True) if nu < 1e25 else 2 * mp.ncdf(-tv)
    add("t2sided", dict(args=[tv, nu]), float(tv), float(pv))
json.dump(
    dict(
        generator="Tests/Fixtures/scipy/make_edge_cases.py",
        scipy=scipy.__version__,
        numpy=np.__version__,
        note=(
            "(t2sided: mpmath, 50 digits, the regularized incomplete beta, or the normal limit beyond nu = 1e25; "
            "t2pooled with y = [1e308, 1e308]: by hand, SciPy gives NaN) scale-free tests on data near the ends "
            "of the exponent range: SciPy evaluated on the data scaled by a power of two or ten (exactly, or to 1"
            " ulp) where its own arithmetic would overflow or underflow (t = 0, p = 1 for [1e308, -1e308, 1e308] "
            "unscaled); the statistic and p-value are scale-free"
        ),
        cases=cases,
    ),
    open(__import__("os").path.join(__import__("os").path.dirname(__file__), "edge_cases.json"), "w"),
    indent=1,
)
for c in cases:
    print(c["kind"], c["statistic"], c["pValue"])
