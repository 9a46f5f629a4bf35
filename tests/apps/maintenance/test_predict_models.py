"""The prediction models without a database: features on a hand-made unit, operating conditions found, the CV
protocol's engine grouping and test-like truncation, the PHM08 score, the benchmark commands on small slices of
the real files (skipped with a message when ../shared/data is absent), bad input named by line with exit 2, and
the anomaly model flagging an injected drift but not the healthy baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest

from chaoyun.apps.maintenance.predict import anomaly, failure, rul
from chaoyun.apps.maintenance.predict import features as ft
from chaoyun.apps.maintenance.predict.cli import failure_bench, rul_bench
from chaoyun.apps.maintenance.predict.features import DataError

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
CMAPSS = DATA / "cmapss"
AI4I = DATA / "ai4i2020" / "ai4i2020.csv"
ROW = "0.0 0.0 100.0 " + " ".join(f"{500 + i}.0" for i in range(21))


def _unit_lines(unit: int, cycles: int, slope: float = 0.0, setting: float = 0.0) -> list[str]:
    out = []
    for c in range(1, cycles + 1):
        sensors = " ".join(
            f"{500 + i + (slope * c if i == 1 else 0.0) + 0.01 * ((c * (i + 3)) % 7):.3f}" for i in range(21)
        )
        out.append(f"{unit} {c} {setting} 0.0 100.0 {sensors}")
    return out


def _write(tmp: Path, name: str, lines: list[str]) -> Path:
    p = tmp / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_window_features_on_a_hand_made_unit(tmp_path: Path) -> None:
    df = ft.read_cmapss(_write(tmp_path, "u.txt", _unit_lines(1, 12, slope=1.0) + _unit_lines(2, 5)))
    assert list(df["unit"].unique()) == [1, 2] and len(df) == 17
    assert ft.add_rul(df).tolist()[:3] == [11, 10, 9] and ft.add_rul(df, 5).tolist()[0] == 5
    pipe = ft.fit_pipeline(df)
    assert pipe.conditions.k == 1 and "s2" in pipe.conditions.sensors
    x = pipe.transform(df)
    u1 = x[df["unit"] == 1]
    # s2 climbs by 1 a cycle: its slope over 20 cycles is 1 / std (normalised), its 5-cycle mean lags
    # the value by 2 cycles, and nothing of unit 1 leaks into unit 2's first row (its slope is 0).
    sd = pipe.conditions.std[0][pipe.conditions.sensors.index("s2")]
    assert np.allclose(u1["s2_slope20"].iloc[2:], 1 / sd, atol=0.02 / sd)
    assert np.isclose(u1["s2"].iloc[-1] - u1["s2_m5"].iloc[-1], 2 / sd, atol=0.05 / sd)
    assert x[df["unit"] == 2]["s2_slope20"].iloc[0] == 0 and u1["cycle"].tolist() == list(range(1, 13))
    # Causal: the features of cycle 8 are the same when the unit is cut at 8.
    cut = pipe.transform(df[(df["unit"] == 1) & (df["cycle"] <= 8)])
    assert np.allclose(cut.iloc[-1].to_numpy(), u1.iloc[7].to_numpy())
    assert list(ft.last_rows(df)) == [11, 16]


def test_operating_conditions_are_found_and_normalised(tmp_path: Path) -> None:
    lines = []
    for u in range(1, 7):
        for c in range(1, 31):
            cond = (u + c) % 3  # three flight conditions
            base = " ".join(f"{500 + 100 * cond + i + 0.1 * ((c * u * (i + 1)) % 5):.2f}" for i in range(21))
            lines.append(f"{u} {c} {10.0 * cond + 0.001 * (c % 3)} {0.2 * cond} {100 - 20 * cond} {base}")
    df = ft.read_cmapss(_write(tmp_path, "fd2.txt", lines))
    cond = ft.fit_conditions(df)
    assert cond.k == 3
    norm = cond.normalise(df)
    # Per condition each sensor has mean 0 and sd 1: the 100-unit jumps between conditions are gone.
    assert abs(norm["s1"].mean()) < 1e-9 and norm.groupby("condition")["s1"].std(ddof=0).round(6).eq(1).all()


def test_cv_groups_engines_and_cuts_like_the_test_files(tmp_path: Path) -> None:
    lines = []
    for u in range(1, 11):
        lines += _unit_lines(u, 40 + 6 * u, slope=0.5)
    df = ft.read_cmapss(_write(tmp_path, "t.txt", lines))
    params = dict(rul.LGB_PARAMS, n_estimators=20)
    res = rul.cross_validate(df, params=params, folds=5, cuts=3, n_jobs=1)
    assert res.n_engines == 10 and len(res.predictions) == 30 and len(res.rmse_folds) == 5
    lengths = df.groupby("unit")["cycle"].max().to_dict()
    for p in res.predictions:
        length = lengths[p["unit"]]
        assert max(2, int(np.ceil(0.1 * length))) <= p["cycle"] <= length
        assert p["true"] == min(length - p["cycle"], rul.CAP)
    # Every engine is validated exactly once (3 cuts), by a model that never saw it (asserted inside too).
    units = pd.Series([p["unit"] for p in res.predictions]).value_counts()
    assert set(units.index) == set(range(1, 11)) and units.eq(3).all()
    assert rul.cut_points({1: 100}, 4, seed=1) == rul.cut_points({1: 100}, 4, seed=1)


def test_phm08_score_punishes_late_more_than_early() -> None:
    assert rul.phm08_score(np.array([10.0]), np.array([10.0])) == 0
    late = rul.phm08_score(np.array([20.0]), np.array([10.0]))
    early = rul.phm08_score(np.array([0.0]), np.array([10.0]))
    assert np.isclose(late, np.e - 1) and np.isclose(early, np.exp(10 / 13) - 1) and late > early
    assert rul.rmse(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == np.sqrt(2)


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent: the benchmark data set is not in ../shared/data")


def test_rul_bench_on_a_slice_writes_one_line_per_test_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need(CMAPSS / "train_FD001.txt")
    train = (CMAPSS / "train_FD001.txt").read_text().splitlines()
    test = (CMAPSS / "test_FD001.txt").read_text().splitlines()
    tr = _write(tmp_path, "train.txt", [ln for ln in train if int(ln.split()[0]) <= 12])
    te = _write(tmp_path, "test.txt", [ln for ln in test if int(ln.split()[0]) <= 7])
    out = tmp_path / "pred.txt"
    assert rul_bench(str(tr), str(te), str(out), folds=3, cuts=2, jobs=1) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 7 and all(0 <= float(v) <= rul.CAP for v in lines)
    printed = capsys.readouterr().out
    assert "CV RMSE" in printed and "PHM08" in printed and "7 predictions" in printed


def test_failure_bench_on_a_slice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need(AI4I)
    rows = AI4I.read_text(encoding="utf-8-sig").splitlines()
    header, body = rows[0], rows[1:]
    pos = [r for r in body if r.split(",")[8] == "1"][:40]
    neg = [r for r in body if r.split(",")[8] == "0"][:800]
    p = _write(tmp_path, "ai4i.csv", [header, *pos, *neg])
    x, y = failure.read_ai4i(p)
    assert y.sum() == 40 and not {"TWF", "HDF", "PWF", "OSF", "RNF", "UDI"} & set(x.columns)
    res = failure.cross_validate(x, y, folds=5, n_jobs=1)
    assert 0 <= res["f1"] <= 1 and res["pr_auc"] > 0.3 and len(res["folds"]) == 5
    assert failure_bench(str(p), jobs=1) == 0
    printed = capsys.readouterr().out
    assert "F1" in printed and "PR-AUC" in printed and "accuracy" in printed


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([*_unit_lines(1, 3), "2 1 0.0 0.0 100.0 518.67"], "line 4: 6 columns, expected 26"),
        ([*_unit_lines(1, 3), *_unit_lines(2, 1), *_unit_lines(3, 2)], "line 4: unit 2 has a single cycle"),
        (
            [*_unit_lines(1, 2), "1 3 0.0 0.0 100.0 " + ROW.split(" ", 3)[3].replace("505.0", "nan", 1)],
            "line 3: column s6 is “nan”",
        ),
        ([*_unit_lines(1, 2), "1 4 " + ROW], "line 3: unit 1 cycle 4 follows cycle 2"),
    ],
)
def test_bad_cmapss_input_names_the_line(tmp_path: Path, lines: list[str], expected: str) -> None:
    p = _write(tmp_path, "bad.txt", lines)
    with pytest.raises(DataError) as exc:
        ft.read_cmapss(p)
    assert expected in exc.value.messages()["en"]
    assert "行" in exc.value.messages()["zh"]


def test_bad_input_through_the_commands_exit_2(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.txt", [*_unit_lines(1, 3), "1 4 0.0 0.0"])
    good = _write(tmp_path, "good.txt", _unit_lines(1, 3))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaoyun",
            "rul-bench",
            "--train",
            str(bad),
            "--test",
            str(good),
            "--out",
            str(tmp_path / "o.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "第 4 行" in err[0] and "line 4" in err[0] and "Traceback" not in r.stderr
    csv = _write(tmp_path, "bad.csv", ["UDI,Type,Machine failure", "1,L,0"])
    r = subprocess.run(
        [sys.executable, "-m", "chaoyun", "failure-bench", str(csv)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2 and "line 1: missing columns" in r.stderr and "缺少列" in r.stderr
    nan = _write(
        tmp_path,
        "nan.csv",
        [
            "UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],Torque [Nm],"
            "Tool wear [min],Machine failure,TWF,HDF,PWF,OSF,RNF",
            "1,M1,M,298.1,308.6,1551,42.8,0,0,0,0,0,0,0",
            "2,L1,L,298.2,,1408,46.3,3,0,0,0,0,0,0",
        ],
    )
    with pytest.raises(DataError) as exc:
        failure.read_ai4i(nan)
    assert "line 3: column Process temperature [K]" in exc.value.messages()["en"]


def test_anomaly_model_flags_drift_not_the_baseline() -> None:
    d = anomaly.synthetic(seed=4, faults=0)
    x, t = d["x"], d["t_days"]
    rows = [("running", dict(zip(d["signals"], r, strict=True))) for r in x]
    base = [r for r, tt in zip(rows, t, strict=True) if tt < d["baseline_days"]]
    model = anomaly.fit(base, d["signals"])
    scores = np.array([anomaly.AnomalyModel.score(model.deviations(s, v) or {}) for s, v in rows])
    healthy = (t >= d["baseline_days"]) & (t < d["drift_start_days"])
    late = t > d["drift_start_days"] + 2
    assert (scores[healthy] > model.threshold).mean() < 0.01
    assert (scores[late] > model.threshold).all()
    z = model.deviations("running", rows[-1][1])
    assert z is not None and max(z, key=lambda k: z[k]) in ("vibration", "oil_temp") and abs(z["barrel_temp"]) < 4
    text = anomaly.summary(z, {"vibration": "振动", "oil_temp": "油温"}, model.threshold)
    assert text.startswith(("振动 +", "油温 +")) and "σ" in text
    # An idle window is not judged by the running baseline; a state without enough baseline is not scored.
    assert model.deviations("idle", rows[-1][1]) is None
    again = anomaly.AnomalyModel.from_json(model.to_json())
    assert again.deviations("running", rows[-1][1]) == z


def test_method_comparison_runs() -> None:
    res = {r["method"]: r for r in anomaly.compare_methods(seed=0)}
    assert set(res) == {"robust", "pca", "iforest"}
    assert res["robust"]["false_alarms"] == 0 and res["robust"]["drift_delay_h"] is not None
