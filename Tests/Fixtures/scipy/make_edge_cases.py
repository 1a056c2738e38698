"""Edge-case references for the statistics module (scale-free tests at the ends of the exponent range,
one-sample zero variance). Run: python3 Tests/Fixtures/scipy/make_edge_cases.py"""
import json, scipy, numpy as np
from scipy import stats
cases = []
def add(kind, inputs, stat, p): cases.append(dict(kind=kind, inputs=inputs, statistic=stat, pValue=p))
r = stats.ttest_1samp(np.ldexp([1e308, -1e308, 1e308], -1024), 0); add("t1", dict(x=[1e308, -1e308, 1e308], mu=0), float(r.statistic), float(r.pvalue))
tiny=[5e-324*k for k in (3, 7, 1, 12, 5)]
r = stats.ttest_1samp(np.ldexp(tiny, 1074), 0); add("t1", dict(x=tiny, mu=0), float(r.statistic), float(r.pvalue))
big=[1e300*v for v in (1.0, 2.5, -0.5, 3.0, 0.25)]
r = stats.ttest_1samp(np.array(big)/1e300, 0); add("t1", dict(x=big, mu=0), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind([1,2,3],[3,3,3], equal_var=True); add("t2pooled", dict(x=[1,2,3], y=[3,3,3]), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind([1,2,3],[3,3,3], equal_var=False); add("t2welch", dict(x=[1,2,3], y=[3,3,3]), float(r.statistic), float(r.pvalue))
xs=[2e307, -1e307, 3e307, 5e306]; ys=[-2e307, 1e306, -3e307, 4e306, -1e307]
r = stats.ttest_ind(np.array(xs)/1e307, np.array(ys)/1e307, equal_var=True); add("t2pooled", dict(x=xs, y=ys), float(r.statistic), float(r.pvalue))
r = stats.ttest_ind(np.array(xs)/1e307, np.array(ys)/1e307, equal_var=False); add("t2welch", dict(x=xs, y=ys), float(r.statistic), float(r.pvalue))
json.dump(dict(generator="Tests/Fixtures/scipy/make_edge_cases.py", scipy=scipy.__version__, numpy=np.__version__,
               note="scale-free tests on data near the ends of the exponent range: SciPy evaluated on the data scaled by a power of two or ten (exactly, or to 1 ulp) where its own arithmetic would overflow or underflow (t = 0, p = 1 for [1e308, -1e308, 1e308] unscaled); the statistic and p-value are scale-free",
               cases=cases), open(__import__("os").path.join(__import__("os").path.dirname(__file__), "edge_cases.json"), "w"), indent=1)
for c in cases: print(c["kind"], c["statistic"], c["pValue"])
