"""Every label a person reads on the footprint declaration and the disclosure page, in
Chinese and English, in one place (until the shared i18n catalogue takes them over)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

LABELS: dict[str, tuple[str, str]] = {
    "declaration": (
        "产品碳足迹声明（部分碳足迹，摇篮到大门）",
        "Product carbon footprint declaration (partial, cradle-to-gate)",
    ),
    "standards": ("依据标准", "Standards"),
    "organisation": ("组织", "Organisation"),
    "product": ("产品", "Product"),
    "declared_unit": ("声明单位", "Declared unit"),
    "period": ("期间", "Period"),
    "result": ("结果", "Result"),
    "per_unit_market": (
        "每声明单位 kgCO2e（市场法电力）",
        "kgCO2e per declared unit (market-based electricity)",
    ),
    "per_unit_location": (
        "每声明单位 kgCO2e（基于位置法电力）",
        "kgCO2e per declared unit (location-based electricity)",
    ),
    "by_stage": ("按阶段 tCO2e", "By stage, tCO2e"),
    "raw_materials": ("原材料（范围3类别1）", "Raw materials (Scope 3 cat. 1)"),
    "inbound_transport": ("进厂运输（类别4）", "Inbound transport (cat. 4)"),
    "production_energy_market": ("生产能源（市场法）", "Production energy (market-based)"),
    "production_energy_location": ("生产能源（位置法）", "Production energy (location-based)"),
    "other": ("其他", "Other"),
    "boundary": ("系统边界", "System boundary"),
    "allocation": ("分配", "Allocation"),
    "data_quality": ("数据质量", "Data quality"),
    "exclusions": ("排除项", "Exclusions"),
    "factors": ("因子", "Factors"),
    "lots": ("批次", "Lots"),
    "location_based": ("基于位置", "location-based"),
    "disclosure": ("碳信息公开披露", "Public carbon disclosure"),
    "scope1": ("范围1", "Scope 1"),
    "scope2_location": ("范围2（基于位置）", "Scope 2 (location-based)"),
    "scope2_market": ("范围2（基于市场）", "Scope 2 (market-based)"),
    "month": ("月份", "Month"),
    "year_total": ("全年", "Year"),
    "green_share": ("绿色电力占比", "Green electricity share"),
    "offsets": ("已注销的抵消量", "Offsets retired"),
    "zero_carbon": ("零碳状态", "Zero-carbon status"),
    "energy_tce": ("综合能源消费量（tce）", "Energy consumption (tce)"),
    "products": ("公开的产品碳足迹", "Published product footprints"),
    "methodology": ("方法学", "Methodology"),
    "evidence": ("证据链头", "Evidence chain head"),
    "signature": ("签名（Ed25519）", "Signature (Ed25519)"),
    "verify_with": ("用 openssl 验证", "Verify with openssl"),
    "not_yet": ("尚未提供", "not available yet"),
    "self_evaluation": ("零碳工厂年度自评价", "Zero-carbon factory annual self-evaluation"),
    "ind_green": ("绿色电力占比", "Green electricity share"),
    "ind_energy": (
        "单位产品能耗与定额先进值/标杆值",
        "Energy per unit vs quota advanced/benchmark value",
    ),
    "ind_intensity": ("单位产品碳排放", "CO2e per unit of product"),
    "ind_residual": ("范围1+2 剩余排放", "Scope 1 + 2 residual emissions"),
    "ind_offsets": ("已注销抵消量（按类型）及占比", "Offsets retired by type, and share"),
    "ind_disclosure": ("信息披露", "Disclosure"),
}


def t(key: str, lang: Lang) -> str:
    zh, en = LABELS[key]
    return zh if lang == "zh" else en


def both(key: str) -> str:
    """'中文 / English', for documents read in both languages at once (PDF)."""
    zh, en = LABELS[key]
    return f"{zh} / {en}"
