"""Evaluation on labelled captures (``frame;0|1`` files next to each pcap, as in ``../shared/data/modbus``).

The honest figure is the time split: the profile is learned from the first part of a capture (its frames
labelled 0) and scored on the frames after it, which it has never seen — the way a profile learned on one day is
used on the next. ``learn all, scan all`` is printed too, marked as optimistic. Thresholds are fixed in the
engine (``PARAMS``, ``_limit``) and are never tuned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chaoyun.security.ids import engine, pcap

TRAIN_SHARES = (0.2, 0.3, 0.5, 0.7)


@dataclass
class Row:
    capture: str
    split: str
    scored: str
    attacks: int
    score: engine.Score
    rules: dict[str, int]


def labelled_captures(folder: Path) -> list[tuple[Path, Path]]:
    out = []
    for cap in sorted(list(folder.glob("*.pcap")) + list(folder.glob("*.pcapng"))):
        for cand in (
            cap.with_name(cap.stem + "_labeled.csv"),
            cap.with_name(cap.stem + "_labels.csv"),
            cap.with_suffix(".csv"),
        ):
            if cand.exists():
                out.append((cap, cand))
                break
    return out


def _rules(alerts: list[engine.Alert], first: int, last: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in alerts:
        k = sum(1 for f in a.frames if first <= f <= last)
        if k:
            out[a.rule] = out.get(a.rule, 0) + k
    return out


def evaluate_capture(cap: Path, labels_path: Path) -> list[Row]:
    labels = engine.read_labels(labels_path.read_text(encoding="utf-8", errors="replace"))
    with cap.open("rb") as f:
        frames = list(pcap.iter_frames(f))
    n = len(frames)
    rows: list[Row] = []

    def run(split: str, train: tuple[int, int], test: tuple[int, int]) -> None:
        lo, hi = train
        sub = {no - lo + 1: labels.get(no, 0) for no in range(lo, hi + 1)}
        prof = engine.learn(frames[lo - 1 : hi], sub, source=cap.name)
        verdicts, alerts = engine.scan(frames, prof)
        s = engine.score(verdicts, labels, test[0], test[1])
        attacks = sum(labels.get(no, 0) for no in range(test[0], test[1] + 1))
        rows.append(Row(cap.name, split, f"{test[0]}-{test[1]}", attacks, s, _rules(alerts, test[0], test[1])))

    for share in TRAIN_SHARES:
        cut = int(n * share)
        run(f"learn first {share:.0%}, scan rest", (1, cut), (cut + 1, n))
    half = n // 2
    run("learn last 50%, scan first 50%", (half + 1, n), (1, half))
    run("learn all, scan all (optimistic)", (1, n), (1, n))
    return rows


def evaluate_folder(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for cap, lab in labelled_captures(folder):
        rows.extend(evaluate_capture(cap, lab))
    return rows


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"
