"""Reference data the identity context validates against: districts, industries, clusters, roles."""

from __future__ import annotations

from enum import StrEnum


class District(StrEnum):
    JINPING = "jinping"
    LONGHU = "longhu"
    HAOJIANG = "haojiang"
    CHENGHAI = "chenghai"
    CHAOYANG = "chaoyang"
    CHAONAN = "chaonan"
    NANAO = "nanao"


DISTRICT_ZH: dict[District, str] = {
    District.JINPING: "金平区",
    District.LONGHU: "龙湖区",
    District.HAOJIANG: "濠江区",
    District.CHENGHAI: "澄海区",
    District.CHAOYANG: "潮阳区",
    District.CHAONAN: "潮南区",
    District.NANAO: "南澳县",
}
DISTRICT_EN: dict[District, str] = {
    District.JINPING: "Jinping",
    District.LONGHU: "Longhu",
    District.HAOJIANG: "Haojiang",
    District.CHENGHAI: "Chenghai",
    District.CHAOYANG: "Chaoyang",
    District.CHAONAN: "Chaonan",
    District.NANAO: "Nan'ao",
}
# GB/T 2260 administrative division codes, used in positions 3-8 of credit codes.
DISTRICT_DIVISION: dict[District, str] = {
    District.JINPING: "440511",
    District.LONGHU: "440507",
    District.HAOJIANG: "440512",
    District.CHENGHAI: "440515",
    District.CHAOYANG: "440513",
    District.CHAONAN: "440514",
    District.NANAO: "440523",
}


class Cluster(StrEnum):
    TOYS = "toys"
    TEXTILES_APPAREL = "textiles_apparel"
    LIGHT_EQUIPMENT = "light_equipment"
    CHEMICALS_PLASTICS = "chemicals_plastics"
    PRINTING_PACKAGING = "printing_packaging"
    CRAFTS = "crafts"
    FOOD = "food"
    ELECTRONICS = "electronics"


CLUSTER_ZH: dict[Cluster, str] = {
    Cluster.TOYS: "玩具",
    Cluster.TEXTILES_APPAREL: "纺织服装",
    Cluster.LIGHT_EQUIPMENT: "轻工装备",
    Cluster.CHEMICALS_PLASTICS: "化工塑料",
    Cluster.PRINTING_PACKAGING: "印刷包装",
    Cluster.CRAFTS: "工艺品",
    Cluster.FOOD: "食品",
    Cluster.ELECTRONICS: "电子信息",
}
CLUSTER_EN: dict[Cluster, str] = {
    Cluster.TOYS: "Toys",
    Cluster.TEXTILES_APPAREL: "Textiles & apparel",
    Cluster.LIGHT_EQUIPMENT: "Light-industry equipment",
    Cluster.CHEMICALS_PLASTICS: "Chemicals & plastics",
    Cluster.PRINTING_PACKAGING: "Printing & packaging",
    Cluster.CRAFTS: "Arts & crafts",
    Cluster.FOOD: "Food",
    Cluster.ELECTRONICS: "Electronics",
}

# GB/T 4754-2017 class codes (manufacturing section C) the platform knows, with their cluster.
INDUSTRIES: dict[str, tuple[str, Cluster]] = {
    "C2451": ("电玩具制造", Cluster.TOYS),
    "C2452": ("塑胶玩具制造", Cluster.TOYS),
    "C2453": ("金属玩具制造", Cluster.TOYS),
    "C2454": ("弹射玩具制造", Cluster.TOYS),
    "C2455": ("娃娃玩具制造", Cluster.TOYS),
    "C2456": ("儿童乘骑玩耍的童车类产品制造", Cluster.TOYS),
    "C2459": ("其他玩具制造", Cluster.TOYS),
    "C1713": ("棉印染精加工", Cluster.TEXTILES_APPAREL),
    "C1761": ("针织或钩针编织物织造", Cluster.TEXTILES_APPAREL),
    "C1811": ("运动机织服装制造", Cluster.TEXTILES_APPAREL),
    "C1819": ("其他机织服装制造", Cluster.TEXTILES_APPAREL),
    "C1821": ("运动休闲针织服装制造", Cluster.TEXTILES_APPAREL),
    "C1829": ("其他针织或钩针编织服装制造", Cluster.TEXTILES_APPAREL),
    "C1830": ("服饰制造", Cluster.TEXTILES_APPAREL),
    "C3467": ("包装专用设备制造", Cluster.LIGHT_EQUIPMENT),
    "C3542": ("印刷专用设备制造", Cluster.LIGHT_EQUIPMENT),
    "C3549": ("其他日用品生产专用设备制造", Cluster.LIGHT_EQUIPMENT),
    "C3551": ("纺织专用设备制造", Cluster.LIGHT_EQUIPMENT),
    "C3553": ("缝制机械制造", Cluster.LIGHT_EQUIPMENT),
    "C3523": ("塑料加工专用设备制造", Cluster.LIGHT_EQUIPMENT),
    "C2921": ("塑料薄膜制造", Cluster.CHEMICALS_PLASTICS),
    "C2929": ("其他塑料制品制造", Cluster.CHEMICALS_PLASTICS),
    "C2651": ("初级形态塑料及合成树脂制造", Cluster.CHEMICALS_PLASTICS),
    "C2231": ("纸和纸板容器制造", Cluster.PRINTING_PACKAGING),
    "C2319": ("包装装潢及其他印刷", Cluster.PRINTING_PACKAGING),
    "C2439": ("其他工艺美术及礼仪用品制造", Cluster.CRAFTS),
    "C2431": ("雕塑工艺品制造", Cluster.CRAFTS),
    "C1419": ("饼干及其他焙烤食品制造", Cluster.FOOD),
    "C1421": ("糖果、巧克力制造", Cluster.FOOD),
    "C1469": ("其他调味品、发酵制品制造", Cluster.FOOD),
    "C3982": ("电子电路制造", Cluster.ELECTRONICS),
    "C3981": ("电阻电容电感元件制造", Cluster.ELECTRONICS),
    "C3879": ("灯用电器附件及其他照明器具制造", Cluster.ELECTRONICS),
}


class OrgKind(StrEnum):
    GOVERNMENT = "government"
    ENTERPRISE = "enterprise"
    PROVIDER = "provider"


class OrgStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"


class SizeClass(StrEnum):
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


class ProviderType(StrEnum):
    PLATFORM = "platform"
    SERVICE = "service"


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    CITY_OFFICER = "city_officer"
    DISTRICT_OFFICER = "district_officer"
    EXPERT = "expert"
    EVALUATOR = "evaluator"
    ENTERPRISE_ADMIN = "enterprise_admin"
    ENTERPRISE_MEMBER = "enterprise_member"
    PROVIDER_ADMIN = "provider_admin"
    PROVIDER_MEMBER = "provider_member"


GOVERNMENT_ROLES = {
    Role.PLATFORM_ADMIN,
    Role.CITY_OFFICER,
    Role.DISTRICT_OFFICER,
    Role.EXPERT,
    Role.EVALUATOR,
}
ROLE_ORG_KIND: dict[Role, OrgKind] = {
    Role.PLATFORM_ADMIN: OrgKind.GOVERNMENT,
    Role.CITY_OFFICER: OrgKind.GOVERNMENT,
    Role.DISTRICT_OFFICER: OrgKind.GOVERNMENT,
    Role.EXPERT: OrgKind.GOVERNMENT,
    Role.EVALUATOR: OrgKind.GOVERNMENT,
    Role.ENTERPRISE_ADMIN: OrgKind.ENTERPRISE,
    Role.ENTERPRISE_MEMBER: OrgKind.ENTERPRISE,
    Role.PROVIDER_ADMIN: OrgKind.PROVIDER,
    Role.PROVIDER_MEMBER: OrgKind.PROVIDER,
}

# Service categories named by plan item 13.
SERVICE_CATEGORIES: dict[str, str] = {
    "iiot": "工业物联网",
    "edge": "边缘计算",
    "big_data": "大数据",
    "ai": "人工智能",
    "solutions": "系统解决方案",
    "blockchain": "区块链",
    "next_gen_network": "下一代网络",
    "security": "信息安全",
    "consulting": "技术咨询",
    "ip": "知识产权",
    "finance": "投融资",
    "training": "人才培训",
}


def size_class(employees: int, revenue_10k_yuan: float) -> SizeClass:
    """National SME classification for industry (国统字〔2017〕213号).

    Large, medium and small each require *both* lower limits; a firm missing either drops a class.
    Revenue is in units of 10,000 yuan (万元).
    """
    if employees >= 1000 and revenue_10k_yuan >= 40000:
        return SizeClass.LARGE
    if employees >= 300 and revenue_10k_yuan >= 2000:
        return SizeClass.MEDIUM
    if employees >= 20 and revenue_10k_yuan >= 300:
        return SizeClass.SMALL
    return SizeClass.MICRO
