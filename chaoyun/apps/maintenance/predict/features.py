"""Feature pipeline for remaining-useful-life models: reading run-to-failure files, operating conditions,
per-condition normalisation and causal rolling windows.

Everything here is causal: the features of cycle ``c`` of a unit use only that unit's cycles ``<= c``, so a
row of a full training trajectory looks exactly like the last row of a trajectory truncated at ``c`` (what the
test files hold). That is what makes the cross-validation protocol in :mod:`rul` honest.

Operating conditions: C-MAPSS FD002 / FD004 run at six flight conditions (altitude, Mach number, throttle
angle: the three ``setting`` columns); a sensor's raw level depends more on the condition than on wear. The
conditions are found by k-means on the standardised settings, with the smallest ``k`` (1..8) whose clusters
explain 99 % of the settings' variance — FD001 / FD003 (one condition, settings are noise) get ``k = 1``.
Each sensor is then standardised per condition with the training data's mean and standard deviation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sklearn.cluster import KMeans  # type: ignore[import-untyped]

from chaoyun.errors import Invalid
from chaoyun.i18n import N_

SETTINGS = ["setting1", "setting2", "setting3"]
SENSORS = [f"s{i}" for i in range(1, 22)]
CMAPSS_COLUMNS = ["unit", "cycle", *SETTINGS, *SENSORS]
WINDOWS = (5, 10, 20, 30)
MAX_CONDITIONS = 8


class DataError(Invalid):
    """Bad input file: the message names the file's line."""

    code = "bad_data"


def read_cmapss(path: str | Path) -> pd.DataFrame:
    """Read a C-MAPSS text file (unit, cycle, 3 settings, 21 sensors per line, blank-separated).

    Refuses, naming the line: a line with fewer or more than 26 columns, a value that is not a finite number,
    cycles of a unit that do not count up 1, 2, 3 ..., and a unit with a single cycle (no trend to read).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(N_("Cannot read %(file)s: %(reason)s"), file=str(p), reason=exc.strerror or str(exc)) from exc
    rows: list[list[float]] = []
    lines: list[int] = []
    for no, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(CMAPSS_COLUMNS):
            raise DataError(
                N_("%(file)s line %(line)s: %(found)s columns, expected %(expected)s."),
                file=p.name,
                line=no,
                found=len(parts),
                expected=len(CMAPSS_COLUMNS),
            )
        values: list[float] = []
        for col, raw in zip(CMAPSS_COLUMNS, parts, strict=True):
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise DataError(
                    N_("%(file)s line %(line)s: column %(column)s is “%(value)s”, not a number."),
                    file=p.name,
                    line=no,
                    column=col,
                    value=raw[:20],
                )
            values.append(v)
        rows.append(values)
        lines.append(no)
    if not rows:
        raise DataError(N_("%(file)s holds no data lines."), file=p.name)
    df = pd.DataFrame(rows, columns=CMAPSS_COLUMNS)
    df["unit"] = df["unit"].astype(int)
    df["cycle"] = df["cycle"].astype(int)
    df["line"] = lines
    check_units(df, p.name)
    return df


def check_units(df: pd.DataFrame, name: str) -> None:
    """Each unit's cycles must run 1, 2, 3 ... in file order, and a unit needs at least two cycles."""
    prev_unit, prev_cycle, first_line = -1, 0, 0
    units = df["unit"].to_numpy()
    cycles = df["cycle"].to_numpy()
    line_no = df["line"].to_numpy() if "line" in df else np.arange(1, len(df) + 1)
    for i in range(len(df) + 1):
        new_unit = i == len(df) or units[i] != prev_unit
        if new_unit and i > 0 and prev_cycle < 2:
            raise DataError(
                N_("%(file)s line %(line)s: unit %(unit)s has a single cycle; at least 2 are needed."),
                file=name,
                line=int(first_line),
                unit=int(prev_unit),
            )
        if i == len(df):
            break
        if new_unit:
            first_line = line_no[i]
            if cycles[i] != 1:
                raise DataError(
                    N_("%(file)s line %(line)s: unit %(unit)s starts at cycle %(cycle)s, expected 1."),
                    file=name,
                    line=int(line_no[i]),
                    unit=int(units[i]),
                    cycle=int(cycles[i]),
                )
        elif cycles[i] != prev_cycle + 1:
            raise DataError(
                N_("%(file)s line %(line)s: unit %(unit)s cycle %(cycle)s follows cycle %(prev)s."),
                file=name,
                line=int(line_no[i]),
                unit=int(units[i]),
                cycle=int(cycles[i]),
                prev=int(prev_cycle),
            )
        prev_unit, prev_cycle = units[i], cycles[i]


def add_rul(df: pd.DataFrame, cap: float | None = None) -> pd.Series:
    """Remaining cycles of each row of run-to-failure data (the last cycle of a unit is its failure)."""
    rul = df.groupby("unit")["cycle"].transform("max") - df["cycle"]
    return rul.clip(upper=cap) if cap is not None else rul


@dataclass
class Conditions:
    """Operating conditions found on the training settings, and per-condition sensor statistics."""

    k: int
    settings_mean: list[float]
    settings_std: list[float]
    centres: list[list[float]]
    sensors: list[str]
    mean: list[list[float]] = field(default_factory=list)  # [condition][sensor]
    std: list[list[float]] = field(default_factory=list)

    def assign(self, df: pd.DataFrame, settings: Sequence[str] = SETTINGS) -> np.ndarray:
        if self.k == 1:
            return np.zeros(len(df), dtype=int)
        x = (df[list(settings)].to_numpy(float) - np.array(self.settings_mean)) / np.array(self.settings_std)
        d = ((x[:, None, :] - np.array(self.centres)[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(d.argmin(axis=1), dtype=int)

    def normalise(self, df: pd.DataFrame, settings: Sequence[str] = SETTINGS) -> pd.DataFrame:
        cond = self.assign(df, settings)
        x = df[self.sensors].to_numpy(float)
        mean = np.array(self.mean)[cond]
        std = np.array(self.std)[cond]
        out = pd.DataFrame((x - mean) / std, columns=self.sensors, index=df.index)
        out["condition"] = cond
        return out


def fit_conditions(
    df: pd.DataFrame, sensors: Sequence[str] = SENSORS, settings: Sequence[str] = SETTINGS, seed: int = 0
) -> Conditions:
    """Find the operating conditions (smallest k explaining 99 % of the settings' variance) and per-condition
    sensor means and deviations. Sensors that do not vary within any condition are dropped."""
    s = df[list(settings)].to_numpy(float)
    mu, sd = s.mean(axis=0), s.std(axis=0)
    sd[sd < 1e-12] = 1.0
    x = (s - mu) / sd
    total = float(((x - x.mean(axis=0)) ** 2).sum())
    k, centres = 1, [list(x.mean(axis=0))]
    sample = x if len(x) <= 4000 else x[np.random.default_rng(seed).choice(len(x), 4000, replace=False)]
    # Constant settings (a single condition recorded exactly): nothing to cluster.
    for kk in range(2, MAX_CONDITIONS + 1 if total > 1e-9 else 2):
        km = KMeans(n_clusters=kk, n_init=2, random_state=seed).fit(sample)
        if km.inertia_ * len(x) / len(sample) < 0.01 * total:
            k, centres = kk, km.cluster_centers_.tolist()
            break
    cond = Conditions(k, mu.tolist(), sd.tolist(), centres, list(sensors))
    labels = cond.assign(df, settings)
    x_s = df[list(sensors)].to_numpy(float)
    means, stds = [], []
    for c in range(k):
        part = x_s[labels == c]
        means.append(part.mean(axis=0) if len(part) else np.zeros(len(sensors)))
        stds.append(part.std(axis=0) if len(part) else np.ones(len(sensors)))
    std_arr = np.array(stds)
    keep = [i for i in range(len(sensors)) if std_arr[:, i].max() > 1e-6 * max(1.0, abs(np.array(means)[:, i]).max())]
    cond.sensors = [sensors[i] for i in keep]
    cond.mean = np.array(means)[:, keep].tolist()
    cond.std = np.where(std_arr[:, keep] < 1e-12, 1.0, std_arr[:, keep]).tolist()
    return cond


def _slope(values: np.ndarray, w: int) -> np.ndarray:
    """Least-squares slope of the last ``w`` points (fewer at the start) at each position; causal, vectorised."""
    n = len(values)
    t = np.arange(n, dtype=float)
    cy = np.concatenate([[0.0], np.cumsum(values)])
    cty = np.concatenate([[0.0], np.cumsum(t * values)])
    ct = np.concatenate([[0.0], np.cumsum(t)])
    ctt = np.concatenate([[0.0], np.cumsum(t * t)])
    end = np.arange(1, n + 1)
    start = np.maximum(0, end - w)
    m = (end - start).astype(float)
    sy, sty = cy[end] - cy[start], cty[end] - cty[start]
    st, stt = ct[end] - ct[start], ctt[end] - ctt[start]
    den = m * stt - st * st
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, (m * sty - st * sy) / np.where(den > 0, den, 1.0), 0.0)
    return np.asarray(out, dtype=float)


def window_features(
    norm: pd.DataFrame, units: np.ndarray, cycles: np.ndarray, windows: Sequence[int] = WINDOWS
) -> pd.DataFrame:
    """Causal per-unit features: the normalised value, rolling means and deviations over ``windows``, slopes over
    the two longest windows, the mean since the start (the unit's own baseline) and the cycle number."""
    sensors = [c for c in norm.columns if c != "condition"]
    frames: list[pd.DataFrame] = []
    df = norm[sensors].copy()
    df["unit"] = units
    for _, g in df.groupby("unit", sort=False):
        vals = g[sensors]
        feats: dict[str, np.ndarray] = {}
        for s in sensors:
            feats[f"{s}"] = vals[s].to_numpy()
        for w in windows:
            roll = vals.rolling(w, min_periods=1)
            mean = roll.mean().to_numpy()
            std = roll.std().fillna(0.0).to_numpy()
            for i, s in enumerate(sensors):
                feats[f"{s}_m{w}"] = mean[:, i]
                if w == windows[-1]:
                    feats[f"{s}_sd{w}"] = std[:, i]
        exp = vals.expanding().mean().to_numpy()
        for i, s in enumerate(sensors):
            feats[f"{s}_m{windows[-1]}_minus_start"] = feats[f"{s}_m{windows[-1]}"] - exp[:, i]
            for w in windows[-2:]:
                feats[f"{s}_slope{w}"] = _slope(vals[s].to_numpy(), w)
        frames.append(pd.DataFrame(feats, index=g.index))
    out = pd.concat(frames).loc[norm.index]
    out["cycle"] = cycles
    return out


@dataclass
class Pipeline:
    """Conditions plus the window feature names: fitted on training data, applied to anything."""

    conditions: Conditions
    columns: list[str] = field(default_factory=list)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        norm = self.conditions.normalise(df)
        feats = window_features(norm, df["unit"].to_numpy(), df["cycle"].to_numpy())
        if self.columns:
            feats = feats[self.columns]
        return feats


def fit_pipeline(train: pd.DataFrame) -> Pipeline:
    pipe = Pipeline(fit_conditions(train))
    pipe.columns = list(pipe.transform(train).columns)
    return pipe


def last_rows(df: pd.DataFrame) -> np.ndarray:
    """Positions (0-based) of each unit's last row, in unit order of first appearance."""
    is_last = df["unit"].to_numpy() != np.roll(df["unit"].to_numpy(), -1)
    is_last[-1] = True
    return np.flatnonzero(is_last)
