"""The policy pack: the plan's numbers as data, and clear errors for broken files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaoyun.programme.pack import DEFAULT_PACK, PackError, get_pack, load_pack, parse_pack


def _data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PACK.read_text(encoding="utf-8"))


def test_shantou_pack_holds_the_plan_numbers() -> None:
    p = get_pack()
    assert (p.period.start, p.period.end) == (2018, 2020)
    t = {x.key: x for x in p.targets}
    assert t["innovation_demo_projects"].target == 20
    assert t["digital_upgrade"].yearly == {2018: 100, 2019: 150, 2020: 250} and t["digital_upgrade"].target == 500
    assert t["cloud_adoption"].yearly == {2018: 500, 2019: 1500, 2020: 3000} and t["cloud_adoption"].target == 5000
    assert (t["leading_platforms"].minimum, t["leading_platforms"].target) == (3, 5)
    assert t["city_pool_providers"].target == 10
    assert (
        t["provincial_pool_recommended"].comparison == "more_than" and t["provincial_pool_recommended"].threshold == 21
    )
    assert t["platform_collaboration"].target == 100
    assert t["benchmark_projects"].target == 20
    assert (t["demonstration_bases"].minimum, t["demonstration_bases"].target) == (1, 2)
    assert t["diagnosed_enterprises"].target == 60
    assert (t["innovation_centres"].minimum, t["innovation_centres"].target) == (3, 5)
    assert t["network_tariff_reduction"].target == 30 and t["network_tariff_reduction"].unit == "percent"
    assert t["public_cloud_discount"].target == 30
    # Lead first, as the plan lists it; item 11 is led by the district governments.
    assert t["demonstration_bases"].lead == "各区县政府" and t["demonstration_bases"].co_owners == ["市经信局"]
    assert t["network_tariff_reduction"].co_owners == ["市通建办", "各电信运营企业"]
    assert all(x.rule for x in p.targets)
    assert p.subsidies.innovation.max_ratio == Decimal("0.30")
    assert p.subsidies.innovation.cap_per_enterprise == Decimal("500000")
    assert p.subsidies.certification_reward.amount == Decimal("200000")
    assert p.vouchers.min_payment_ratio == Decimal("0.90")
    assert p.vouchers.is_eligible_cost("cloud_resources")
    assert not p.vouchers.is_eligible_cost("automation_equipment")


def test_planned_values_by_year() -> None:
    p = get_pack()
    up = p.target("cloud_adoption")
    assert [up.planned_by(y, p.period) for y in (2018, 2019, 2020)] == [500, 2000, 5000]
    bases = p.target("demonstration_bases")
    assert bases.planned_by(2019, p.period) is None and bases.planned_by(2020, p.period) == 1


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.pop("period"), "period"),
        (lambda d: d["period"].update(end=2017), "period end is before its start"),
        (lambda d: d["targets"][1]["yearly"].update({2020: 249}), "add up to 499"),
        (lambda d: d["targets"][3].pop("minimum"), "minimum"),
        (lambda d: d["targets"].append(dict(d["targets"][0])), "used twice"),
        (lambda d: d["targets"][0].update(rule="no dots"), "targets.0.rule"),
        (lambda d: d["subsidies"]["innovation"].update(max_ratio="1.5"), "max_ratio"),
        (lambda d: d["subsidies"]["innovation"].update(cap_per_enterprise="-1"), "cap_per_enterprise"),
        (lambda d: d["vouchers"]["excluded_cost_categories"].append("cloud_resources"), "both eligible and excluded"),
        (lambda d: d["targets"][1]["yearly"].update({2017: 0}), "outside the period"),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
)
def test_broken_packs_are_refused_with_the_field_named(mutate: Any, fragment: str) -> None:
    data = _data()
    mutate(data)
    with pytest.raises(PackError) as exc:
        parse_pack(data, "broken.yaml")
    assert fragment in str(exc.value), str(exc.value)
    assert "broken.yaml" in str(exc.value)


def test_broken_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: [unclosed\n", encoding="utf-8")
    with pytest.raises(PackError, match="not valid YAML"):
        load_pack(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(PackError, match="mapping"):
        load_pack(bad)
    with pytest.raises(PackError, match="file not found"):
        load_pack(tmp_path / "missing.yaml")
    good = tmp_path / "other-city.yaml"
    good.write_text(DEFAULT_PACK.read_text(encoding="utf-8").replace("key: shantou-2018", "key: other-city"), "utf-8")
    assert load_pack(good).key == "other-city"
