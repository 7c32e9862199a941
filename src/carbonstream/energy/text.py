"""What people read about energy findings, in zh-CN and en, in one place (until the
shared translation mechanism lands; then these move into its catalogue)."""

from __future__ import annotations

from typing import Final

Text = dict[str, str]

TEXT: Final[dict[str, dict[str, Text]]] = {
    "idle_load": {
        "title": {"zh": "非生产时段空载能耗", "en": "Idle load outside production hours"},
        "action": {
            "zh": "在非生产时段关闭或待机该设备（设置定时或联锁）",
            "en": "Switch it off or to standby outside the shifts (timer or interlock)",
        },
    },
    "drift": {
        "title": {"zh": "能耗漂移（高于基线）", "en": "Consumption drifting above its baseline"},
        "action": {
            "zh": "检查设备状态（结垢、泄漏、设定值变更）并恢复",
            "en": "Inspect the equipment (fouling, leaks, changed set points) and restore it",
        },
    },
    "demand_peak": {
        "title": {"zh": "需量尖峰", "en": "Demand peak that sets the bill"},
        "action": {
            "zh": "错开同时启动的负荷，削减月最大需量",
            "en": "Stagger the loads that start together to cut the monthly peak",
        },
    },
    "flexible_peak": {
        "title": {"zh": "可移动负荷处于需量高峰", "en": "Movable load runs in the demand peak"},
        "action": {
            "zh": "将该批次负荷移至低谷或低排放时段",
            "en": "Move the batch to off-peak or lowest-emission hours",
        },
    },
}

LABELS: Final[dict[str, Text]] = {
    "opportunities": {"zh": "节能减排机会", "en": "Reduction opportunities"},
    "tco2e_per_year": {"zh": "tCO2e/年", "en": "tCO2e/yr"},
    "cost_per_year": {"zh": "元/年", "en": "yuan/yr"},
    "energy_per_year": {"zh": "能耗/年", "en": "energy/yr"},
    "evidence": {"zh": "读数", "en": "readings"},
    "none": {"zh": "未发现机会", "en": "No opportunity found"},
    "comprehensive_energy": {"zh": "综合能耗", "en": "Comprehensive energy"},
}
