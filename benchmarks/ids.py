"""Intrusion detector throughput on one core (target ≥ 50,000 packets/s) and its figures on the shared capture.

    .venv/bin/python benchmarks/ids.py [--minutes 60] [--repeat 3] [--json]

1. A simulated plant capture (``chaoyun.security.ids.synth``: an HMI polling three PLCs every second over
   persistent connections, operator writes, broadcasts) of ``--minutes`` minutes, with every attack scenario mixed
   in, is written to a temporary pcap; the profile is learned from an hour of normal traffic before it. Timed:
   reading the file, dissecting, checking every frame, writing the verdict file — the whole ``chaoyun ids scan``
   path without the table printing. Best of ``--repeat`` runs (Python is single-threaded: one core).
2. The shared capture (``../shared/data/modbus``, when present) scanned the same way, and the evaluation table
   (precision, recall, F1 per time split) printed.

The machine's load (``uptime``) is printed next to the figures. The temporary folder is removed at exit.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaoyun.security.ids import engine, evaluate, pcap, synth  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "modbus"
TARGET = 50_000


def timed_scan(path: Path, profile: dict, out: Path) -> tuple[int, float, float]:
    """Frames, wall seconds, CPU seconds of this process (the scan is single-threaded: one core)."""
    t0, c0 = time.perf_counter(), time.process_time()
    with path.open("rb") as f:
        verdicts, _alerts = engine.scan(pcap.iter_frames(f), profile)
    out.write_text(engine.verdict_lines(verdicts), encoding="ascii")
    return len(verdicts), time.perf_counter() - t0, time.process_time() - c0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="chaoyun-ids-bench-"))
    atexit.register(shutil.rmtree, tmp, True)
    result: dict = {"load_before": load()}

    start = 1_767_225_600.0
    t0 = time.perf_counter()
    profile = engine.learn(synth.plant(3600, start))
    data = synth.mixed(args.minutes * 60, start + 3600, spacing=args.minutes * 60 / 8)
    cap = tmp / "plant.pcap"
    pcap.write_pcap(str(cap), [(t, f) for t, f, _ in data])
    gen_s = time.perf_counter() - t0
    best = min((timed_scan(cap, profile, tmp / "v.csv") for _ in range(args.repeat)), key=lambda r: r[1])
    n, secs, cpu = best
    verdicts = [int(line.split(";")[1]) for line in (tmp / "v.csv").read_text().splitlines()]
    s = engine.score(verdicts, {i + 1: y for i, (_t, _f, y) in enumerate(data)})
    result["synthetic"] = {
        "frames": n,
        "bytes": cap.stat().st_size,
        "seconds": round(secs, 3),
        "packets_per_s": round(n / secs),
        "cpu_seconds": round(cpu, 3),
        "packets_per_cpu_s": round(n / cpu),
        "generation_s": round(gen_s, 1),
        "precision": s.precision,
        "recall": s.recall,
    }
    if n != len(data):
        raise SystemExit(f"scan read {n} frames of {len(data)}")

    if evaluate.labelled_captures(SHARED):
        cap2, lab = evaluate.labelled_captures(SHARED)[0]
        prof2 = engine.learn(pcap.iter_frames(cap2.open("rb")), engine.read_labels(lab.read_text()), source=cap2.name)
        n2, secs2, cpu2 = min(
            (timed_scan(cap2, prof2, tmp / "v2.csv") for _ in range(max(args.repeat, 5))), key=lambda r: r[1]
        )
        result["shared"] = {
            "capture": cap2.name,
            "frames": n2,
            "seconds": round(secs2, 4),
            "packets_per_s": round(n2 / secs2),
            "packets_per_cpu_s": round(n2 / cpu2),
        }
        rows = evaluate.evaluate_folder(SHARED)
        result["evaluation"] = [
            {
                "capture": r.capture,
                "split": r.split,
                "scored": r.scored,
                "attacks": r.attacks,
                "tp": r.score.tp,
                "fp": r.score.fp,
                "fn": r.score.fn,
                "precision": r.score.precision,
                "recall": r.score.recall,
                "f1": r.score.f1,
                "fp_rate": round(r.score.fp_rate, 5),
                "rules": r.rules,
            }
            for r in rows
        ]
    else:
        result["shared"] = f"skipped: no labelled capture in {SHARED}"
    result["load_after"] = load()

    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        syn = result["synthetic"]
        print(f"machine: {result['load_before']} (before), {result['load_after']} (after)")
        print(
            f"simulated plant capture: {syn['frames']:,} frames, {syn['bytes'] / 1e6:.1f} MB, scanned in "
            f"{syn['seconds']} s → {syn['packets_per_s']:,} packets/s wall clock, "
            f"{syn['packets_per_cpu_s']:,} packets per CPU-second on one core (target ≥ {TARGET:,}); "
            f"precision {evaluate.fmt(syn['precision'])}, recall {evaluate.fmt(syn['recall'])}"
        )
        if isinstance(result["shared"], dict):
            sh = result["shared"]
            print(
                f"shared capture {sh['capture']}: {sh['frames']:,} frames in {sh['seconds']} s → "
                f"{sh['packets_per_s']:,} packets/s wall clock, {sh['packets_per_cpu_s']:,} per CPU-second"
            )
            print(
                f"{'split':36} {'scored':>13} {'attacks':>7} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>6} "
                f"{'recall':>6} {'F1':>6} {'FP rate':>8}"
            )
            for r in result["evaluation"]:
                print(
                    f"{r['split']:36} {r['scored']:>13} {r['attacks']:>7} {r['tp']:>4} {r['fp']:>4} {r['fn']:>4} "
                    f"{evaluate.fmt(r['precision']):>6} {evaluate.fmt(r['recall']):>6} {evaluate.fmt(r['f1']):>6} "
                    f"{r['fp_rate']:>8.5f}"
                )
        else:
            print(result["shared"])
    # On a shared machine the wall clock counts other processes' time too; CPU time is this scan's own core.
    pps = result["synthetic"]["packets_per_cpu_s"]
    if pps < TARGET:
        print(f"BELOW TARGET: {pps:,} packets/s < {TARGET:,}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
