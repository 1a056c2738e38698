"""Side-by-side summary of the JSON files that run.sh wrote (unbench with 1 and 2 threads, the
cross-module-optimized build, torch): python3 summarize.py results"""
import json
import os
import sys

d = sys.argv[1]


def load(name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else None


runs = [("toolkit, 1 thread", load("unbench-1thread.json")), ("toolkit, 2 threads", load("unbench-2thread.json")),
        ("toolkit, CMO build, 1 thread", load("unbench-cmo-1thread.json")),
        ("toolkit, 1 thread, glibc keeps freed memory", load("unbench-keepmem-1thread.json")),
        ("torch, 1 thread", load("torch-1thread.json")), ("torch, 2 threads", load("torch-2thread.json"))]
runs = [(n, r) for n, r in runs if r]
targets = {"LayerNorm forward (inference)": 0.5, "LayerNorm forward (inference), output reused": 0.5,
           "RMSNorm forward (inference)": 0.5, "RMSNorm forward (inference), output reused": 0.5,
           "UN inference map (per-channel affine)": 0.7, "LayerNorm training forward + backward": 0.3,
           "LayerNorm training forward + backward, buffers reused": 0.3,
           "RMSNorm training forward + backward, buffers reused": 0.3,
           "UN inference map (per-channel affine), output reused": 0.7,
           "UN training forward + backward": 0.3, "UN training forward + backward, buffers reused": 0.3}
print(open(os.path.join(d, "machine.txt")).read())
print("Ratio to a memory copy of the same bytes in the same run (median over rounds, [min, max]); "
      "the target is the issue's.\n")
print("| operation | target | " + " | ".join(n for n, _ in runs) + " |")
print("|---|---|" + "---|" * len(runs))
for op, tgt in targets.items():
    cells = []
    for _, r in runs:
        m = next((x for x in r["results"] if x["name"] == op), None)
        cells.append("%.3g [%.3g, %.3g], %.3g ms" % (m["ratio"]["median"], m["ratio"]["min"], m["ratio"]["max"],
                                                     m["medianSeconds"] * 1e3) if m else "—")
    print("| %s | ≥ %.1f | %s |" % (op, tgt, " | ".join(cells)))
pairs = [(load("pair-plain-%d.json" % i), load("pair-cmo-%d.json" % i)) for i in range(1, 6)]
pairs = [(p, c) for p, c in pairs if p and c]
if pairs:
    print("\nA client's plain release build against the same source fully specialized (-cross-module-optimization), "
          "1 thread, time ratio plain ÷ CMO (target ≤ 1.2), median over %d pairs of runs made one after the other "
          "[min, max]:\n" % len(pairs))
    for x in pairs[0][0]["results"]:
        rs = []
        for p, c in pairs:
            a = next((z for z in p["results"] if z["name"] == x["name"]), None)
            b = next((z for z in c["results"] if z["name"] == x["name"]), None)
            if a and b:
                rs.append(a["medianSeconds"] / b["medianSeconds"])
        rs.sort()
        if rs:
            print("- %s: %.3g [%.3g, %.3g]" % (x["name"], rs[len(rs) // 2], rs[0], rs[-1]))
for label, pa, ca in [("", "unbench-1thread.json", "unbench-cmo-1thread.json"),
                      (", both with glibc keeping freed memory (no page-fault noise)",
                       "unbench-keepmem-1thread.json", "unbench-cmo-keepmem-1thread.json")]:
    plain, cmo = load(pa), load(ca)
    if not (plain and cmo):
        continue
    print("\nThe same, from the single runs above (made minutes apart: machine drift included), "
          "1 thread%s, time ratio:\n" % label)
    for x in plain["results"]:
        y = next((z for z in cmo["results"] if z["name"] == x["name"]), None)
        if y:
            print("- %s: %.3g" % (x["name"], x["medianSeconds"] / y["medianSeconds"]))
print("\nGradient checker, LayerNorm 4 × 64 full Jacobian (256 × 256), Double, median time:\n")
for n, r in runs:
    for x in r["results"]:
        if "Jacobian" in x["name"] or "gradcheck" in x["name"]:
            print("- %s: %s: %.4f s%s" % (n, x["name"], x["medianSeconds"],
                                         ", %d evaluations" % x["evaluations"] if "evaluations" in x else ""))

checker = [(load("pair-checker-%d.json" % i), load("pair-torch1-%d.json" % i), load("pair-torch2-%d.json" % i))
           for i in range(1, 6)]
checker = [c for c in checker if all(c)]
if checker:
    print("\nThe checker beside torch's gradcheck (slow mode), LayerNorm 4 × 64 full Jacobian, Double: time ratio "
          "toolkit ÷ torch, median over %d alternating pairs [min, max] (target ≤ 1):\n" % len(checker))
    for x in checker[0][0]["results"]:
        if "Jacobian" not in x["name"]:
            continue
        two = x["name"].endswith("concurrentColumns 2")
        rs, ts, us = [], [], []
        for c, t1, t2 in checker:
            a = next((z for z in c["results"] if z["name"] == x["name"]), None)
            t = (t2 if two else t1)["results"][0]["medianSeconds"]
            if a:
                rs.append(a["medianSeconds"] / t)
                us.append(a["medianSeconds"])
                ts.append(t)
        rs.sort(); us.sort(); ts.sort()
        print("- %s, against torch with %d thread(s): %.3g [%.3g, %.3g] (toolkit %.4f s, torch %.4f s, medians)"
              % (x["name"], 2 if two else 1, rs[len(rs) // 2], rs[0], rs[-1], us[len(us) // 2], ts[len(ts) // 2]))
