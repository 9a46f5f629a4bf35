"""Failure prediction on AI4I 2020: 5-fold stratified cross-validated F1 and PR-AUC, training seconds.

    .venv/bin/python benchmarks/failure.py [--file ../shared/data/ai4i2020/ai4i2020.csv]

Same code as ``chaoyun failure-bench`` (chaoyun.apps.maintenance.predict.failure); identifiers and the five
failure-mode flags are left out, the threshold is chosen inside each training fold. Prints the figures with the
machine's load and writes benchmarks/out/failure.json. Also prints the anomaly methods' comparison on the simulated
drift with injected faults (chaoyun.apps.maintenance.predict.anomaly.compare_methods, three seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", default=str(ROOT.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not Path(args.file).exists():
        print(f"{args.file} is absent: the AI4I data is not in ../shared/data")
        return 1
    from chaoyun.apps.maintenance.predict import anomaly, failure

    load_before = os.getloadavg()
    res = failure.bench(args.file, n_jobs=args.jobs)
    res["load_before"] = [round(x, 2) for x in load_before]
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"F1 {res['f1']:.3f} ± {res['f1_std']:.3f}, PR-AUC {res['pr_auc']:.3f} ± {res['pr_auc_std']:.3f}, "
        f"precision {res['precision']:.3f}, recall {res['recall']:.3f}, accuracy {res['accuracy']:.4f}"
    )
    print(f"{res['seconds']:.1f} s for the 5 outer folds (each with a 3-fold inner split for the threshold)")
    print(f"load average before {res['load_before']}, after {res['load_after']} on {os.cpu_count()} CPUs")
    res["anomaly_methods"] = [dict(r, seed=s) for s in (0, 1, 2) for r in anomaly.compare_methods(seed=s)]
    for r in res["anomaly_methods"]:
        print("anomaly", r)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "failure.json").write_text(json.dumps(res, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
