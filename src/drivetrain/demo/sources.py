"""Demo source systems and what they know about the demo customers, imported like real exports.

A dealer DMS (sales and repair orders, Chinese headers), the insurer (policies, some renewing within the
month), the captive finance company, the used-car platform and WeCom each send records about existing
customers, written the way those systems write people: Traditional characters, 王先生 for a name, phones
with spaces or +86. Identity resolution links them afterwards; ``sources.events`` then puts their events
on the customers' timelines. Deterministic for a given ``rng`` and ``now``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from opencc import OpenCC
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.subject import SYSTEM
from drivetrain.customers.models import Customer, Vehicle
from drivetrain.kit import clock
from drivetrain.org.models import Series
from drivetrain.sources import service
from drivetrain.sources.models import ImportRun, ImportVia, Source, SourceType
from drivetrain.sources.schemas import ProfileWrite, SourceCreate

Row = dict[str, Any]
DMS_PROFILE = {
    "external_id": "单据号",
    "name": "客户姓名",
    "phone": "联系电话",
    "vin": "VIN码",
    "plate": "车牌号",
    "purchase_date": "购车日期",
    "event_type": "业务类型",
    "event_date": "进厂日期",
    "amount": "结算金额",
    "series": "车型",
    "mileage_km": "进厂里程",
    "note": "维修项目",
}
INSURER_PROFILE = {
    "external_id": "保单号",
    "name": "被保险人",
    "phone": "手机号码",
    "vin": "车架号",
    "plate": "号牌号码",
    "event_date": "起保日期",
    "expires_on": "终保日期",
    "amount": "保费合计",
    "series": "厂牌型号",
}
SERVICE_ITEMS = [
    ("保养", "首次保养", (0, 0)),
    ("保养", "常规保养：更换机油机滤", (380, 980)),
    ("保养", "大保养：更换空滤、空调滤、火花塞", (1200, 2600)),
    ("维修", "更换前刹车片", (600, 1500)),
    ("维修", "更换蓄电池", (700, 1300)),
    ("维修", "钣喷：右后门", (900, 3800)),
    ("维修", "四轮定位", (200, 400)),
]
WECOM_NOTES = [
    "咨询保养套餐价格",
    "询问续保优惠",
    "预约周六上午保养",
    "咨询置换新车补贴",
    "反馈车机偶尔卡顿",
    "报名车主自驾活动",
    "询问延保方案",
    "确认取车时间",
]
APPRAISAL_NOTES = ["置换评估", "二手车评估：车况良好", "评估：右前翼子板有钣喷"]
EXPIRING_SHARE = 0.15
"""Of insured customers, this many have a policy running out within 30 days: the renewal campaign's list."""


@dataclass(frozen=True)
class DemoSource:
    name: str
    type: SourceType
    trust_rank: int
    profile: dict[str, str] | None
    date_format: str | None


SOURCES = (
    DemoSource("dms-east", SourceType.DMS, 80, DMS_PROFILE, "%Y/%m/%d"),
    DemoSource("picc", SourceType.INSURANCE, 70, INSURER_PROFILE, "%Y%m%d"),
    DemoSource("ford-finance", SourceType.FINANCE, 75, None, None),
    DemoSource("used-car", SourceType.USED_CAR, 50, None, None),
    DemoSource("wecom", SourceType.WECOM, 60, None, None),
)


@dataclass(frozen=True)
class Person:
    """A demo customer as the sources know them, with their car when they have one."""

    name: str
    gender: str | None
    phone: str
    vin: str | None
    plate: str | None
    series: str | None
    bought: date | None
    mileage_km: int | None


def seed_source_records(
    session: Session, *, rng: random.Random, now: datetime, customers: int = 1000
) -> dict[str, ImportRun]:
    """Register the demo source systems and import their records about the first ``customers`` demo
    customers (a few thousand records for a thousand people), as of ``now``; the import run per source.
    Records stay unlinked: run identity resolution, then ``sources.events.project_source_events``."""
    rows = demo_rows(_people(session, customers), rng=rng, today=now.date())
    clock.freeze(now)  # the normalisers refuse dates after "now"
    try:
        return {spec.name: _import(session, spec, rows[spec.name]) for spec in SOURCES}
    finally:
        clock.unfreeze()


def demo_rows(people: Sequence[Person], *, rng: random.Random, today: date) -> dict[str, list[Row]]:
    """Each demo source's export rows about ``people``, as of ``today``. Pure."""
    writer = _Writer(rng, today)
    rows: dict[str, list[Row]] = {source.name: [] for source in SOURCES}
    for index, person in enumerate(people):
        for source_name, row in writer.rows_about(index, person):
            rows[source_name].append(row)
    return rows


def _people(session: Session, count: int) -> list[Person]:
    stmt = (
        select(
            Customer.name,
            Customer.gender,
            Customer.primary_phone,
            Vehicle.vin,
            Vehicle.plate,
            Series.name,
            Vehicle.purchase_date,
            Vehicle.mileage_km,
        )
        .outerjoin(Vehicle, Vehicle.owner_id == Customer.id)
        .outerjoin(Series, Series.id == Vehicle.series_id)
        .where(Customer.primary_phone.is_not(None), Customer.merged_into_id.is_(None))
        .order_by(Customer.id, Vehicle.id)
        .limit(count)
    )
    rows: list[Any] = list(session.execute(stmt))  # outer joins: the car's columns may all be None
    return [Person(*row) for row in rows]


def _import(session: Session, spec: DemoSource, rows: list[Row]) -> ImportRun:
    source = session.scalar(select(Source).where(Source.name == spec.name))
    if source is None:
        data = SourceCreate(name=spec.name, type=spec.type, trust_rank=spec.trust_rank)
        source = service.register_source(session, SYSTEM, data=data)
    if spec.profile is not None:
        options = {"date_format": spec.date_format} if spec.date_format else {}
        profile = ProfileWrite.model_validate({"mapping": spec.profile, "options": options})
        service.save_profile(session, SYSTEM, source, service.DEFAULT_PROFILE, data=profile)
    resolved = service.resolve_profile(session, source, None)
    origin = service.ImportOrigin(via=ImportVia.FILE, file_name=f"{spec.name}-export.csv")
    numbered = list(enumerate(rows, start=2))  # row 1 is the header
    return service.import_records(session, SYSTEM, source, numbered, profile=resolved, origin=origin).run


def _slash(day: date) -> str:
    return day.strftime("%Y/%m/%d")


@lru_cache(maxsize=1)
def _s2t() -> OpenCC:
    return OpenCC("s2t")


class _Writer:
    """Rows per source about one person, written as each system writes them."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today

    def rows_about(self, index: int, person: Person) -> list[tuple[str, Row]]:
        rng = self.rng
        found: list[tuple[str, Row]] = []
        if person.vin and person.bought:
            found += [("dms-east", row) for row in self._dms(index, person)]
            if rng.random() < 0.85:
                found += [("picc", row) for row in self._policies(index, person)]
            if rng.random() < 0.3:
                found.append(("ford-finance", self._loan(index, person)))
        if rng.random() < 0.1:
            found.append(("used-car", self._appraisal(index, person)))
        if rng.random() < 0.5:
            found += [("wecom", row) for row in self._chats(index, person)]
        return found

    def name(self, person: Person) -> str:
        """As a clerk typed it: mostly as is, sometimes in Traditional characters or as 王先生."""
        roll = self.rng.random()
        if roll < 0.15:
            return str(_s2t().convert(person.name))
        if roll < 0.3 and person.gender in ("m", "f"):
            return person.name[0] + ("先生" if person.gender == "m" else "女士")
        return person.name

    def phone(self, person: Person) -> str:
        digits = person.phone.removeprefix("+86")
        return self.rng.choice(
            (
                digits,
                digits,
                f"{digits[:3]} {digits[3:7]} {digits[7:]}",
                f"+86-{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                f"86{digits}",
            )
        )

    def day(self, after: date, *, at_most_days: int) -> date:
        latest = min(after + timedelta(days=at_most_days), self.today)
        return after + timedelta(days=self.rng.randint(0, max((latest - after).days, 0)))

    def _dms(self, index: int, person: Person) -> list[Row]:
        assert person.bought is not None
        rng = self.rng
        base = {
            "客户姓名": self.name(person),
            "联系电话": self.phone(person),
            "VIN码": person.vin,
            "车牌号": person.plate or "",
            "购车日期": _slash(person.bought),
            "车型": person.series or "",
        }
        rows = [
            base
            | {
                "单据号": f"XS{index:07d}",
                "业务类型": "新车销售",
                "进厂日期": "",
                "结算金额": f"{rng.randrange(120_000, 320_000, 100):,}",
                "进厂里程": "",
                "维修项目": "",
            }
        ]
        visit = person.bought
        mileage = 0
        for number in range(rng.choice((0, 1, 1, 2, 3, 4))):
            visit = self.day(visit + timedelta(days=60), at_most_days=240)
            if visit >= self.today:
                break
            kind, item, (low, high) = SERVICE_ITEMS[0] if number == 0 else rng.choice(SERVICE_ITEMS[1:])
            mileage += rng.randint(3_000, 9_000)
            rows.append(
                base
                | {
                    "单据号": f"WX{index:07d}{number}",
                    "业务类型": kind,
                    "进厂日期": _slash(visit),
                    "结算金额": f"{rng.randint(low, high)}.00" if high else "0",
                    "进厂里程": f"{mileage:,}",
                    "维修项目": item,
                }
            )
        return rows

    def _policies(self, index: int, person: Person) -> list[Row]:
        """One policy a year since the purchase; for some people the latest runs out within 30 days."""
        assert person.bought is not None
        starts = [person.bought + timedelta(days=365 * year) for year in range(12)]
        starts = [start for start in starts if start <= self.today]
        renewal = self.today + timedelta(days=self.rng.randint(1, 30) - 364)
        if self.rng.random() < EXPIRING_SHARE and person.bought <= renewal:
            starts = sorted(renewal - timedelta(days=365 * year) for year in range(len(starts)))
            starts = [start for start in starts if start >= person.bought - timedelta(days=30)]
        return [self._policy(index, person, start) for start in starts]

    def _policy(self, index: int, person: Person, start: date) -> Row:
        return {
            "保单号": f"PDAA{start.year}{index:08d}",
            "被保险人": self.name(person),
            "手机号码": self.phone(person),
            "车架号": person.vin,
            "号牌号码": person.plate or "",
            "起保日期": start.strftime("%Y%m%d"),
            "终保日期": (start + timedelta(days=364)).strftime("%Y%m%d"),
            "保费合计": f"{self.rng.randint(3_200, 9_800)}.{self.rng.randint(0, 99):02d}",
            "厂牌型号": person.series or "",
        }

    def _loan(self, index: int, person: Person) -> Row:
        assert person.bought is not None
        months = self.rng.choice((24, 36, 36, 60))
        return {
            "external_id": f"FC{index:08d}",
            "name": self.name(person),
            "phone": self.phone(person),
            "vin": person.vin,
            "event_date": person.bought.isoformat(),
            "expires_on": (person.bought + timedelta(days=30 * months)).isoformat(),
            "amount": str(self.rng.randrange(50_000, 160_000, 1_000)),
            "series": person.series or "",
            "note": f"{months}期贷款",
        }

    def _appraisal(self, index: int, person: Person) -> Row:
        row: Row = {
            "external_id": f"UC{index:08d}",
            "name": self.name(person),
            "phone": self.phone(person),
            "event_date": self.day(self.today - timedelta(days=180), at_most_days=180).isoformat(),
            "note": self.rng.choice(APPRAISAL_NOTES),
        }
        if person.vin:
            row |= {
                "vin": person.vin,
                "series": person.series or "",
                "mileage_km": str((person.mileage_km or 0) + self.rng.randint(0, 5_000)),
                "amount": f"{self.rng.randint(40, 180) / 10}万",
            }
        return row

    def _chats(self, index: int, person: Person) -> list[Row]:
        contact = f"wmDemo{index:010d}x"
        return [
            {
                "external_id": f"{contact}-{number}",
                "name": self.name(person),
                "phone": self.phone(person) if self.rng.random() < 0.6 else "",
                "wecom_external_id": contact,
                "event_date": self.day(self.today - timedelta(days=365), at_most_days=365).isoformat(),
                "note": self.rng.choice(WECOM_NOTES),
            }
            for number in range(self.rng.randint(1, 5))
        ]
