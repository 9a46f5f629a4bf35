"""Remaining useful life from run-to-failure history: LightGBM on causal window features, an honest
cross-validation that evaluates like the C-MAPSS test files, the PHM08 score, and the ``rul-bench`` command.

Cross-validation protocol (``cross_validate``): engines are split with ``GroupKFold`` (5 folds), so no engine
is ever in both the training and validation part of a fold; the feature pipeline (operating conditions and
their statistics) is fitted on the training part only. Each validation engine of length ``L`` is cut at
``cuts`` random cycles ``c`` drawn uniformly from ``[max(2, ceil(0.1 L)), L]`` (a seeded generator), and the
model predicts from the row of cycle ``c`` — whose features use cycles ``<= c`` only, exactly like the last
row of a truncated test trajectory. The truth is ``min(L - c, cap)`` with ``cap = 125``: the standard
piece-wise linear target, also used for training. RMSE and the PHM08 score are computed over all cuts; the
score, a sum over engines, is reported per set of one cut per engine (the mean over the cut repetitions), so
it compares with a test file of the same number of engines.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sklearn.model_selection import GroupKFold  # type: ignore[import-untyped]

from chaoyun.apps.maintenance.predict import features as ft
from chaoyun.i18n import N_

CAP = 125.0
N_FOLDS = 5
CUTS = 5

LGB_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "n_estimators": 400,
    "learning_rate": 0.05,
    "max_bin": 63,
    "num_leaves": 31,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 1.0,
    "verbose": -1,
}


def phm08_score(pred: np.ndarray, true: np.ndarray) -> float:
    """PHM08 challenge score: sum of exp(-d/13) - 1 for early predictions (d < 0) and exp(d/10) - 1 for late
    ones, with d = predicted - true RUL. Lower is better; late predictions cost more."""
    d = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0).sum())


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, float) - np.asarray(true, float)) ** 2)))


def _regressor(params: dict[str, Any], n_jobs: int, seed: int, alpha: float | None = None) -> Any:
    import os

    # Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning made fits 10x slower.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import lightgbm as lgb

    p = dict(params, n_jobs=n_jobs, random_state=seed)
    if alpha is not None:
        p.update(objective="quantile", alpha=alpha)
    return lgb.LGBMRegressor(**p)


@dataclass
class RulModel:
    """A fitted pipeline and booster, with the interval half-widths from cross-validated residuals."""

    pipeline: ft.Pipeline
    model: Any
    cap: float = CAP
    residual_q: tuple[float, float] = (0.0, 0.0)  # 10 % and 90 % quantiles of (true - predicted) in CV

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        x = self.pipeline.transform(df)
        return np.asarray(np.clip(self.model.predict(x), 0.0, self.cap), dtype=float)

    def predict_last(self, df: pd.DataFrame) -> np.ndarray:
        pred = self.predict(df)
        return np.asarray(pred[ft.last_rows(df)], dtype=float)


def fit(train: pd.DataFrame, params: dict[str, Any] | None = None, n_jobs: int = 2, seed: int = 0) -> RulModel:
    pipe = ft.fit_pipeline(train)
    x = pipe.transform(train)
    y = ft.add_rul(train, CAP).to_numpy(float)
    model = _regressor(params or LGB_PARAMS, n_jobs, seed).fit(x, y)
    return RulModel(pipe, model)


def cut_points(lengths: dict[int, int], cuts: int, seed: int) -> list[tuple[int, int]]:
    """(unit, cycle) pairs: ``cuts`` random cycles per unit drawn from [max(2, ceil(0.1 L)), L]."""
    rng = np.random.default_rng(seed)
    out = []
    for unit, length in sorted(lengths.items()):
        lo = max(2, math.ceil(0.1 * length))
        for c in rng.integers(lo, length + 1, size=cuts):
            out.append((unit, int(c)))
    return out


@dataclass
class CvResult:
    rmse: float
    score: float  # PHM08, per set of one cut per engine
    rmse_folds: list[float]
    n_engines: int
    n_cuts: int
    residual_q: tuple[float, float]
    seconds: float
    predictions: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rmse": round(self.rmse, 3),
            "phm08": round(self.score, 1),
            "rmse_folds": [round(r, 3) for r in self.rmse_folds],
            "engines": self.n_engines,
            "cuts_per_engine": self.n_cuts,
            "residual_q10": round(self.residual_q[0], 2),
            "residual_q90": round(self.residual_q[1], 2),
            "seconds": round(self.seconds, 1),
        }


def cross_validate(
    train: pd.DataFrame,
    params: dict[str, Any] | None = None,
    folds: int = N_FOLDS,
    cuts: int = CUTS,
    seed: int = 0,
    n_jobs: int = 2,
    progress: Callable[[int], None] | None = None,
) -> CvResult:
    t0 = time.perf_counter()
    units = train["unit"].to_numpy()
    lengths = train.groupby("unit")["cycle"].max().to_dict()
    folds = min(folds, len(lengths))
    preds, trues, fold_rmse, rows = [], [], [], []
    for k, (tr, va) in enumerate(GroupKFold(n_splits=folds).split(train, groups=units)):
        tr_df, va_df = train.iloc[tr], train.iloc[va]
        assert not set(tr_df["unit"]) & set(va_df["unit"])  # no engine on both sides
        m = fit(tr_df, params, n_jobs, seed + k)
        va_lengths = {u: lengths[u] for u in va_df["unit"].unique()}
        picks = cut_points(va_lengths, cuts, seed + 1000 + k)
        pred_all = m.predict(va_df)
        pos = {(int(u), int(c)): i for i, (u, c) in enumerate(zip(va_df["unit"], va_df["cycle"], strict=True))}
        p = np.array([pred_all[pos[(u, c)]] for u, c in picks])
        t = np.array([min(va_lengths[u] - c, CAP) for u, c in picks], float)
        preds.append(p)
        trues.append(t)
        fold_rmse.append(rmse(p, t))
        rows += [
            {"unit": u, "cycle": c, "pred": float(pp), "true": float(tt)}
            for (u, c), pp, tt in zip(picks, p, t, strict=True)
        ]
        if progress:
            progress(k + 1)
    p_all, t_all = np.concatenate(preds), np.concatenate(trues)
    resid = t_all - p_all
    q = (float(np.quantile(resid, 0.1)), float(np.quantile(resid, 0.9)))
    return CvResult(
        rmse=rmse(p_all, t_all),
        score=phm08_score(p_all, t_all) / cuts,
        rmse_folds=fold_rmse,
        n_engines=len(lengths),
        n_cuts=cuts,
        residual_q=q,
        seconds=time.perf_counter() - t0,
        predictions=rows,
    )


# ---------------------------------------------------------------- the benchmark command


def bench(
    train_path: str,
    test_path: str,
    out_path: str,
    *,
    folds: int = N_FOLDS,
    cuts: int = CUTS,
    n_jobs: int = 2,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train on ``train_path``, print the cross-validated RMSE and PHM08 score, write one RUL per test engine."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, quiet=quiet)
    t0 = time.perf_counter()
    train = ft.read_cmapss(train_path)
    test = ft.read_cmapss(test_path)
    if train["unit"].nunique() < max(2, folds):
        raise ft.DataError(
            N_("%(file)s holds %(n)s engines; cross-validation needs at least %(need)s."),
            file=Path(train_path).name,
            n=int(train["unit"].nunique()),
            need=max(2, folds),
        )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        cv_task = bar.add_task("交叉验证 / cross-validation", total=folds)
        cv = cross_validate(
            train, folds=folds, cuts=cuts, n_jobs=n_jobs, progress=lambda k: bar.update(cv_task, completed=k)
        )
        fit_task = bar.add_task("训练最终模型 / final model", total=1)
        t_fit = time.perf_counter()
        model = fit(train, n_jobs=n_jobs)
        fit_s = time.perf_counter() - t_fit
        bar.update(fit_task, completed=1)
    model.residual_q = cv.residual_q
    pred = model.predict_last(test)
    Path(out_path).write_text("".join(f"{v:.1f}\n" for v in pred), encoding="utf-8")
    total_s = time.perf_counter() - t0
    res = {
        **cv.as_dict(),
        "conditions": model.pipeline.conditions.k,
        "sensors": len(model.pipeline.conditions.sensors),
        "features": len(model.pipeline.columns),
        "train_engines": int(train["unit"].nunique()),
        "test_engines": len(pred),
        "fit_seconds": round(fit_s, 1),
        "total_seconds": round(total_s, 1),
        "out": out_path,
    }
    return res
