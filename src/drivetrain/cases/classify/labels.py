"""The vocabularies a classification is spoken in."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What the feedback is about: a vehicle system, or a step of the dealer journey."""

    ENGINE = "engine"
    TRANSMISSION = "transmission"
    STEERING = "steering"
    BRAKES = "brakes"
    TYRES_WHEELS = "tyres_wheels"
    SUSPENSION = "suspension"
    BODY_ELECTRICAL = "body_electrical"
    BATTERY_CHARGING = "battery_charging"
    INFOTAINMENT_SOFTWARE = "infotainment_software"
    ADAS = "adas"
    SALES_PROCESS = "sales_process"
    DELIVERY = "delivery"
    AFTERSALES_SERVICE = "aftersales_service"
    PRICING_FEES = "pricing_fees"
    STAFF_ATTITUDE = "staff_attitude"
    OTHER = "other"


class Severity(StrEnum):
    """How fast someone must act: critical means people may be in danger right now."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Aspect(StrEnum):
    """The BDCI 2018 aspect labels, kept in Chinese because the data and the console use them."""

    POWER = "动力"
    PRICE = "价格"
    FUEL_CONSUMPTION = "油耗"
    HANDLING = "操控"
    COMFORT = "舒适性"
    EQUIPMENT = "配置"
    SAFETY = "安全性"
    INTERIOR = "内饰"
    EXTERIOR = "外观"
    SPACE = "空间"
