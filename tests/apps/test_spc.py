"""SPC numbers against published tables and textbook examples (Montgomery), to four significant figures."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from chaoyun.apps.quality import spc
from tests.apps.textbook import CIRCUIT_BOARDS, ORANGE_JUICE, PISTON_RINGS


def sig4(x: float) -> str:
    return f"{x:.4g}"


# Published 3-decimal table (Montgomery Appendix VI) for n = 2..25.
D2 = [
    1.128,
    1.693,
    2.059,
    2.326,
    2.534,
    2.704,
    2.847,
    2.970,
    3.078,
    3.173,
    3.258,
    3.336,
    3.407,
    3.472,
    3.532,
    3.588,
    3.640,
    3.689,
    3.735,
    3.778,
    3.819,
    3.858,
    3.895,
    3.931,
]
D3 = [
    0.853,
    0.888,
    0.880,
    0.864,
    0.848,
    0.833,
    0.820,
    0.808,
    0.797,
    0.787,
    0.778,
    0.770,
    0.763,
    0.756,
    0.750,
    0.744,
    0.739,
    0.734,
    0.729,
    0.724,
    0.720,
    0.716,
    0.712,
    0.708,
]
C4 = {2: 0.7979, 3: 0.8862, 4: 0.9213, 5: 0.9400, 6: 0.9515, 10: 0.9727, 25: 0.9896}


def test_constants_match_the_published_table() -> None:
    for n in range(2, 26):
        c = spc.constants(n)
        assert round(c.d2, 3) == pytest.approx(D2[n - 2], abs=1e-9), n
        # d3(19) = 0.73349 by integration; the printed table says 0.734 (its own rounding), hence one unit.
        assert round(c.d3, 3) == pytest.approx(D3[n - 2], abs=0.0011), n
    for n, v in C4.items():
        assert round(spc.c4(n), 4) == v
    five = spc.constants(5)
    # The table's D4 = 2.114 comes from the rounded d2, d3 (1 + 3 × 0.864 / 2.326); exact constants give 2.1145.
    assert (round(five.A2, 3), round(five.D3, 3)) == (0.577, 0.0) and pytest.approx(2.114, abs=0.0011) == five.D4
    assert (round(five.A3, 3), round(five.B4, 3), round(five.B3, 3)) == (1.427, 2.089, 0.0)
    assert round(spc.constants(2).D4, 3) == 3.267


def test_piston_ring_data_transcribed_as_printed() -> None:
    xbars = [(sum(Decimal(str(v)) for v in r) / 5).quantize(Decimal("0.001"), ROUND_HALF_UP) for r in PISTON_RINGS]
    assert sum(xbars) == Decimal("1850.028")
    assert round(sum(max(r) - min(r) for r in PISTON_RINGS), 3) == 0.581


def test_piston_rings_xbar_r_full_data() -> None:
    ch = spc.variable_chart("xbar_r", np.array(PISTON_RINGS))
    assert round(ch.primary.center, 3) == 74.001
    assert round(ch.secondary.center, 3) == 0.023  # type: ignore[union-attr]
    # Four significant figures as printed (the book rounds X̿ and R̄ before computing 74.014 / 73.988).
    assert sig4(ch.primary.ucl[0]) == "74.01" and sig4(ch.primary.lcl[0]) == "73.99"
    assert sig4(ch.sigma_within or 0) == sig4(0.02324 / spc.d2(5))
    assert round(ch.secondary.ucl[0], 3) == 0.049  # type: ignore[union-attr]
    assert ch.secondary.lcl[0] == 0.0  # type: ignore[union-attr]
    # The book's conclusion: the process is in control (no point beyond the limits).
    assert not any(spc.special_causes(ch.primary, (1,)))
    assert not any(spc.special_causes(ch.secondary, (1,)))  # type: ignore[arg-type]


def test_piston_rings_limits_from_published_summaries() -> None:
    # X̿ = 74.001, R̄ = 0.023, n = 5: UCL = 74.001 + 0.577 × 0.023 = 74.014, LCL = 73.988; R: UCL = 2.114 × 0.023.
    c = spc.constants(5)
    assert sig4(74.001 + c.A2 * 0.023) == "74.01" and round(74.001 + c.A2 * 0.023, 3) == 74.014
    assert round(74.001 - c.A2 * 0.023, 3) == 73.988
    assert round(c.D4 * 0.023, 3) == 0.049
    # Capability (Montgomery §6.2): σ̂ = R̄/d2 = 0.0099, Cp = (74.05 − 73.95) / (6 × 0.0099) = 1.68.
    assert round(0.023 / c.d2, 4) == 0.0099
    assert round(0.10 / (6 * round(0.023 / c.d2, 4)), 2) == 1.68


def test_piston_rings_xbar_s_and_capability() -> None:
    ch = spc.variable_chart("xbar_s", np.array(PISTON_RINGS))
    assert round(ch.secondary.center, 4) == 0.0094  # type: ignore[union-attr]  # S̄ printed as 0.0094
    assert sig4(ch.primary.ucl[0]) == "74.01" and sig4(ch.primary.lcl[0]) == "73.99"
    # From the printed summaries: X̿ ± A3 S̄ = 74.001 ± 1.427 × 0.0094 = 74.014 / 73.988; S: UCL = 2.089 × 0.0094.
    c = spc.constants(5)
    assert round(74.001 + c.A3 * 0.0094, 3) == 74.014 and round(74.001 - c.A3 * 0.0094, 3) == 73.988
    assert round(c.B4 * 0.0094, 4) == 0.0196
    assert round(ch.secondary.ucl[0], 4) == 0.0196  # type: ignore[union-attr]
    chr_ = spc.variable_chart("xbar_r", np.array(PISTON_RINGS))
    cap = spc.capability(np.array(PISTON_RINGS), chr_.sigma_within or 0, 73.95, 74.05)
    assert cap.cp is not None and round(cap.cp, 2) == 1.67  # R̄/d2 with unrounded R̄ = 0.02324
    assert cap.cpk is not None and cap.cpk < cap.cp
    assert cap.pp is not None and cap.ppk is not None
    overall = float(np.array(PISTON_RINGS).std(ddof=1))
    assert sig4(cap.pp) == sig4(0.10 / (6 * overall))


def test_orange_juice_p_chart_full_data() -> None:
    assert sum(ORANGE_JUICE) == 347 and len(ORANGE_JUICE) == 30
    ch = spc.attribute_chart("p", np.array(ORANGE_JUICE), np.full(30, 50))
    assert sig4(ch.primary.center) == "0.2313"
    assert sig4(ch.primary.ucl[0]) == "0.4102"
    assert sig4(ch.primary.lcl[0]) == "0.05243"
    flagged = [i + 1 for i, f in enumerate(spc.special_causes(ch.primary, (1,))) if f]
    assert flagged == [15, 23]  # the book's two out-of-control samples


def test_circuit_boards_c_chart_full_data() -> None:
    assert sum(CIRCUIT_BOARDS) == 516 and len(CIRCUIT_BOARDS) == 26
    ch = spc.attribute_chart("c", np.array(CIRCUIT_BOARDS), np.ones(26))
    assert sig4(ch.primary.center) == "19.85"
    assert sig4(ch.primary.ucl[0]) == "33.21"  # 19.846 + 3√19.846 = 33.211 (the book rounds c̄ first: 33.22)
    assert sig4(19.85 + 3 * 19.85**0.5) == "33.22"
    assert sig4(ch.primary.lcl[0]) == "6.481"
    flagged = [i + 1 for i, f in enumerate(spc.special_causes(ch.primary, (1,))) if f]
    assert flagged == [6, 20]


def test_np_and_u_charts() -> None:
    ch = spc.attribute_chart("np", np.array(ORANGE_JUICE), np.full(30, 50))
    assert sig4(ch.primary.center) == "11.57"
    assert ch.primary.ucl[0] == pytest.approx(50 * 0.2313 + 3 * (50 * 0.2313 * 0.7687) ** 0.5, rel=2e-4)
    u = spc.attribute_chart("u", np.array(CIRCUIT_BOARDS), np.full(26, 100))
    assert sig4(u.primary.center) == "0.1985"


def _series(values: list[float]) -> spc.Series:
    n = len(values)
    return spc.Series("x", values, 0.0, [3.0] * n, [-3.0] * n)


@pytest.mark.parametrize(
    ("test", "values", "first_flag"),
    [
        (1, [0, 0, 3.5, 0], 2),
        (1, [0, -3.1], 1),
        (2, [0.5] * 9, 8),
        (2, [-0.2] * 8 + [0.3], None),
        (3, [0, 0.1, 0.2, 0.3, 0.4, 0.5], 5),
        (3, [0, 0.1, 0.2, 0.3, 0.4, 0.4], None),
        (3, [0.5, 0.4, 0.3, 0.2, 0.1, 0.0], 5),
        (4, [(-1) ** i * 0.5 for i in range(14)], 13),
        (4, [(-1) ** i * 0.5 for i in range(13)], None),
        (5, [2.5, 0, 2.5], 2),
        (5, [2.5, 0, -2.5], None),
        (5, [2.5, 0, 0, 2.5], None),
        (6, [1.5, 1.5, 0, 1.5, 1.5], 4),
        (6, [1.5, 1.5, 0, 1.5, -1.5], None),
        (7, [0.5, -0.5] * 7 + [0.5], 14),
        (7, [0.5] * 14 + [1.5], None),
        (8, [1.5, -1.5] * 4, 7),
        (8, [1.5, -1.5] * 3 + [0.5, 1.5], None),
    ],
)
def test_each_nelson_test(test: int, values: list[float], first_flag: int | None) -> None:
    flags = spc.special_causes(_series(values), (test,))
    hits = [i for i, f in enumerate(flags) if test in f]
    assert (hits[0] if hits else None) == first_flag


def test_tests_are_switchable() -> None:
    s = _series([0.5] * 9 + [3.5])
    assert spc.special_causes(s, ()) == [[] for _ in range(10)]
    assert spc.special_causes(s, (1,))[9] == [1]
    assert 2 in spc.special_causes(s, (1, 2))[8]


def test_fixed_baseline_limits() -> None:
    data = np.array(PISTON_RINGS + [[74.05] * 5] * 5)
    fixed = spc.variable_chart("xbar_r", data, baseline=25)
    assert sig4(fixed.primary.ucl[0]) == "74.01"
    flags = spc.special_causes(fixed.primary, (1,))
    assert all(flags[i] == [1] for i in range(25, 30))
    recalc = spc.variable_chart("xbar_r", data)
    assert recalc.primary.center > fixed.primary.center


def test_imr_chart() -> None:
    x = np.array([10.0, 12.0, 11.0, 13.0, 12.0])
    ch = spc.variable_chart("imr", x[:, None])
    mr_bar = (2 + 1 + 2 + 1) / 4
    assert ch.secondary is not None and ch.secondary.center == pytest.approx(mr_bar)
    assert ch.primary.ucl[0] == pytest.approx(11.6 + 3 * mr_bar / spc.d2(2))
    assert ch.secondary.ucl[0] == pytest.approx(spc.constants(2).D4 * mr_bar)


def test_capability_per_phase_never_mixes_phases() -> None:
    """Limits fixed from the 25 piston-ring subgroups (phase I), then 10 subgroups shifted by +0.01 with the
    same ranges (phase II). Each phase's capability comes from its own data alone."""
    shifted = [[v + 0.01 for v in row] for row in PISTON_RINGS[:10]]
    data = np.array(PISTON_RINGS + shifted)
    phases = spc.phase_capability("xbar_r", data, 25, 73.95, 74.05)
    assert [p for p, _ in phases] == ["I", "II"]
    one, two = phases[0][1], phases[1][1]
    # Phase I is the textbook analysis (Cp 1.67 from R̄/d2 of the 25 subgroups).
    ref = spc.capability(
        np.array(PISTON_RINGS), spc.variable_chart("xbar_r", np.array(PISTON_RINGS)).sigma_within or 0, 73.95, 74.05
    )
    assert one == ref and one.cp is not None and round(one.cp, 2) == 1.67 and one.n == 125
    # Phase II: mean, σ within (R̄/d2 of its own ranges) and overall σ from its 50 values only.
    part = np.array(shifted)
    r = part.max(axis=1) - part.min(axis=1)
    assert two.n == 50 and two.mean == pytest.approx(part.mean())
    assert two.sigma_within == pytest.approx(r.mean() / spc.constants(5).d2)
    assert two.sigma_overall == pytest.approx(part.std(ddof=1))
    assert two.cpk == pytest.approx(min(74.05 - part.mean(), part.mean() - 73.95) / (3 * two.sigma_within))
    # Without a fixed baseline: one phase over everything (as before).
    (only,) = spc.phase_capability("xbar_r", np.array(PISTON_RINGS), None, 73.95, 74.05)
    assert only[0] == "all" and only[1] == ref


def test_decimals_of_measurements() -> None:
    assert spc.decimals_of(np.array(PISTON_RINGS)) == 3
    assert spc.decimals_of(np.array([1.0, 2.5])) == 1
    assert spc.decimals_of(np.array([12.0, 13.0])) == 0
