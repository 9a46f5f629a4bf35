"""The demo Shantou cluster: city bureau, district offices, enterprises, providers, a user per role.

Deterministic (each enterprise is derived from its index alone, so 300 is a prefix of 5,000) and
idempotent (existing credit codes and usernames are left alone).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.identity import audit
from chaoyun.identity.credit_code import CHARSET, build
from chaoyun.identity.crypto import hash_password
from chaoyun.identity.models import EnterpriseProfile, Membership, Organisation, ProviderProfile, User
from chaoyun.identity.reference import (
    DISTRICT_DIVISION,
    DISTRICT_ZH,
    INDUSTRIES,
    SERVICE_CATEGORIES,
    Cluster,
    District,
    OrgKind,
    ProviderType,
    Role,
    size_class,
)

CITY_DIVISION = "440500"
D = District
# Where each cluster's firms are, roughly as the plan describes Shantou (Chenghai toys, Chaonan/Gurao apparel).
CLUSTER_WEIGHTS: list[tuple[Cluster, int, dict[District, int]]] = [
    (Cluster.TOYS, 34, {D.CHENGHAI: 85, D.LONGHU: 6, D.JINPING: 5, D.CHAOYANG: 4}),
    (Cluster.TEXTILES_APPAREL, 24, {D.CHAONAN: 45, D.CHAOYANG: 35, D.JINPING: 10, D.LONGHU: 10}),
    (Cluster.LIGHT_EQUIPMENT, 12, {D.JINPING: 30, D.LONGHU: 30, D.HAOJIANG: 25, D.CHENGHAI: 15}),
    (Cluster.CHEMICALS_PLASTICS, 8, {D.HAOJIANG: 40, D.LONGHU: 30, D.CHENGHAI: 30}),
    (Cluster.PRINTING_PACKAGING, 8, {D.JINPING: 40, D.CHENGHAI: 30, D.LONGHU: 30}),
    (Cluster.CRAFTS, 5, {D.CHENGHAI: 40, D.JINPING: 30, D.CHAOYANG: 30}),
    (Cluster.FOOD, 5, {D.JINPING: 30, D.NANAO: 30, D.CHAOYANG: 20, D.LONGHU: 20}),
    (Cluster.ELECTRONICS, 4, {D.LONGHU: 60, D.JINPING: 40}),
]
BRANDS = [
    "星辉",
    "奥达",
    "华隆",
    "金鹰",
    "宏达",
    "东信",
    "明发",
    "振兴",
    "嘉利",
    "利华",
    "永盛",
    "新城",
    "鸿运",
    "联兴",
    "德信",
    "广益",
    "恒丰",
    "华美",
    "万利",
    "美宝",
    "金鑫",
    "汇丰",
    "瑞丰",
    "远航",
    "海星",
    "群英",
    "信达",
    "盛源",
    "乐天",
    "宝丰",
    "成功",
    "富强",
    "俊达",
    "友信",
    "天虹",
    "锦华",
    "港亿",
    "伟业",
    "荣泰",
    "旭日",
    "福临",
    "雅诺",
    "贝乐",
    "童心",
    "星月",
    "彩虹",
    "奇趣",
    "智乐",
    "欢乐",
    "创艺",
    "博远",
    "锐达",
    "华通",
    "合兴",
    "泰和",
    "鼎盛",
    "凯丰",
    "佳宏",
    "顺发",
    "南海",
]
SUFFIX: dict[Cluster, tuple[str, ...]] = {
    Cluster.TOYS: ("玩具", "玩具实业", "模型玩具", "塑胶玩具", "智能玩具"),
    Cluster.TEXTILES_APPAREL: ("服饰", "针织", "内衣", "制衣", "纺织"),
    Cluster.LIGHT_EQUIPMENT: ("机械", "包装机械", "精密机械", "自动化设备", "装备制造"),
    Cluster.CHEMICALS_PLASTICS: ("塑料", "化工", "新材料", "塑胶制品"),
    Cluster.PRINTING_PACKAGING: ("印刷", "包装", "彩印", "纸品包装"),
    Cluster.CRAFTS: ("工艺", "工艺品", "礼品"),
    Cluster.FOOD: ("食品", "海产食品", "食品工业"),
    Cluster.ELECTRONICS: ("电子", "电子科技", "光电"),
}
FORMS = ("有限公司", "实业有限公司", "股份有限公司", "有限公司", "厂")
PROVIDERS = [
    ("汕头电信政企云服务有限公司", ProviderType.PLATFORM, ["iiot", "next_gen_network", "security"]),
    ("粤东工业互联网平台科技有限公司", ProviderType.PLATFORM, ["iiot", "big_data", "edge"]),
    ("潮汕智造云科技有限公司", ProviderType.PLATFORM, ["iiot", "ai", "solutions"]),
    ("汕头市玩具产业互联网平台有限公司", ProviderType.PLATFORM, ["iiot", "solutions"]),
    ("汕头纺织服装产业云科技有限公司", ProviderType.PLATFORM, ["big_data", "solutions"]),
    ("广东汕华信息技术有限公司", ProviderType.SERVICE, ["solutions", "consulting"]),
    ("汕头市数智工业软件有限公司", ProviderType.SERVICE, ["solutions", "big_data"]),
    ("汕头市安信网络安全技术有限公司", ProviderType.SERVICE, ["security"]),
    ("汕头市边缘智联科技有限公司", ProviderType.SERVICE, ["edge", "iiot"]),
    ("潮汕区块链应用研究院有限公司", ProviderType.SERVICE, ["blockchain"]),
    ("汕头市工业互联网咨询服务有限公司", ProviderType.SERVICE, ["consulting", "training"]),
    ("汕头市知识产权服务中心有限公司", ProviderType.SERVICE, ["ip"]),
    ("汕头市智造金融服务有限公司", ProviderType.SERVICE, ["finance"]),
    ("汕头职业技术人才培训有限公司", ProviderType.SERVICE, ["training"]),
    ("汕头市视觉智能科技有限公司", ProviderType.SERVICE, ["ai"]),
    ("汕头市云联MES软件有限公司", ProviderType.SERVICE, ["solutions", "iiot"]),
    ("汕头市能效管家科技有限公司", ProviderType.SERVICE, ["big_data", "solutions"]),
    ("汕头5G工业网络服务有限公司", ProviderType.SERVICE, ["next_gen_network"]),
    ("汕头市设备健康科技有限公司", ProviderType.SERVICE, ["ai", "iiot"]),
    ("汕头市供应链协同科技有限公司", ProviderType.SERVICE, ["solutions"]),
]


def context_seeders() -> list[Callable[[Session], object]]:
    """``seed(db)`` of every other context that has a demo.py, in name order."""
    import importlib
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    out = []
    for ctx in sorted(p for p in package.iterdir() if (p / "demo.py").exists() and p.name != "identity"):
        out.append(importlib.import_module(f"chaoyun.{ctx.name}.demo").seed)
    return out


@dataclass
class DemoLogin:
    role: str
    username: str
    password: str
    org_name: str


@dataclass
class EnterpriseSpec:
    name: str
    credit_code: str
    district: District
    industry_code: str
    cluster: Cluster
    employees: int
    revenue: Decimal
    is_doubling: bool
    is_lead: bool


def _pick(rng: random.Random, weights: dict[District, int]) -> District:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _body8(rng: random.Random) -> str:
    return "".join(rng.choice(CHARSET[:10] if i < 2 else CHARSET) for i in range(8))


def enterprise_spec(i: int) -> EnterpriseSpec:
    rng = random.Random(f"chaoyun-enterprise-{i}")
    cluster, _, districts = rng.choices(CLUSTER_WEIGHTS, weights=[w for _, w, _ in CLUSTER_WEIGHTS])[0]
    district = _pick(rng, districts)
    codes = [c for c, (_, cl) in INDUSTRIES.items() if cl == cluster]
    industry = rng.choice(codes)
    # Mostly small and micro firms; a long tail of larger ones.
    employees = max(3, int(rng.lognormvariate(3.9, 1.0)))
    revenue = Decimal(str(round(max(20.0, employees * rng.uniform(12, 45)), 2)))
    brand = BRANDS[i % len(BRANDS)]
    suffix = SUFFIX[cluster][(i // len(BRANDS)) % len(SUFFIX[cluster])]
    form = FORMS[(i // (len(BRANDS) * 2)) % len(FORMS)]
    place = DISTRICT_ZH[district].rstrip("区县")
    generation = i // (len(BRANDS) * len(FORMS) * 2)
    name = (
        f"汕头市{place}{brand}{suffix}{form}"
        if generation == 0
        else f"汕头市{place}{brand}{suffix}{generation + 1}{form}"
    )
    code = build("91", DISTRICT_DIVISION[district], _body8(rng))
    is_lead = employees >= 300 and rng.random() < 0.5
    is_doubling = not is_lead and rng.random() < 0.15
    return EnterpriseSpec(name, code, district, industry, cluster, employees, revenue, is_doubling, is_lead)


def enterprise_specs(n: int) -> Iterator[EnterpriseSpec]:
    seen: set[str] = set()
    for i in range(n):
        spec = enterprise_spec(i)
        if spec.name in seen:
            spec.name = (
                spec.name.replace("有限公司", f"（{i}）有限公司") if "有限公司" in spec.name else spec.name + str(i)
            )
        seen.add(spec.name)
        yield spec


def _org(db: Session, code: str) -> Organisation | None:
    return db.execute(select(Organisation).where(Organisation.credit_code == code)).scalar_one_or_none()


def _user(
    db: Session, username: str, name: str, org: Organisation, role: Role, password: str, district: str | None = None
) -> None:
    if db.execute(select(User.id).where(User.username == username)).first():
        return
    u = User(username=username, display_name=name, password_hash=hash_password(password))
    db.add(u)
    db.flush()
    db.add(Membership(user_id=u.id, org_id=org.id, role=role.value, district=district))


def seed(db: Session, enterprises: int = 300, progress: bool = False) -> list[DemoLogin]:
    created = {"government": 0, "enterprise": 0, "provider": 0}
    rng = random.Random("chaoyun-gov")
    city_code = build("11", CITY_DIVISION, _body8(rng))
    city = _org(db, city_code)
    if city is None:
        city = Organisation(
            kind=OrgKind.GOVERNMENT.value,
            name="汕头市工业和信息化局",
            credit_code=city_code,
            status="active",
            address="汕头市龙湖区金砂东路",
        )
        db.add(city)
        created["government"] += 1
    offices: dict[District, Organisation] = {}
    for d in District:
        code = build("11", DISTRICT_DIVISION[d], _body8(rng))
        office = _org(db, code)
        if office is None:
            office = Organisation(
                kind=OrgKind.GOVERNMENT.value,
                name=f"{DISTRICT_ZH[d]}工业和信息化局",
                credit_code=code,
                district=d.value,
                status="active",
            )
            db.add(office)
            created["government"] += 1
        offices[d] = office
    db.flush()

    providers: list[Organisation] = []
    for j, (pname, ptype, cats) in enumerate(PROVIDERS):
        prng = random.Random(f"chaoyun-provider-{j}")
        district = [D.LONGHU, D.JINPING, D.LONGHU, D.CHENGHAI, D.CHAONAN][j % 5]
        code = build("91", DISTRICT_DIVISION[district], _body8(prng))
        org = _org(db, code)
        if org is None:
            org = Organisation(
                kind=OrgKind.PROVIDER.value, name=pname, credit_code=code, district=district.value, status="active"
            )
            org.provider = ProviderProfile(
                provider_type=ptype.value, service_categories=[c for c in cats if c in SERVICE_CATEGORIES]
            )
            db.add(org)
            created["provider"] += 1
        providers.append(org)
    db.flush()

    existing = set(db.execute(select(Organisation.credit_code).where(Organisation.kind == "enterprise")).scalars())
    first_toy: Organisation | None = None
    specs = list(enterprise_specs(enterprises))
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("演示企业 / demo enterprises", total=len(specs))
        for k, spec in enumerate(specs):
            if spec.credit_code not in existing:
                org = Organisation(
                    kind=OrgKind.ENTERPRISE.value,
                    name=spec.name,
                    credit_code=spec.credit_code,
                    district=spec.district.value,
                    status="active",
                    address=f"汕头市{DISTRICT_ZH[spec.district]}",
                )
                org.enterprise = EnterpriseProfile(
                    industry_code=spec.industry_code,
                    cluster=spec.cluster.value,
                    employees=spec.employees,
                    annual_revenue=spec.revenue,
                    size_class=size_class(spec.employees, float(spec.revenue)).value,
                    is_doubling=spec.is_doubling,
                    is_lead=spec.is_lead,
                )
                db.add(org)
                created["enterprise"] += 1
            if k % 500 == 499:
                db.flush()
            bar.advance(task)
    db.flush()
    for spec in specs:
        if spec.cluster == Cluster.TOYS and spec.district == D.CHENGHAI:
            first_toy = _org(db, spec.credit_code)
            break
    assert first_toy is not None
    second = next(s for s in specs if s.credit_code != first_toy.credit_code and s.district == D.CHENGHAI)
    other_ent = _org(db, second.credit_code)
    assert other_ent is not None
    # A plastic-parts supplier of the toy makers (supply-chain demo): the first such enterprise of the cluster.
    supplier_spec = next(
        (s for s in specs if s.cluster == Cluster.CHEMICALS_PLASTICS and s.credit_code != second.credit_code), None
    )
    supplier_ent = _org(db, supplier_spec.credit_code) if supplier_spec else None

    people = [
        ("admin", "平台管理员", city, Role.PLATFORM_ADMIN, None),
        ("city", "市经信局 陈科长", city, Role.CITY_OFFICER, None),
        ("chenghai", "澄海区经信局 林干事", offices[D.CHENGHAI], Role.DISTRICT_OFFICER, D.CHENGHAI.value),
        ("chaonan", "潮南区经信局 郑干事", offices[D.CHAONAN], Role.DISTRICT_OFFICER, D.CHAONAN.value),
        ("expert", "专家 黄工", city, Role.EXPERT, None),
        ("evaluator", "第三方评估 吴老师", city, Role.EVALUATOR, None),
        ("factory", "企业管理员 蔡经理", first_toy, Role.ENTERPRISE_ADMIN, None),
        ("operator", "企业成员 许班长", first_toy, Role.ENTERPRISE_MEMBER, None),
        ("factory2", "企业管理员 李经理", other_ent, Role.ENTERPRISE_ADMIN, None),
        ("provider", "服务商管理员 方总", providers[0], Role.PROVIDER_ADMIN, None),
        ("provider_staff", "服务商成员 周工", providers[0], Role.PROVIDER_MEMBER, None),
    ]
    if supplier_ent is not None:
        people.append(("supplier", "供应商管理员 郑经理", supplier_ent, Role.ENTERPRISE_ADMIN, None))
    logins = []
    for username, name, org, role, district_code in people:
        password = f"{username}-demo-2018"
        _user(db, username, name, org, role, password, district_code)
        logins.append(DemoLogin(role.value, username, password, org.name))
    if any(created.values()):
        audit.record(
            db,
            actor_user_id=None,
            actor_username="system",
            actor_org_id=None,
            action="seed",
            object_type="demo",
            object_id="",
            after=created,
        )
    db.commit()
    return logins
