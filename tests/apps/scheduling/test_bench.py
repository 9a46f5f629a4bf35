"""``chaoyun schedule-bench``: validated CSV rows on the standard formats, bad input answered with exit code 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaoyun.apps.scheduling import bench
from chaoyun.apps.scheduling.model import Assignment
from chaoyun.cli import app
from tests.apps.scheduling.test_solver import FJSP_TEXT, FT06_DURATIONS, FT06_MACHINES

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def ft06_json(tmp_path: Path) -> Path:
    path = tmp_path / "instances.json"
    path.write_text(
        json.dumps(
            {
                "ft06": {
                    "name": "ft06",
                    "duration_matrix": FT06_DURATIONS,
                    "machines_matrix": FT06_MACHINES,
                    "metadata": {"optimum": 55, "lower_bound": 55, "upper_bound": 55},
                }
            }
        ),
        encoding="utf-8",
    )
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_ft06_row(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(
        app, ["schedule-bench", str(ft06_json(tmp_path)), "--time-limit", "5", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert list(rows[0]) == bench.COLUMNS
    assert rows == [
        {
            "name": "ft06",
            "jobs": "6",
            "machines": "6",
            "makespan": "55",
            "lower_bound": "55",
            "best_known": "55",
            "gap_pct": "0.00",
            "seconds": rows[0]["seconds"],
            "status": "optimal",
        }
    ]


def test_shared_files_ft06_and_mk01(tmp_path: Path) -> None:
    jssp, fjsp = SHARED / "jssp" / "instances.json", SHARED / "fjsp" / "brandimarte"
    if not jssp.exists() or not fjsp.exists():
        pytest.skip("../shared/data is absent")
    out = tmp_path / "a.csv"
    r = CliRunner().invoke(
        app, ["schedule-bench", str(jssp), "--instances", "ft06", "--time-limit", "5", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert [(x["name"], x["makespan"], x["gap_pct"]) for x in read_rows(out)] == [("ft06", "55", "0.00")]
    r = CliRunner().invoke(
        app, ["schedule-bench", str(fjsp), "--instances", "mk01", "--time-limit", "5", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    rows = read_rows(out)
    assert [(x["name"], x["jobs"], x["machines"], x["best_known"]) for x in rows] == [("mk01", "10", "6", "40")]
    assert int(rows[0]["makespan"]) == 40


def test_fjsp_file_to_stdout(tmp_path: Path) -> None:
    path = tmp_path / "tiny.fjs"
    path.write_text(FJSP_TEXT, encoding="utf-8")
    r = CliRunner().invoke(app, ["schedule-bench", str(path), "--time-limit", "3"])
    assert r.exit_code == 0, r.output
    assert "name,jobs,machines,makespan" in r.stdout
    assert "tiny,3,3,9," in r.stdout


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda p: p / "missing.json", "No such file"),
        (lambda p: _write(p / "bad.json", "{not json"), "not valid JSON"),
        (lambda p: _write(p / "bad.json", '{"x": {"duration_matrix": [[1]]}}'), "malformed"),
        (lambda p: _write(p / "bad.txt", "2 2\n1 1 1 5\n"), "malformed"),
        (lambda p: _write(p / "bad.txt", "1 2\n1 1 3 5\n"), "out of range"),
    ],
)
def test_bad_input_exits_2_with_one_bilingual_line(tmp_path: Path, setup: object, words: str) -> None:
    path = setup(tmp_path)  # type: ignore[operator]
    r = CliRunner().invoke(app, ["schedule-bench", str(path), "--time-limit", "1"])
    assert r.exit_code == 2, r.output
    assert words in r.output
    assert "错误" in r.output


def test_unknown_instance_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["schedule-bench", str(ft06_json(tmp_path)), "--instances", "ft06,la99"])
    assert r.exit_code == 2
    assert "la99" in r.output and "没有这些实例" in r.output


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_schedule_failing_validation_is_an_error_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from chaoyun.apps.scheduling import solver

    real = solver.solve

    def broken(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        a = result.assignments[0]
        result.assignments[0] = Assignment(a.operation, a.job, a.machine, a.start + 1, a.end)
        return result

    monkeypatch.setattr(bench, "solve", broken)
    out = tmp_path / "r.csv"
    r = CliRunner().invoke(
        app, ["schedule-bench", str(ft06_json(tmp_path)), "--time-limit", "3", "--out", str(out)]
    )
    assert r.exit_code == 1
    rows = read_rows(out)
    assert rows[0]["status"].startswith("invalid_schedule")
    assert rows[0]["gap_pct"] == ""
