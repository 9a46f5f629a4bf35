"""Remaining useful life on NASA C-MAPSS: cross-validated RMSE and PHM08 score, training seconds, predictions.

    .venv/bin/python benchmarks/rul.py [--train ../shared/data/cmapss/train_FD001.txt]
        [--test ../shared/data/cmapss/test_FD001.txt] [--out benchmarks/out/rul_FD001.txt]

Runs the same code as ``chaoyun rul-bench`` (chaoyun.apps.maintenance.predict.rul.bench), prints the figures with the
machine's load (``os.getloadavg``) and writes them to benchmarks/out/rul.json. The protocol (engines grouped in
5 folds, 5 random cut points per validation engine, RUL capped at 125) is in docs/predictive-maintenance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "cmapss"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default=str(DATA / "train_FD001.txt"))
    ap.add_argument("--test", default=str(DATA / "test_FD001.txt"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "rul_FD001.txt"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if not Path(args.train).exists():
        print(f"{args.train} is absent: the C-MAPSS data is not in ../shared/data")
        return 1
    from chaoyun.apps.maintenance.predict import rul

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    res = rul.bench(args.train, args.test, args.out, n_jobs=args.jobs)
    res["load_before"] = [round(x, 2) for x in load_before]
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    res["cpus"] = os.cpu_count()
    print(
        f"CV RMSE {res['rmse']:.2f} (folds {res['rmse_folds']}), PHM08 {res['phm08']:.1f} per {res['engines']} engines"
    )
    print(
        f"final model trained in {res['fit_seconds']:.1f} s; CV {res['seconds']:.1f} s; "
        f"total {res['total_seconds']:.1f} s"
    )
    print(f"load average before {res['load_before']}, after {res['load_after']} on {res['cpus']} CPUs")
    (ROOT / "benchmarks" / "out" / "rul.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
