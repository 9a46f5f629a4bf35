"""Statistical process control: control-chart constants, limits, the eight Nelson / Western Electric tests
(Minitab's definitions and default parameters) and capability indices. Pure numbers, no database.

Constants are computed, not copied: ``c4`` exactly from the gamma function, ``d2`` by numerical integration
of the expected range of n standard normals, ``d3`` from the expected square of the range (a double
integral). ``tests/apps/test_spc.py`` checks them against the published tables (n = 2 … 25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

CHART_TYPES = ("xbar_r", "xbar_s", "imr", "p", "np", "c", "u")
VARIABLE_CHARTS = ("xbar_r", "xbar_s", "imr")
ATTRIBUTE_CHARTS = ("p", "np", "c", "u")
MAX_SUBGROUP = {"xbar_r": 25, "xbar_s": 100, "imr": 1}

# Minitab's default parameters for the eight tests for special causes.
TEST_PARAMS = {1: 3.0, 2: 9, 3: 6, 4: 14, 5: 2, 6: 4, 7: 15, 8: 8}
ALL_TESTS = tuple(range(1, 9))


# ---------------------------------------------------------------- constants


def c4(n: int) -> float:
    """E[s]/σ for samples of n normal values (exact)."""
    if n < 2:
        raise ValueError("n >= 2")
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


_GRID = np.linspace(-9.0, 9.0, 3601)


def _phi_cdf(x: np.ndarray) -> np.ndarray:
    from math import sqrt

    erf = np.vectorize(math.erf)
    return np.asarray(0.5 * (1.0 + erf(x / sqrt(2.0))), dtype=float)


@lru_cache(maxsize=1)
def _cdf_grid() -> np.ndarray:
    return _phi_cdf(_GRID)


@lru_cache(maxsize=128)
def d2(n: int) -> float:
    """E[R]/σ: ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx."""
    if n < 2:
        raise ValueError("n >= 2")
    f = _cdf_grid()
    return float(np.trapezoid(1.0 - f**n - (1.0 - f) ** n, _GRID))


@lru_cache(maxsize=128)
def d3(n: int) -> float:
    """sd(R)/σ, from E[R²] = 2 ∬_{x<y} 1 − Φ(y)ⁿ − (1 − Φ(x))ⁿ + (Φ(y) − Φ(x))ⁿ dx dy."""
    if n < 2:
        raise ValueError("n >= 2")
    g = np.linspace(-8.0, 8.0, 1601)
    f = _phi_cdf(g)
    fx = f[:, None]
    fy = f[None, :]
    inner = 1.0 - fy**n - (1.0 - fx) ** n + np.clip(fy - fx, 0.0, None) ** n
    inner = np.where(g[:, None] < g[None, :], inner, 0.0)
    h = g[1] - g[0]
    # Trapezoid weights, halved on the diagonal (the integration region's edge).
    w = np.ones_like(g)
    w[0] = w[-1] = 0.5
    weights = w[:, None] * w[None, :]
    diag = np.eye(len(g), dtype=bool)
    inner = np.where(diag, 0.5 * (1.0 - f**n - (1.0 - f) ** n)[:, None] * np.ones_like(inner), inner)
    er2 = 2.0 * float(np.sum(inner * weights)) * h * h
    var = er2 - d2(n) ** 2
    return math.sqrt(max(var, 0.0))


@dataclass(frozen=True)
class Constants:
    n: int
    c4: float
    d2: float
    d3: float
    A2: float
    A3: float
    B3: float
    B4: float
    D3: float
    D4: float


@lru_cache(maxsize=128)
def constants(n: int) -> Constants:
    cc, dd2, dd3 = c4(n), d2(n), d3(n)
    k = 3 * math.sqrt(1 - cc * cc) / cc
    return Constants(
        n=n,
        c4=cc,
        d2=dd2,
        d3=dd3,
        A2=3 / (dd2 * math.sqrt(n)),
        A3=3 / (cc * math.sqrt(n)),
        B3=max(0.0, 1 - k),
        B4=1 + k,
        D3=max(0.0, 1 - 3 * dd3 / dd2),
        D4=1 + 3 * dd3 / dd2,
    )


# ---------------------------------------------------------------- charts


@dataclass
class Series:
    """One plotted statistic with its (possibly per-point) limits."""

    name: str
    values: list[float | None]
    center: float
    ucl: list[float]
    lcl: list[float]
    # Per point: the numbers of the tests that flagged it.
    flags: list[list[int]] = field(default_factory=list)


@dataclass
class Chart:
    chart_type: str
    primary: Series
    secondary: Series | None
    sigma_within: float | None  # σ̂ from R̄/d2, S̄/c4 or MR̄/d2 (variable charts)
    baseline: int  # how many subgroups the limits come from

    def as_dict(self) -> dict[str, Any]:
        def s(x: Series | None) -> dict[str, Any] | None:
            if x is None:
                return None
            return {
                "name": x.name,
                "values": x.values,
                "center": x.center,
                "ucl": x.ucl,
                "lcl": x.lcl,
                "flags": x.flags,
            }

        return {
            "chart_type": self.chart_type,
            "primary": s(self.primary),
            "secondary": s(self.secondary),
            "sigma_within": self.sigma_within,
            "baseline": self.baseline,
        }


def _full(v: float, n: int) -> list[float]:
    return [float(v)] * n


def variable_chart(chart_type: str, subgroups: np.ndarray, baseline: int | None = None) -> Chart:
    """X̄-R, X̄-S (subgroups: k × n array) or I-MR (k × 1). Limits from the first ``baseline`` subgroups
    (a fixed baseline period) or from all of them (recalculated)."""
    x = np.asarray(subgroups, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    k, n = x.shape
    b = k if not baseline or baseline > k else baseline
    if chart_type == "imr":
        vals = x[:, 0]
        mr = np.abs(np.diff(vals))
        mr_bar = float(mr[: max(b - 1, 1)].mean()) if len(mr) else 0.0
        center = float(vals[:b].mean())
        cst = constants(2)
        sigma = mr_bar / cst.d2
        primary = Series("I", vals.tolist(), center, _full(center + 3 * sigma, k), _full(center - 3 * sigma, k))
        secondary = Series(
            "MR",
            [None, *mr.tolist()],
            mr_bar,
            _full(cst.D4 * mr_bar, k),
            _full(cst.D3 * mr_bar, k),
        )
        return Chart(chart_type, primary, secondary, sigma, b)
    if n < 2:
        raise ValueError("subgroup size >= 2")
    cst = constants(n)
    means = x.mean(axis=1)
    xbb = float(means[:b].mean())
    if chart_type == "xbar_r":
        r = x.max(axis=1) - x.min(axis=1)
        rbar = float(r[:b].mean())
        sigma = rbar / cst.d2
        primary = Series("X̄", means.tolist(), xbb, _full(xbb + cst.A2 * rbar, k), _full(xbb - cst.A2 * rbar, k))
        secondary = Series("R", r.tolist(), rbar, _full(cst.D4 * rbar, k), _full(cst.D3 * rbar, k))
    elif chart_type == "xbar_s":
        s = x.std(axis=1, ddof=1)
        sbar = float(s[:b].mean())
        sigma = sbar / cst.c4
        primary = Series("X̄", means.tolist(), xbb, _full(xbb + cst.A3 * sbar, k), _full(xbb - cst.A3 * sbar, k))
        secondary = Series("S", s.tolist(), sbar, _full(cst.B4 * sbar, k), _full(cst.B3 * sbar, k))
    else:
        raise ValueError(chart_type)
    return Chart(chart_type, primary, secondary, sigma, b)


def attribute_chart(chart_type: str, counts: np.ndarray, sizes: np.ndarray, baseline: int | None = None) -> Chart:
    """p (fraction nonconforming), np (number nonconforming, constant n), c (nonconformities per unit of
    constant size), u (nonconformities per unit, variable n)."""
    d = np.asarray(counts, dtype=float)
    n = np.asarray(sizes, dtype=float)
    k = len(d)
    b = k if not baseline or baseline > k else baseline
    if chart_type == "p":
        pbar = float(d[:b].sum() / n[:b].sum())
        half = 3 * np.sqrt(pbar * (1 - pbar) / n)
        vals = d / n
        series = Series(
            "p", vals.tolist(), pbar, np.minimum(pbar + half, 1.0).tolist(), np.maximum(pbar - half, 0).tolist()
        )
    elif chart_type == "np":
        pbar = float(d[:b].sum() / n[:b].sum())
        size = float(n[0])
        cl = size * pbar
        h = 3 * math.sqrt(size * pbar * (1 - pbar))
        series = Series("np", d.tolist(), cl, _full(cl + h, k), _full(max(cl - h, 0.0), k))
    elif chart_type == "c":
        cbar = float(d[:b].mean())
        h = 3 * math.sqrt(cbar)
        series = Series("c", d.tolist(), cbar, _full(cbar + h, k), _full(max(cbar - h, 0.0), k))
    elif chart_type == "u":
        ubar = float(d[:b].sum() / n[:b].sum())
        half = 3 * np.sqrt(ubar / n)
        series = Series("u", (d / n).tolist(), ubar, (ubar + half).tolist(), np.maximum(ubar - half, 0).tolist())
    else:
        raise ValueError(chart_type)
    return Chart(chart_type, series, None, None, b)


# ---------------------------------------------------------------- tests for special causes


def _runs_end(flag: np.ndarray, length: int) -> np.ndarray:
    """True at i when flag[i-length+1 .. i] are all true."""
    m = len(flag)
    out = np.zeros(m, dtype=bool)
    if length <= 0 or m < length:
        return out
    c = np.concatenate(([0], np.cumsum(flag.astype(np.int64))))
    out[length - 1 :] = (c[length:] - c[: m - length + 1]) == length
    return out


def _count_window(flag: np.ndarray, window: int) -> np.ndarray:
    m = len(flag)
    c = np.concatenate(([0], np.cumsum(flag.astype(np.int64))))
    idx = np.arange(m)
    lo = np.maximum(idx - window + 1, 0)
    return np.asarray(c[idx + 1] - c[lo])


def special_causes(series: Series, tests: tuple[int, ...] | list[int] = (1,)) -> list[list[int]]:
    """Per point, the tests (1-8) that flag it; the flag sits on the point that completes the pattern,
    as Minitab draws it. Zones are in units of each point's own σ (variable limits on p and u charts)."""
    x = np.asarray(series.values, dtype=float)
    m = len(x)
    flags: list[list[int]] = [[] for _ in range(m)]
    if m == 0:
        return flags
    ucl = np.asarray(series.ucl, dtype=float)
    sig = (ucl - series.center) / 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sig > 0, (x - series.center) / sig, 0.0)
    valid = np.isfinite(z)
    z = np.where(valid, z, 0.0)
    above = (z > 0) & valid
    below = (z < 0) & valid
    hits: dict[int, np.ndarray] = {}
    if 1 in tests:
        lcl = np.asarray(series.lcl, dtype=float)
        hits[1] = valid & ((x > ucl) | (x < lcl))
    if 2 in tests:
        k2 = int(TEST_PARAMS[2])
        hits[2] = _runs_end(above, k2) | _runs_end(below, k2)
    if 3 in tests:
        k3 = int(TEST_PARAMS[3])
        dx = np.diff(x)
        inc = np.concatenate(([False], dx > 0))
        dec = np.concatenate(([False], dx < 0))
        hits[3] = _runs_end(inc, k3 - 1) | _runs_end(dec, k3 - 1)
    if 4 in tests:
        k4 = int(TEST_PARAMS[4])
        sgn = np.sign(np.diff(x))
        alt = np.concatenate(([False, False], (sgn[1:] * sgn[:-1]) < 0)) if m > 2 else np.zeros(m, dtype=bool)
        hits[4] = _runs_end(alt, k4 - 2)
    if 5 in tests:
        k5 = int(TEST_PARAMS[5])
        hi, lo = above & (z > 2), below & (z < -2)
        hits[5] = (hi & (_count_window(hi, k5 + 1) >= k5)) | (lo & (_count_window(lo, k5 + 1) >= k5))
    if 6 in tests:
        k6 = int(TEST_PARAMS[6])
        hi, lo = above & (z > 1), below & (z < -1)
        hits[6] = (hi & (_count_window(hi, k6 + 1) >= k6)) | (lo & (_count_window(lo, k6 + 1) >= k6))
    if 7 in tests:
        hits[7] = _runs_end(valid & (np.abs(z) < 1), int(TEST_PARAMS[7]))
    if 8 in tests:
        hits[8] = _runs_end(valid & (np.abs(z) > 1), int(TEST_PARAMS[8]))
    for t in sorted(hits):
        for i in np.flatnonzero(hits[t]).tolist():
            flags[i].append(t)
    return flags


# ---------------------------------------------------------------- capability


@dataclass(frozen=True)
class Capability:
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None
    n: int


def capability(values: np.ndarray, sigma_within: float, lsl: float | None, usl: float | None) -> Capability:
    v = np.asarray(values, dtype=float).ravel()
    mu = float(v.mean())
    so = float(v.std(ddof=1)) if len(v) > 1 else math.nan

    def idx(sigma: float) -> tuple[float | None, float | None]:
        if not sigma or not math.isfinite(sigma):
            return None, None
        both = lsl is not None and usl is not None
        p = (usl - lsl) / (6 * sigma) if both else None  # type: ignore[operator]
        sides = []
        if usl is not None:
            sides.append((usl - mu) / (3 * sigma))
        if lsl is not None:
            sides.append((mu - lsl) / (3 * sigma))
        return p, (min(sides) if sides else None)

    cp, cpk = idx(sigma_within)
    pp, ppk = idx(so)
    return Capability(mu, sigma_within, so, cp, cpk, pp, ppk, len(v))


def phase_capability(
    chart_type: str, subgroups: np.ndarray, baseline: int | None, lsl: float | None, usl: float | None
) -> list[tuple[str, Capability]]:
    """Capability per phase, each from its own data only (as Minitab's per-stage analysis): σ within from
    that phase's subgroups with the chart's estimator (R̄/d2, S̄/c4, MR̄/d2), mean and overall σ from that
    phase's values. Without a fixed baseline (or when every subgroup is in it) one phase, "all". With limits
    fixed from the first ``baseline`` subgroups: phase "I" (those) and phase "II" (the rest, when it has at
    least two subgroups) — never σ within from one phase with the mean and overall σ of both."""
    x = np.asarray(subgroups, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    k = len(x)

    def cap(part: np.ndarray) -> Capability:
        return capability(part, variable_chart(chart_type, part).sigma_within or math.nan, lsl, usl)

    if not baseline or baseline >= k:
        return [("all", cap(x))]
    out = [("I", cap(x[:baseline]))]
    if k - baseline >= 2:
        out.append(("II", cap(x[baseline:])))
    return out


def decimals_of(values: np.ndarray, most: int = 6) -> int:
    """How many decimals the measurements are written with (74.030 → 3): the plan's precision."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)][:2000]
    for d in range(most + 1):
        if np.all(np.abs(v * 10**d - np.round(v * 10**d)) < 1e-6 * max(1.0, 10**d)):
            return d
    return most


def histogram(values: np.ndarray, bins: int = 20) -> dict[str, list[float]]:
    """Histogram counts and the fitted normal curve scaled to the counts (for ECharts)."""
    v = np.asarray(values, dtype=float).ravel()
    if len(v) == 0:
        return {"edges": [], "counts": [], "curve_x": [], "curve_y": []}
    counts, edges = np.histogram(v, bins=bins)
    mu, sd = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
    width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
    xs = np.linspace(edges[0], edges[-1], 80)
    if sd > 0:
        ys = len(v) * width * np.exp(-0.5 * ((xs - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    else:
        ys = np.zeros_like(xs)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "curve_x": xs.tolist(), "curve_y": ys.tolist()}
