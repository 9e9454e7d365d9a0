"""The invented dealership's model lines and its 40 vehicle configurations, with the habits the demo builds in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["regular", "rare", "new"]


@dataclass(frozen=True, slots=True)
class ModelLine:
    """A model line and what drives its demand and its past orders."""

    name: str
    segment: str
    volume_share: float  # of the dealer's weekly units
    drift: float  # the line's own yearly trend beside the market's (0.12 = +12 % a year)
    summer_tilt: float  # extra seasonal swing peaking in June/July (convertibles)
    gut_bias: float  # how far the manager's past orders sat from the line's usual demand (1.3 = 30 % too many)
    allocation_factor: float  # the maker's weekly allocation as a multiple of expected demand
    segment_share: float  # the segment's share of new registrations in the dealer's region
    wmi: str  # first three VIN characters


@dataclass(frozen=True, slots=True)
class Config:
    """One orderable vehicle configuration (the planner's item)."""

    sku: str
    line: str
    trim: str
    options: str
    unit_price: int
    popularity: float  # relative weight inside its line
    lead_time_weeks: int
    lot_spaces: float
    pack_multiple: int = 1
    kind: Kind = "regular"


LINES: tuple[ModelLine, ...] = (
    ModelLine("Explorer", "Midsize SUV", 0.20, 0.00, 0.00, 1.50, 1.6, 0.110, "1FM"),
    ModelLine("Bronco", "Off-road SUV", 0.12, 0.04, 0.00, 1.00, 1.05, 0.030, "1FM"),
    ModelLine("F-150", "Full-size pickup", 0.27, 0.00, 0.00, 1.10, 1.6, 0.130, "1FT"),
    ModelLine("Escape", "Compact SUV", 0.20, -0.03, 0.00, 1.00, 1.6, 0.160, "1FM"),
    ModelLine("Mustang", "Sports car", 0.08, -0.06, 0.30, 1.40, 1.6, 0.020, "1FA"),
    ModelLine("Maverick", "Compact pickup", 0.13, 0.15, 0.00, 0.60, 1.6, 0.035, "3FT"),
)


def _c(
    sku: str, line: str, trim: str, options: str, price: int, weight: float, lead: int, spaces: float, **rest: Any
) -> Config:
    return Config(sku, line, trim, options, price, weight, lead, spaces, **rest)


CONFIGS: tuple[Config, ...] = (
    _c("EXP-XLT-RWD", "Explorer", "XLT RWD", "Co-Pilot360; 18in wheels", 41_900, 1.0, 6, 1.2),
    _c("EXP-XLT-4WD", "Explorer", "XLT 4WD", "Co-Pilot360; tow package", 44_900, 2.2, 6, 1.2),
    _c("EXP-ACT-4WD", "Explorer", "Active 4WD", "panoramic roof", 47_500, 1.3, 6, 1.2),
    _c("EXP-TMB-4WD", "Explorer", "Timberline 4WD", "all-terrain tyres; skid plates", 51_200, 0.8, 6, 1.2),
    _c("EXP-ST-4WD", "Explorer", "ST 4WD", "3.0L EcoBoost; sport seats", 55_800, 0.7, 6, 1.2),
    _c("EXP-PLT-4WD", "Explorer", "Platinum 4WD", "leather; B&O sound", 58_900, 0.6, 6, 1.2),
    _c("EXP-KR-4WD", "Explorer", "King Ranch 4WD", "King Ranch leather", 62_400, 0.0, 6, 1.2, kind="rare"),
    _c("BRO-BB-2DR", "Bronco", "Big Bend 2-Door", "soft top", 41_200, 0.8, 10, 1.1),
    _c("BRO-BB-4DR", "Bronco", "Big Bend 4-Door", "hard top", 44_600, 1.4, 10, 1.1),
    _c("BRO-OBX-4DR", "Bronco", "Outer Banks 4-Door", "hard top; 18in wheels", 49_300, 1.2, 10, 1.1),
    _c("BRO-BAD-4DR", "Bronco", "Badlands 4-Door", "Sasquatch package", 55_900, 1.0, 10, 1.1),
    _c("BRO-WLD-4DR", "Bronco", "Wildtrak 4-Door", "2.7L EcoBoost; 35in tyres", 60_100, 0.6, 10, 1.1),
    _c("BRO-RAP-4DR", "Bronco", "Raptor 4-Door", "Fox live valve shocks", 82_300, 0.0, 10, 1.1, kind="rare"),
    _c("F15-XL-RC", "F-150", "XL Regular Cab", "fleet pack; vinyl floor", 38_800, 1.0, 8, 1.5, pack_multiple=2),
    _c("F15-XLT-SC", "F-150", "XLT SuperCab", "chrome package", 46_500, 1.1, 8, 1.5),
    _c("F15-XLT-CC", "F-150", "XLT SuperCrew 4x4", "302A package; tow package", 52_900, 2.4, 8, 1.5),
    _c("F15-LAR-CC", "F-150", "Lariat SuperCrew 4x4", "502A package", 63_400, 1.5, 8, 1.5),
    _c("F15-TRM-CC", "F-150", "Tremor SuperCrew 4x4", "off-road package", 66_700, 0.7, 8, 1.5),
    _c("F15-KR-CC", "F-150", "King Ranch SuperCrew 4x4", "King Ranch leather; max tow", 72_200, 0.6, 8, 1.5),
    _c("F15-PLT-CC", "F-150", "Platinum SuperCrew 4x4", "Platinum plus package", 75_100, 0.5, 8, 1.5),
    _c("F15-LTD-CC", "F-150", "Limited SuperCrew 4x4", "PowerBoost hybrid", 86_900, 0.0, 8, 1.5, kind="rare"),
    _c("F15-RAP-CC", "F-150", "Raptor SuperCrew", "37in tyre package", 81_500, 0.0, 8, 1.5, kind="rare"),
    _c("ESC-ACT-FWD", "Escape", "Active FWD", "Co-Pilot360", 30_500, 1.4, 5, 1.0),
    _c("ESC-ACT-AWD", "Escape", "Active AWD", "Co-Pilot360; cold weather", 32_000, 1.2, 5, 1.0),
    _c("ESC-STL-FWD", "Escape", "ST-Line FWD", "sport appearance", 32_900, 1.1, 5, 1.0),
    _c("ESC-STL-AWD", "Escape", "ST-Line AWD", "sport appearance; cold weather", 34_400, 1.3, 5, 1.0),
    _c("ESC-STS-AWD", "Escape", "ST-Line Select AWD", "2.0L EcoBoost", 37_800, 0.8, 5, 1.0),
    _c("ESC-PLT-AWD", "Escape", "Platinum AWD", "leather; panoramic roof", 40_900, 0.6, 5, 1.0),
    _c("ESC-PHV-FWD", "Escape", "Plug-in Hybrid FWD", "Level 2 charger", 41_600, 0.5, 5, 1.0),
    _c("MUS-ECO-FB", "Mustang", "EcoBoost Fastback", "performance pack", 33_500, 1.2, 8, 1.0),
    _c("MUS-ECP-CV", "Mustang", "EcoBoost Premium Convertible", "soft top", 45_000, 0.8, 8, 1.0),
    _c("MUS-GT-FB", "Mustang", "GT Fastback", "5.0L V8; manual", 46_900, 1.3, 8, 1.0),
    _c("MUS-GTP-CV", "Mustang", "GT Premium Convertible", "5.0L V8; B&O sound", 59_700, 0.7, 8, 1.0),
    _c("MUS-DKH-FB", "Mustang", "Dark Horse Fastback", "handling package", 63_800, 0.0, 8, 1.0, kind="rare"),
    _c("MAV-XL-HEV", "Maverick", "XL Hybrid FWD", "hybrid", 26_300, 1.2, 6, 1.2),
    _c("MAV-XLT-HEV", "Maverick", "XLT Hybrid FWD", "hybrid; Co-Pilot360", 29_400, 1.6, 6, 1.2),
    _c("MAV-XLT-AWD", "Maverick", "XLT AWD", "2.0L EcoBoost; tow package", 31_000, 1.0, 6, 1.2),
    _c("MAV-LAR-AWD", "Maverick", "Lariat AWD", "leather; Lux package", 37_800, 0.7, 6, 1.2),
    _c("MAV-TRM-AWD", "Maverick", "Tremor AWD", "off-road package", 37_900, 0.6, 6, 1.2),
    _c("MAV-LOBO-FWD", "Maverick", "Lobo FWD", "street package; lowered", 36_700, 1.2, 6, 1.2, kind="new"),
)

RARE_RATE = 0.35  # mean weekly units of a rare trim; its weekly sales are capped at 2
NEW_ITEM_WEEKS = 6  # weeks of history the new configuration has
DEALER_MARGIN = 0.07  # invoice cost sits this far under the list price


def line(name: str) -> ModelLine:
    """The model line called ``name``."""
    return next(candidate for candidate in LINES if candidate.name == name)
