"""The detector on the shared labelled capture (Lemay & Fernandez, CSET'16): figures of docs/ids.md.

The honest split learns from the first part of the capture (frames labelled 0 only) and scores the frames after
it; thresholds are the engine's fixed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoyun.security.ids import evaluate

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "modbus"


@pytest.fixture(scope="module")
def rows() -> list[evaluate.Row]:
    if not evaluate.labelled_captures(DATA):
        pytest.skip(f"no labelled Modbus capture in {DATA} (the shared data sets are not on this machine)")
    return evaluate.evaluate_folder(DATA)


def test_time_splits_find_the_attack_without_false_alarms(rows: list[evaluate.Row]) -> None:
    forward = [r for r in rows if r.split.startswith("learn first")]
    assert forward
    for r in forward:
        if r.attacks:
            assert r.score.recall == 1.0, (r.split, r.score)
        assert r.score.fp_rate < 0.001, (r.split, r.score)


def test_learning_the_later_half_flags_rare_windows_traffic_of_the_first(rows: list[evaluate.Row]) -> None:
    """Learned on the second half only, the one NetBIOS session of the first half is unknown: reported as is."""
    back = next(r for r in rows if r.split.startswith("learn last"))
    assert back.score.recall == 1.0
    assert back.score.fp_rate < 0.01
    assert set(back.rules) == {"unknown_flow"}
