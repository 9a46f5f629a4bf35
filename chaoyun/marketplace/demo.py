"""Demo resource pool for the 20 providers identity seeds: admissions, offerings, assessments,
a contract and ratings, a provincial recommendation round.

Deterministic (fixed data; dates relative to today so whitelist validity stays meaningful) and
idempotent (a provider that already has an admission record is left alone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chaoyun.db import utcnow
from chaoyun.identity import audit
from chaoyun.identity.models import Membership, Organisation, User
from chaoyun.identity.reference import DISTRICT_ZH, District
from chaoyun.marketplace.catalogue import _search_text
from chaoyun.marketplace.models import Admission, Assessment, Contract, Offering, Rating, Recommendation, SpotCheck
from chaoyun.marketplace.prices import demo as prices_demo
from chaoyun.marketplace.reference import CHECKLIST

# (name, kind, category, summary, description, industries, saas_domains, deployment, price_model, price, costs, case)
OfferingSpec = tuple[
    str, str, str, str, str, list[str], list[str], list[str], str, str, list[str], dict[str, Any] | None
]
CLOUD = ["cloud_resources", "platform_fee", "app_fee"]
OFFERINGS: dict[int, list[OfferingSpec]] = {
    0: [
        (
            "天翼工业云主机（中小企业版）",
            "product",
            "iiot",
            "按需付费的云主机、存储与数据库，上云首年七折",
            "面向汕头中小制造企业的公有云基础资源：云主机、对象存储、云数据库和企业专线一体开通，支持按月付费、以租代买。",
            ["toys", "textiles_apparel", "light_equipment"],
            ["office"],
            ["public_cloud"],
            "subscription",
            "每月 299 元起",
            ["cloud_resources", "network_fee"],
            {
                "customer": "澄海某塑胶玩具厂",
                "summary": "ERP 与设计图纸迁移上云",
                "metric": "IT 一次性投入",
                "before": 180000,
                "after": 42000,
                "unit": "元",
            },
        ),
        (
            "5G+工业专网接入服务",
            "solution",
            "next_gen_network",
            "车间 5G 专网与企业专线，设备数据就近接入",
            "为注塑、缝制车间部署 5G 专网和边缘网关，实现设备联网与数据采集，提供网络改造与设备接入服务。",
            ["toys", "light_equipment"],
            ["production_control"],
            ["edge", "private"],
            "quote",
            "按项目报价",
            ["network_fee", "network_modification", "device_access"],
            None,
        ),
    ],
    1: [
        (
            "粤东工业互联网平台·设备上云套件",
            "product",
            "iiot",
            "注塑机、绣花机、缝纫机即插即用接入，OEE 与能耗看板",
            "支持 Modbus、OPC UA、MQTT 协议的采集网关和云端设备管理，自动计算 OEE、停机原因与单件能耗。",
            ["toys", "textiles_apparel", "light_equipment"],
            ["production_control", "energy"],
            ["public_cloud", "edge"],
            "subscription",
            "每台设备每月 30 元",
            ["platform_fee", "device_access"],
            {
                "customer": "澄海某电动玩具厂",
                "summary": "86 台注塑机联网",
                "metric": "设备综合效率 OEE",
                "before": 58,
                "after": 71,
                "unit": "%",
            },
        ),
        (
            "工业大数据分析平台",
            "product",
            "big_data",
            "产线数据湖、报表与质量追溯分析",
            "汇聚设备、质量、订单数据，提供拖拽式报表、SPC 质量分析和批次追溯，帮助企业用数据管理生产。",
            ["toys", "light_equipment", "printing_packaging"],
            ["process_improvement"],
            ["public_cloud"],
            "subscription",
            "每年 2.8 万元起",
            CLOUD,
            None,
        ),
    ],
    2: [
        (
            "潮汕智造云 MES（玩具版）",
            "app",
            "solutions",
            "玩具企业订单、排产、报工、质检一体化云 MES",
            "针对玩具行业多品种小批量特点，支持模具管理、智能排产、扫码报工和外发加工跟踪，手机即可查看生产进度。",
            ["toys"],
            ["production_control", "supply_chain"],
            ["public_cloud"],
            "subscription",
            "每用户每月 99 元",
            ["app_fee", "implementation"],
            {
                "customer": "澄海某模型玩具公司",
                "summary": "上线云 MES 与智能排产",
                "metric": "订单准时交付率",
                "before": 78,
                "after": 93,
                "unit": "%",
            },
        ),
        (
            "AI 视觉质检云服务",
            "app",
            "ai",
            "毛绒玩具、服装面料缺陷视觉检测",
            "基于深度学习的外观缺陷检测，识别污渍、破洞、线头、色差，检测结果实时回传 MES。",
            ["toys", "textiles_apparel"],
            ["process_improvement"],
            ["edge", "public_cloud"],
            "per_use",
            "每万次检测 150 元",
            ["app_fee", "device_access"],
            {
                "customer": "潮南某针织厂",
                "summary": "验布环节部署视觉检测",
                "metric": "漏检率",
                "before": 6.5,
                "after": 1.2,
                "unit": "%",
            },
        ),
    ],
    3: [
        (
            "玩具产业协同平台",
            "product",
            "solutions",
            "玩具品牌商与配套厂订单协同、产能共享",
            "连接澄海玩具品牌商、注塑配套厂与包装印刷厂，在线下单、排期确认、产能共享和账期管理。",
            ["toys", "printing_packaging"],
            ["supply_chain", "marketing"],
            ["public_cloud"],
            "subscription",
            "每年 6800 元",
            CLOUD,
            None,
        ),
    ],
    4: [
        (
            "纺织服装产业云·智能裁剪排料",
            "app",
            "solutions",
            "服装 CAD 排料优化，提高面料利用率",
            "自动排料与裁床联动，支持小批量快反订单，面料利用率报表按款式统计。",
            ["textiles_apparel"],
            ["rd_design", "production_control"],
            ["public_cloud"],
            "subscription",
            "每月 1200 元",
            ["app_fee"],
            {
                "customer": "谷饶某内衣企业",
                "summary": "智能排料上云",
                "metric": "面料利用率",
                "before": 82,
                "after": 88,
                "unit": "%",
            },
        ),
        (
            "服装电商与会员营销云",
            "app",
            "solutions",
            "多平台订单与会员营销一体化",
            "整合主流电商平台订单，会员画像与精准营销，库存与门店协同。",
            ["textiles_apparel"],
            ["marketing", "customer_mgmt"],
            ["public_cloud"],
            "subscription",
            "每月 800 元",
            ["app_fee"],
            None,
        ),
    ],
    5: [
        (
            "两化融合贯标咨询服务",
            "solution",
            "consulting",
            "两化融合管理体系贯标辅导与评定申报",
            "诊断企业信息化现状，编制体系文件，辅导通过国家两化融合管理体系评定。",
            [],
            ["office"],
            ["private"],
            "one_off",
            "每家 8 万元起",
            ["implementation"],
            None,
        ),
    ],
    6: [
        (
            "云 ERP 进销存（轻工装备版）",
            "app",
            "solutions",
            "装备企业订单、BOM、采购、库存、财务一体化",
            "面向包装机械、塑料机械企业，支持按单设计 BOM、采购跟踪和售后服务管理。",
            ["light_equipment"],
            ["supply_chain", "office", "customer_mgmt"],
            ["public_cloud"],
            "subscription",
            "每用户每月 120 元",
            ["app_fee", "implementation"],
            {
                "customer": "金平某包装机械厂",
                "summary": "ERP 上云替换单机软件",
                "metric": "库存周转天数",
                "before": 96,
                "after": 61,
                "unit": "天",
            },
        ),
    ],
    7: [
        (
            "工控安全评估与等保加固",
            "solution",
            "security",
            "工业控制系统安全评估、边界防护与等保 2.0 整改",
            "依据等保 2.0 工业控制扩展要求开展风险评估，部署工业防火墙、主机白名单和安全审计。",
            ["toys", "textiles_apparel", "light_equipment", "chemicals_plastics"],
            [],
            ["private", "edge"],
            "quote",
            "按项目报价",
            ["implementation", "network_modification"],
            None,
        ),
        (
            "云上安全托管服务",
            "product",
            "security",
            "上云企业 7×24 安全监测、漏洞扫描与应急响应",
            "为上云企业提供主机安全、Web 防护、日志审计和应急响应托管服务。",
            [],
            ["office"],
            ["public_cloud"],
            "subscription",
            "每月 500 元起",
            ["platform_fee"],
            None,
        ),
    ],
    8: [
        (
            "边缘计算网关与数据采集服务",
            "product",
            "edge",
            "老旧设备改造加装传感器，边缘计算预处理",
            "为无通讯接口的老旧注塑机、印刷机加装电表和传感器，边缘侧计算能耗与停机，数据上传平台。",
            ["toys", "printing_packaging", "light_equipment"],
            ["energy", "production_control"],
            ["edge"],
            "one_off",
            "每台 1800 元",
            ["device_access", "network_modification"],
            {
                "customer": "龙湖某彩印厂",
                "summary": "12 台印刷机加装采集",
                "metric": "单位产量电耗",
                "before": 1.32,
                "after": 1.12,
                "unit": "kWh/千印",
            },
        ),
    ],
    9: [
        (
            "区块链产品质量溯源平台",
            "product",
            "blockchain",
            "玩具与食品一物一码溯源上链",
            "结合工业互联网标识解析，为产品赋码，生产、质检、物流数据上链存证，消费者扫码查询。",
            ["toys", "food"],
            ["marketing", "supply_chain"],
            ["public_cloud"],
            "subscription",
            "每年 1.5 万元",
            ["platform_fee"],
            None,
        ),
    ],
    10: [
        (
            "企业上云诊断与人才培训",
            "solution",
            "consulting",
            "把脉问诊与上云方案，数字化人才培训",
            "专家入企诊断，出具上云上平台方案；面向车间主任与 IT 人员开展工业互联网培训。",
            [],
            [],
            ["private"],
            "one_off",
            "每次 1.2 万元",
            ["implementation"],
            None,
        ),
    ],
    11: [
        (
            "专利布局与知识产权托管",
            "solution",
            "ip",
            "玩具外观专利与商标维权托管",
            "提供外观设计专利申请、侵权监测与维权服务。",
            ["toys"],
            [],
            ["private"],
            "quote",
            "按件报价",
            [],
            None,
        )
    ],
    12: [
        (
            "供应链金融·订单融资服务",
            "solution",
            "finance",
            "基于平台订单数据的中小企业融资对接",
            "依托平台订单与设备数据，为中小制造企业对接银行订单贷。",
            [],
            ["supply_chain"],
            ["public_cloud"],
            "quote",
            "按融资额收费",
            [],
            None,
        )
    ],
    13: [
        (
            "工业互联网技能培训课程",
            "solution",
            "training",
            "工业互联网运维、数据分析实训课程",
            "线上线下结合的实训课程，颁发培训证书。",
            [],
            ["office"],
            ["public_cloud"],
            "one_off",
            "每人 1800 元",
            [],
            None,
        )
    ],
    14: [
        (
            "注塑件尺寸视觉测量",
            "app",
            "ai",
            "在线尺寸测量与 SPC 预警",
            "视觉测量注塑件关键尺寸，超差自动报警并生成 SPC 控制图。",
            ["toys", "chemicals_plastics"],
            ["process_improvement"],
            ["edge"],
            "subscription",
            "每工位每月 600 元",
            ["app_fee", "device_access"],
            None,
        ),
    ],
    15: [
        (
            "云联 MES 智能排产",
            "app",
            "solutions",
            "多品种小批量智能排产与报工",
            "有限产能排产、插单模拟、扫码报工与在制品跟踪，适合注塑、包装企业。",
            ["toys", "printing_packaging", "light_equipment"],
            ["production_control"],
            ["public_cloud"],
            "subscription",
            "每月 1500 元",
            ["app_fee", "implementation"],
            {
                "customer": "澄海某智能玩具公司",
                "summary": "上线智能排产",
                "metric": "排产编制时间",
                "before": 4,
                "after": 0.5,
                "unit": "小时/天",
            },
        ),
    ],
    16: [
        (
            "能效管家·能耗在线监测",
            "app",
            "big_data",
            "分项计量、峰谷电价优化与节能诊断",
            "对空压机、注塑机、空调分项计量，峰谷用电优化建议与节能诊断报告。",
            ["toys", "textiles_apparel", "light_equipment", "chemicals_plastics"],
            ["energy"],
            ["public_cloud", "edge"],
            "subscription",
            "每月 680 元",
            ["app_fee", "device_access"],
            {
                "customer": "潮阳某印染厂",
                "summary": "能耗监测与峰谷调度",
                "metric": "月电费",
                "before": 412000,
                "after": 365000,
                "unit": "元",
            },
        ),
    ],
    17: [
        (
            "5G 工业网关与专线",
            "product",
            "next_gen_network",
            "车间 5G 网关与企业专线开通",
            "提供 5G 工业网关、企业专线与网络运维服务。",
            ["light_equipment"],
            [],
            ["edge"],
            "subscription",
            "每月 400 元起",
            ["network_fee", "network_modification"],
            None,
        )
    ],
    18: [
        (
            "设备健康预测性维护",
            "app",
            "ai",
            "振动与电流监测，故障提前预警",
            "采集关键设备振动、电流、温度，AI 模型预测轴承与液压故障，生成维护工单。",
            ["light_equipment", "toys"],
            ["production_control"],
            ["edge", "public_cloud"],
            "subscription",
            "每台每月 80 元",
            ["app_fee", "device_access"],
            None,
        ),
    ],
    19: [
        (
            "供应链协同门户",
            "app",
            "solutions",
            "采购订单协同与供应商评价",
            "品牌商与供应商在线协同：订单、交期、对账与评价。",
            ["toys", "textiles_apparel"],
            ["supply_chain"],
            ["public_cloud"],
            "subscription",
            "每月 900 元",
            ["app_fee"],
            None,
        )
    ],
}
SAAS: dict[int, list[str]] = {
    0: ["office"],
    1: ["production_control", "energy"],
    2: ["production_control", "process_improvement"],
}
PENDING = 18  # still awaiting review: shows in the bureau's queue
SUSPENDED = 9  # failed an unannounced spot check
EXPIRED = 12  # whitelist assessment past its expiry date
OPEN = 13  # assessment in progress
LEADING = (0, 1, 2)


def _providers(db: Session) -> list[Organisation]:
    from chaoyun.identity.demo import PROVIDERS

    names = [p[0] for p in PROVIDERS]
    orgs = {o.name: o for o in db.execute(select(Organisation).where(Organisation.kind == "provider")).scalars()}
    return [orgs[n] for n in names if n in orgs]


def seed(db: Session) -> dict[str, int]:
    created = {"admissions": 0, "offerings": 0, "assessments": 0}
    today = date.today()
    providers = _providers(db)
    for j, org in enumerate(providers):
        if db.execute(select(Admission.id).where(Admission.org_id == org.id)).first():
            continue
        ptype = org.provider.provider_type if org.provider else "service"
        cats = list(org.provider.service_categories) if org.provider else []
        adm = Admission(
            org_id=org.id,
            provider_type=ptype,
            platform_scope=("cross_industry" if j < 3 else "industry_specific") if ptype == "platform" else "",
            registered_place=f"广东省汕头市{DISTRICT_ZH[District(org.district)]}" if org.district else "广东省汕头市",
            categories=cats,
            saas_domains=SAAS.get(j, sorted({d for o in OFFERINGS.get(j, []) for d in o[6]})),
            qualifications="ISO 9001；ISO/IEC 27001；高新技术企业",
            references="服务汕头及粤东地区制造企业 50 家以上",
            integration_report="两化融合管理体系评定：AA 级（2018）"
            if j % 2 == 0
            else "两化融合自评估报告：集成提升阶段",
            status="applied" if j == PENDING else "admitted",
            leading_platform=j in LEADING,
            # Admitted within the plan period (2018-2020), so the programme's targets count them.
            applied_at=_at(date(2018, 10, 8) + timedelta(days=30 * (j // 5) + j)),
            decided_at=None if j == PENDING else _at(date(2018, 12, 20) + timedelta(days=60 * (j // 5) + j)),
        )
        db.add(adm)
        created["admissions"] += 1
        for o in OFFERINGS.get(j, []):
            name, kind, cat, summary, desc, inds, doms, dep, pm, price, costs, case = o
            off = Offering(
                org_id=org.id,
                kind=kind,
                name=name,
                category=cat,
                summary=summary,
                description=desc,
                industries=inds,
                saas_domains=doms,
                deployment=dep,
                price_model=pm,
                price_text=price,
                cost_categories=costs,
                case_studies=[case] if case else [],
                status="published",
            )
            off.search_text = _search_text(off, org.name)
            db.add(off)
            created["offerings"] += 1
        if j == PENDING:
            continue
        full = {i.code: i.weight for i in CHECKLIST}
        scores = {code: (w if (k + j) % 4 else w - 2) for k, (code, w) in enumerate(full.items())}
        a = Assessment(
            org_id=org.id,
            status="open" if j == OPEN else "passed",
            assessor_name="专家 黄工",
            scores={} if j == OPEN else scores,
            notes={},
            total=None if j == OPEN else float(sum(scores.values())),
            concluded_at=None if j == OPEN else utcnow() - timedelta(days=200),
            expires_on=None
            if j == OPEN
            else (today - timedelta(days=30) if j == EXPIRED else today + timedelta(days=165)),
            suspended=j == SUSPENDED,
            suspended_reason="抽查发现平台管理后台使用弱口令，且未保留用户登录日志" if j == SUSPENDED else "",
            suspended_at=utcnow() - timedelta(days=10) if j == SUSPENDED else None,
        )
        db.add(a)
        db.flush()
        if j == SUSPENDED:
            db.add(
                SpotCheck(
                    assessment_id=a.id,
                    org_id=org.id,
                    checked_on=today - timedelta(days=10),
                    passed=False,
                    findings=a.suspended_reason,
                )
            )
        elif j in (1, 2):
            db.add(
                SpotCheck(
                    assessment_id=a.id,
                    org_id=org.id,
                    checked_on=today - timedelta(days=40),
                    passed=True,
                    findings="抽查合格",
                )
            )
        created["assessments"] += 1
    db.flush()
    _contracts_and_ratings(db, providers)
    _recommendations(db, providers)
    if any(created.values()):
        audit.record(
            db,
            actor_user_id=None,
            actor_username="system",
            actor_org_id=None,
            action="seed",
            object_type="marketplace_demo",
            object_id="",
            after=created,
        )
    db.commit()
    # Carriers' tariffs and cloud prices, from which the plan's two price targets are computed.
    created["prices"] = prices_demo.seed(db)
    return created


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)


def _org_of(db: Session, username: str) -> Organisation | None:
    m = (
        db.execute(select(Membership).join(User, User.id == Membership.user_id).where(User.username == username))
        .scalars()
        .first()
    )
    return m.org if m else None


def _contracts_and_ratings(db: Session, providers: list[Organisation]) -> None:
    factory = _org_of(db, "factory")
    if factory is None or len(providers) < 3:
        return
    if db.execute(select(Contract.id).where(Contract.enterprise_org_id == factory.id)).first():
        return
    prov = providers[2]  # 潮汕智造云: the MES the demo toy factory uses
    off = db.execute(select(Offering).where(Offering.org_id == prov.id).order_by(Offering.id)).scalars().first()
    c = Contract(
        enterprise_org_id=factory.id,
        provider_org_id=prov.id,
        offering_id=off.id if off else None,
        title="云 MES 年度服务合同",
        amount=Decimal("36000.00"),
        signed_on=date(2018, 10, 8),
        status="verified",
        confirmed_at=utcnow(),
    )
    db.add(c)
    if off is not None:
        db.add(
            Rating(
                offering_id=off.id,
                provider_org_id=prov.id,
                enterprise_org_id=factory.id,
                score=5,
                comment="排产效率明显提升，实施团队响应及时",
            )
        )


def _recommendations(db: Session, providers: list[Organisation]) -> None:
    if db.execute(select(Recommendation.id)).first():
        return
    # 2019: four accepted by the province; 2020: two submitted, two still only selected.
    for j, org in enumerate(providers[:9]):
        if j == SUSPENDED:
            continue
        rec_year = 2019 if j < 4 else 2020
        status = "accepted" if j < 4 else ("submitted" if j < 6 else "selected")
        db.add(Recommendation(org_id=org.id, year=rec_year, status=status))
