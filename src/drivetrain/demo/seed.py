"""A realistic, deterministic demo world on the real Changan Ford dealer network.

Seeding a million customers one ORM object at a time would take an hour; the
customers, their cars and their timelines are written as bulk inserts in batches.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from faker.providers.person.zh_CN import Provider as ChineseNames
from sqlalchemy import case as sql_case
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import SYSTEM, AuthSubject
from drivetrain.cases import service as case_service
from drivetrain.cases.approvals import service as approvals
from drivetrain.cases.approvals.schemas import ApprovalCreate, ApprovalDecision
from drivetrain.cases.csat import service as csat
from drivetrain.cases.models import ApprovalKind, Case, Channel
from drivetrain.cases.schemas import CaseCreate, CaseStatusChange
from drivetrain.cases.tasks import sweep_escalations
from drivetrain.customers.models import (
    Consent,
    ContactKind,
    ContactPoint,
    Customer,
    Ownership,
    TimelineEvent,
    Vehicle,
)
from drivetrain.customers.segments.tasks import recompute as recompute_segments
from drivetrain.db import Database, unit_of_work
from drivetrain.demo.sources import seed_source_records
from drivetrain.jobs.models import OutboxMessage
from drivetrain.jobs.worker import Worker
from drivetrain.kit import clock
from drivetrain.kit.errors import InvalidInput
from drivetrain.kit.ids import new_id
from drivetrain.kit.vin import make_vin
from drivetrain.leads import service as leads
from drivetrain.leads.capture import capture as capture_lead
from drivetrain.leads.models import ChannelSpend
from drivetrain.leads.schemas import LeadCreate, StageChange
from drivetrain.org.catalog import BRAND_WMI, ensure_catalog
from drivetrain.org.importer import import_dealers
from drivetrain.org.models import Dealer, DealerGroup, Region, Series
from drivetrain.unify.config import ResolveConfig
from drivetrain.unify.models import ResolutionRun
from drivetrain.unify.service import run_resolution

DEALER_FILE = Path(__file__).parent.parent / "org" / "data" / "dealers_changan_ford_2018.json"
DEMO_PASSWORD = "drivetrain-demo"
BATCH = 5_000
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "199",
]
PROVINCE_ABBREVIATION = {
    "北京": "京",
    "天津": "津",
    "上海": "沪",
    "重庆": "渝",
    "河北": "冀",
    "河南": "豫",
    "云南": "云",
    "辽宁": "辽",
    "黑龙江": "黑",
    "湖南": "湘",
    "安徽": "皖",
    "山东": "鲁",
    "新疆": "新",
    "江苏": "苏",
    "浙江": "浙",
    "江西": "赣",
    "湖北": "鄂",
    "广西": "桂",
    "甘肃": "甘",
    "山西": "晋",
    "内蒙古": "蒙",
    "陕西": "陕",
    "吉林": "吉",
    "福建": "闽",
    "贵州": "贵",
    "广东": "粤",
    "青海": "青",
    "西藏": "藏",
    "四川": "川",
    "宁夏": "宁",
    "海南": "琼",
}
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_CHARS = "0123456789" * 3 + "ABCDEFGHJKLMNPQRSTUVWXYZ"
STREETS = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "黄河路",
    "文化路",
    "滨江路",
    "东风路",
    "学府路",
    "科技路",
    "体育路",
    "湖滨路",
    "朝阳路",
    "南京路",
    "光明路",
    "幸福路",
    "青年路",
]
GROUP_WORDS = ["恒通", "远航", "联众", "华顺", "瑞丰", "鑫源", "安达", "宏运", "嘉禾", "腾达", "信诚", "盛世"]
REGION_USERNAMES = {
    "东区": "east",
    "西区": "west",
    "南区": "south",
    "北区": "north",
    "华中区": "central",
    "东北区": "northeast",
}
VIN_YEAR_CODES = {
    2018: "J",
    2019: "K",
    2020: "L",
    2021: "M",
    2022: "N",
    2023: "P",
    2024: "R",
    2025: "S",
    2026: "T",
}


@dataclass
class DemoLogins:
    lines: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, username: str, role: str, note: str) -> None:
        self.lines.append((username, role, note))


@dataclass(frozen=True)
class StoreStaff:
    dealer: Dealer
    consultants: list[str]


def _short_province(name: str | None) -> str:
    name = name or ""
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        name = name.removesuffix(suffix)
    return name


def load_network(session: Session) -> list[Dealer]:
    records = json.loads(DEALER_FILE.read_text(encoding="utf-8"))
    import_dealers(session, SYSTEM, records)
    return list(session.scalars(select(Dealer).order_by(Dealer.code)))


def form_groups(session: Session, dealers: list[Dealer], rng: random.Random) -> list[DealerGroup]:
    """Dealer groups own several stores in one province, as 经销商集团 do."""
    by_province: dict[str, list[Dealer]] = {}
    for dealer in dealers:
        by_province.setdefault(_short_province(dealer.province), []).append(dealer)
    groups = []
    provinces = sorted(p for p, members in by_province.items() if len(members) >= 8)
    for index, province in enumerate(provinces[: len(GROUP_WORDS)]):
        group = DealerGroup(name=f"{province}{GROUP_WORDS[index]}汽车集团")
        session.add(group)
        session.flush()
        for dealer in rng.sample(by_province[province], k=min(6, len(by_province[province]) // 2)):
            dealer.group_id = group.id
        groups.append(group)
    session.flush()
    return groups


class StaffFactory:
    """Creates demo accounts sharing one password hash (hashing thousands with argon2 takes minutes)."""

    def __init__(self, session: Session, rng: random.Random) -> None:
        self.session = session
        self.rng = rng
        self.password_hash = auth_service.hash_password(DEMO_PASSWORD)

    def person(self) -> str:
        return self.rng.choice(list(ChineseNames.last_names)) + "".join(
            self.rng.choices(ChineseNames.first_names, k=self.rng.choice((1, 2)))
        )

    def add(
        self, username: str, role: Role, *, title: str, manager: User | None = None, **anchors: str | None
    ) -> User:
        user = User(
            username=username,
            display_name=self.person(),
            password_hash=self.password_hash,
            role=role.value,
            title=title,
            manager_id=manager.id if manager else None,
            wecom_userid=username,
            **{"dealer_id": None, "region_id": None, "group_id": None} | anchors,
        )
        self.session.add(user)
        return user


def seed_staff(
    session: Session, dealers: list[Dealer], groups: list[DealerGroup], rng: random.Random
) -> list[StoreStaff]:
    staff = StaffFactory(session, rng)
    staff.add("admin", Role.HQ_ADMIN, title="系统管理员")
    ceo = staff.add("ceo", Role.EXECUTIVE, title="总裁")
    session.flush()
    ops_head = staff.add("ops_head", Role.HQ_OPS, title="客户运营总监", manager=ceo)
    session.flush()
    for n in (1, 2, 3):
        staff.add(f"ops{n}", Role.HQ_OPS, title="客户运营专员", manager=ops_head)
    for n in (1, 2):
        staff.add(f"quality{n}", Role.QUALITY_ENGINEER, title="质量工程师", manager=ceo)
    regional: dict[str, User] = {}
    for region in session.scalars(select(Region).order_by(Region.name)):
        slug = REGION_USERNAMES.get(region.name, region.id.lower())
        regional[region.id] = staff.add(
            f"region_{slug}",
            Role.REGIONAL_MANAGER,
            title=f"{region.name}经理",
            manager=ops_head,
            region_id=region.id,
        )
    for index, group in enumerate(groups, start=1):
        staff.add(f"group{index}", Role.GROUP_ADMIN, title=f"{group.name}客服总监", group_id=group.id)
    session.flush()
    stores = []
    for dealer in dealers:
        anchors = {"dealer_id": dealer.id, "region_id": dealer.region_id, "group_id": dealer.group_id}
        code = dealer.code.lower()
        manager = staff.add(
            f"sm_{code}", Role.STORE_MANAGER, title="店总", manager=regional[dealer.region_id], **anchors
        )
        session.flush()
        consultants = [
            staff.add(f"sc_{code}_{n}", Role.SALES_CONSULTANT, title="销售顾问", manager=manager, **anchors)
            for n in range(1, rng.randint(3, 5) + 1)
        ]
        for n in (1, 2):
            staff.add(f"sa_{code}_{n}", Role.SERVICE_ADVISOR, title="服务顾问", manager=manager, **anchors)
        session.flush()
        stores.append(StoreStaff(dealer, [c.id for c in consultants]))
    return stores


SHOWCASE_SHARE = 0.15
"""The share of demo leads and cases that go to the showcase store, so its logins open onto work."""


SHOWCASE_CUSTOMERS = 0.02
"""The showcase store's share of the demo customers (a big city store: several times the average)."""


def showcase_dealer(session: Session) -> Dealer | None:
    """The store the demo logins are around: the first Hangzhou store (the first store without one)."""
    showcase = session.scalar(select(Dealer).where(Dealer.city == "杭州市").order_by(Dealer.code).limit(1))
    return showcase or session.scalar(select(Dealer).order_by(Dealer.code).limit(1))


def _showcase_store(stores: Sequence[StoreStaff]) -> StoreStaff | None:
    """``showcase_dealer`` among the stores being seeded."""
    in_hangzhou = [s for s in stores if s.dealer.city == "杭州市"] or list(stores)
    return min(in_hangzhou, key=lambda s: s.dealer.code) if in_hangzhou else None


def demo_logins(session: Session) -> DemoLogins:
    """The accounts worth trying, around one Hangzhou store (works on an already seeded database too)."""
    logins = DemoLogins()
    showcase = showcase_dealer(session)
    logins.add("admin", "hq_admin", "system administrator")
    logins.add("ceo", "executive", "top of every escalation ladder")
    logins.add("ops_head", "hq_ops", "customer-operations head, sees everything")
    logins.add("quality1", "quality_engineer", "R&D quality")
    if showcase is None:
        return logins
    for role in (Role.REGIONAL_MANAGER, Role.GROUP_ADMIN):
        anchor = (
            User.region_id == showcase.region_id
            if role is Role.REGIONAL_MANAGER
            else User.group_id == showcase.group_id
        )
        username = session.scalar(select(User.username).where(anchor, User.role == role).limit(1))
        if username:
            logins.add(username, role.value, f"above {showcase.code}")
    code = showcase.code.lower()
    logins.add(f"sm_{code}", "store_manager", f"{showcase.name} ({showcase.code})")
    logins.add(f"sc_{code}_1", "sales_consultant", "sees only their own customers")
    logins.add(f"sa_{code}_1", "service_advisor", "sees the whole store")
    return logins


class CustomerGenerator:
    """Rows for customers, contact points, cars, ownerships, consents and timeline events, as plain dicts."""

    def __init__(
        self, rng: random.Random, stores: list[StoreStaff], series: list[Series], *, now: datetime
    ) -> None:
        self.rng = rng
        self.stores = stores
        self.series = series
        self.now = now
        self.surnames = list(ChineseNames.last_names)
        self.surname_weights = list(ChineseNames.last_names.values())
        self.used_phones: set[str] = set()
        self.vin_serial = 0
        self.showcase = _showcase_store(stores)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return "+86" + number

    def name(self) -> tuple[str, str]:
        gender = self.rng.choice("mf")
        given = "".join(self.rng.choices(ChineseNames.first_names, k=self.rng.choice((1, 2, 2))))
        return self.rng.choices(self.surnames, weights=self.surname_weights)[0] + given, gender

    def plate(self, dealer: Dealer, powertrain: str) -> str:
        prefix = PROVINCE_ABBREVIATION.get(_short_province(dealer.province), "京") + self.rng.choice(
            PLATE_LETTERS[:8]
        )
        if powertrain == "bev":
            return (
                prefix
                + self.rng.choice("DF")
                + self.rng.choice(PLATE_CHARS)
                + f"{self.rng.randrange(10**4):04d}"
            )
        return prefix + "".join(self.rng.choices(PLATE_CHARS, k=5))

    def vin(self, year: int) -> str:
        self.vin_serial += 1
        vds = "".join(self.rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=5))
        return make_vin(BRAND_WMI, vds, VIN_YEAR_CODES[year], "C", f"{self.vin_serial:06d}")

    def rows(self, count: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
        """Batches of rows per table, ready for bulk insert."""
        for start in range(0, count, BATCH):
            batch: dict[str, list[dict[str, Any]]] = {
                t: [] for t in ("customer", "contact", "vehicle", "ownership", "consent", "timeline")
            }
            for _ in range(min(BATCH, count - start)):
                self._one(batch)
            yield batch

    def _one(self, batch: dict[str, list[dict[str, Any]]]) -> None:
        rng = self.rng
        store = (
            self.showcase if self.showcase and rng.random() < SHOWCASE_CUSTOMERS else rng.choice(self.stores)
        )
        dealer = store.dealer
        created = self.now - timedelta(days=rng.uniform(1, 3 * 365))
        customer_id = new_id(int(created.timestamp() * 1000))
        name, gender = self.name()
        phone = self.phone()
        street = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
        batch["customer"].append(
            {
                "id": customer_id,
                "name": name,
                "gender": gender,
                "primary_phone": phone,
                "address": f"{dealer.province or ''}{dealer.city or ''}{dealer.district or ''}{street}",
                "province": dealer.province,
                "city": dealer.city,
                "district": dealer.district,
                "adcode": dealer.adcode,
                "dealer_id": dealer.id,
                "consultant_id": rng.choice(store.consultants),
                "source": "demo",
                "created_at": created,
                "updated_at": created,
            }
        )
        batch["contact"].append(
            {
                "id": new_id(),
                "customer_id": customer_id,
                "kind": ContactKind.MOBILE,
                "value": phone,
                "is_primary": True,
                "created_at": created,
            }
        )
        batch["timeline"].append(
            {
                "id": new_id(int(created.timestamp() * 1000)),
                "customer_id": customer_id,
                "at": created,
                "kind": "customer.created",
                "summary": "客户建档",
                "detail": {"source": "demo"},
                "dealer_id": dealer.id,
            }
        )
        batch["consent"].append(
            {
                "id": new_id(),
                "customer_id": customer_id,
                "purpose": "service",
                "channel": "any",
                "status": "granted",
                "at": created,
                "source": "purchase_contract",
            }
        )
        if rng.random() < 0.6:
            batch["consent"].append(
                {
                    "id": new_id(),
                    "customer_id": customer_id,
                    "purpose": "marketing",
                    "channel": rng.choice(["sms", "wecom", "any"]),
                    "status": rng.choice(["granted", "granted", "withdrawn"]),
                    "at": created,
                    "source": rng.choice(["showroom_form", "mini_program", "hotline"]),
                }
            )
        if rng.random() < 0.8:
            self._car(batch, customer_id, dealer, created)

    def _car(
        self, batch: dict[str, list[dict[str, Any]]], customer_id: str, dealer: Dealer, created: datetime
    ) -> None:
        rng = self.rng
        series = rng.choice(self.series)
        bought = (created + timedelta(days=rng.uniform(0, 30))).date()
        bought = min(bought, self.now.date())
        year = max(2018, min(bought.year + rng.choice((0, 0, 1)), 2026))
        vehicle_id = new_id(int(created.timestamp() * 1000) + 1)
        vin, plate = self.vin(year), self.plate(dealer, series.powertrain)
        batch["vehicle"].append(
            {
                "id": vehicle_id,
                "vin": vin,
                "plate": plate,
                "brand_id": series.brand_id,
                "series_id": series.id,
                "model_year": year,
                "purchase_date": bought,
                "selling_dealer_id": dealer.id,
                "servicing_dealer_id": dealer.id,
                "mileage_km": int((self.now.date() - bought).days * rng.uniform(20, 60)),
                "owner_id": customer_id,
                "created_at": created,
                "updated_at": created,
            }
        )
        batch["ownership"].append(
            {
                "id": new_id(),
                "vehicle_id": vehicle_id,
                "customer_id": customer_id,
                "started_on": bought,
                "ended_on": None,
            }
        )
        # The purchase itself is the DMS's to tell (``seed_sources``): a sale written here as well put
        # every car on its owner's timeline twice. Drivetrain records what it does itself: the car put
        # on the customer, as ``register_vehicle`` writes it.
        at = datetime.combine(bought, datetime.min.time(), tzinfo=UTC) + timedelta(hours=rng.randint(1, 10))
        batch["timeline"].append(
            {
                "id": new_id(int(at.timestamp() * 1000)),
                "customer_id": customer_id,
                "at": at,
                "kind": "vehicle.registered",
                "summary": f"登记车辆 {vin}",
                "detail": {"vehicle_id": vehicle_id, "plate": plate},
                "dealer_id": dealer.id,
            }
        )


TABLES = {
    "customer": Customer,
    "contact": ContactPoint,
    "vehicle": Vehicle,
    "ownership": Ownership,
    "consent": Consent,
    "timeline": TimelineEvent,
}


def seed_customers(
    db: Database,
    stores: list[StoreStaff],
    *,
    count: int,
    rng: random.Random,
    now: datetime,
    progress: Callable[[int], None] = lambda _: None,
) -> None:
    with db.session(write=True) as session:
        series = list(session.scalars(select(Series).order_by(Series.name)))
    generator = CustomerGenerator(rng, stores, series, now=now)
    for batch in generator.rows(count):
        with unit_of_work(db) as session:
            for key, rows in batch.items():
                if rows:
                    session.execute(insert(TABLES[key]), rows)
        progress(len(batch["customer"]))


def already_seeded(db: Database) -> bool:
    with db.session(write=False) as session:
        return session.scalar(select(User.id).where(User.username == "ceo")) is not None


def seed_world(db: Database, *, rng: random.Random) -> list[StoreStaff]:
    """Network, groups and staff. Customers come after, in batches."""
    with unit_of_work(db) as session:
        ensure_catalog(session)
        dealers = load_network(session)
        groups = form_groups(session, dealers, rng)
        return seed_staff(session, dealers, groups, rng)


CAMPAIGNS = {
    "ad": ["抖音信息流", "懂车帝询价", "百度搜索"],
    "website": ["官网预约试驾"],
    "wecom": ["企微社群"],
    "mini_program": ["小程序预约"],
    "hotline": ["400热线"],
    "live_stream": ["总裁直播间"],
    "exec_social": ["总裁微博"],
    "event": ["车展"],
    "referral": ["老带新"],
}
DEMO_LEAD_STAGES = (
    ["new"] * 5
    + ["contacted"] * 3
    + ["test_drive_scheduled", "test_drive_done", "negotiating", "ordered", "won", "lost"]
)
STAGE_PATH = ["contacted", "test_drive_scheduled", "test_drive_done", "negotiating", "ordered", "won"]


def seed_leads(db: Database, *, count: int, rng: random.Random, now: datetime) -> None:
    """Leads through the real capture flow (routing, SLA, notifications), some moved along the pipeline."""
    with db.session(write=False) as session:
        dealers = [(d.province, d.city, d.district) for d in session.scalars(select(Dealer)) if d.district]
        series = list(session.scalars(select(Series.name)))
        owners = list(session.scalars(select(Customer.primary_phone).limit(max(count // 5, 1))))
        showcase = showcase_dealer(session)
        # The showcase store's own customers come back: their leads return to it (relationship routing).
        regulars = [] if showcase is None else _phones_of_store(session, showcase, max(count // 5, 1))
    with unit_of_work(db) as session:
        operator = session.scalar(select(User).where(User.username == "ops_head"))
        assert operator is not None, "seed_world first"
        hq = auth_service.subject_for(operator, via="cli")
        generator = CustomerGenerator(rng, [], [], now=now)
        for n in range(count):
            channel = rng.choice(list(CAMPAIGNS))
            province, city, district = rng.choice(dealers)
            phone: str | None = generator.phone()
            if regulars and rng.random() < SHOWCASE_SHARE:
                phone = regulars.pop(rng.randrange(len(regulars)))  # each comes back once
            elif owners and rng.random() < 0.15:
                phone = rng.choice(owners)
            data = LeadCreate(
                name=generator.name()[0],
                phone=phone or generator.phone(),
                series=rng.choice(series),
                address=f"{province}{city}{district}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
                channel=channel,
                campaign=rng.choice(CAMPAIGNS[channel]),
                source_ref=f"demo-{n}",
            )
            captured = capture_lead(session, hq, data=data)
            if captured.deduplicated:
                continue
            lead = captured.lead
            target = rng.choice(DEMO_LEAD_STAGES)
            path = (
                []
                if target == "new"
                else (["lost"] if target == "lost" else STAGE_PATH[: STAGE_PATH.index(target) + 1])
            )
            for stage in path:
                reason = "价格未谈拢" if stage == "lost" else None
                leads.change_stage(session, hq, lead, data=StageChange(stage=stage, lost_reason=reason))
        for day in range(30):
            for channel, campaigns in CAMPAIGNS.items():
                for campaign in campaigns:
                    session.add(
                        ChannelSpend(
                            spend_on=(now - timedelta(days=day)).date(),
                            channel=channel,
                            campaign=campaign,
                            amount=rng.randint(200, 5000),
                        )
                    )


def _phones_of_store(session: Session, dealer: Dealer, limit: int) -> list[str]:
    phones = session.scalars(
        select(Customer.primary_phone)
        .where(Customer.dealer_id == dealer.id, Customer.primary_phone.is_not(None))
        .order_by(Customer.id)
        .limit(limit)
    )
    return [phone for phone in phones if phone]


COMPLAINTS = Path(__file__).parent.parent / "cases" / "classify" / "data" / "complaints_zh.csv"
CASE_CHANNELS = (Channel.HOTLINE, Channel.WECOM, Channel.MINI_PROGRAM, Channel.APP, Channel.WEIBO)


def seed_cases(db: Database, *, count: int, rng: random.Random, now: datetime) -> None:
    """Owner complaints through real intake, opened over the last day so that the escalation sweep
    has moved the older ones up the ladder; a few wait on the customer or are resolved."""
    texts = [row["text"] for row in csv.DictReader(COMPLAINTS.open(encoding="utf-8"))]
    with db.session(write=False) as session:
        owned = (
            select(Vehicle.vin, Customer.primary_phone, Dealer.code)
            .join(Customer, Customer.id == Vehicle.owner_id)
            .join(Dealer, Dealer.id == Vehicle.servicing_dealer_id)
        )
        cars = session.execute(owned.limit(max(count * 4, 1))).all()
        showcase = showcase_dealer(session)
        at_showcase = [] if showcase is None else session.execute(owned.where(Dealer.id == showcase.id)).all()
    if not cars:
        return
    with unit_of_work(db) as session:
        operator = session.scalar(select(User).where(User.username == "ops_head"))
        assert operator is not None, "seed_world first"
        hq = auth_service.subject_for(operator, via="cli")
        try:
            for _ in range(count):
                if at_showcase and rng.random() < SHOWCASE_SHARE:
                    # Young enough that most are still with the store: its advisor, then its manager.
                    clock.freeze(now - timedelta(minutes=rng.randint(5, 3 * 60)))
                    vin, phone, dealer_code = rng.choice(at_showcase)
                else:
                    clock.freeze(now - timedelta(minutes=rng.randint(5, 26 * 60)))
                    vin, phone, dealer_code = rng.choice(cars)
                data = CaseCreate(
                    description=rng.choice(texts),
                    vin=vin,
                    phone=phone,
                    dealer_code=dealer_code,
                    channel=rng.choice(CASE_CHANNELS),
                )
                case = case_service.open_case(session, hq, data=data)
                _settle_demo_case(session, hq, case, rng)
        finally:
            clock.unfreeze()
    clock.freeze(now)
    try:
        Worker(db=db, sweepers=[sweep_escalations]).run_until_idle()
    finally:
        clock.unfreeze()


APPROVAL_ASKS = (
    (ApprovalKind.GOODWILL, (200, 3_000), "车主多次返修，申请善意补偿保养券"),
    (ApprovalKind.REFUND, (100, 2_000), "多收工时费，申请退还差额"),
    (ApprovalKind.EXTENDED_WARRANTY, (2_000, 6_000), "同一故障第三次进店，申请赠送一年延保"),
    (ApprovalKind.RETURN, (90_000, 200_000), "新车七日内变速箱故障，车主要求退车"),
)
SURVEY_COMMENTS = (None, "处理及时，态度很好", "问题解决了，但等得有点久", "希望以后少出这种问题")
SURVEY_TOKEN = re.compile(r"/survey/([A-Za-z0-9_-]+)")


def seed_case_follow_up(db: Database, *, rng: random.Random, now: datetime) -> None:
    """What happens after intake: advisors ask for approvals on some open cases (a few already granted by
    whoever held them), and owners answer most of the satisfaction surveys their resolved cases sent."""
    clock.freeze(now)
    try:
        with unit_of_work(db) as session:
            _seed_demo_approvals(session, rng)
            _answer_demo_surveys(session, rng)
    finally:
        clock.unfreeze()


def _seed_demo_approvals(session: Session, rng: random.Random) -> None:
    showcase = showcase_dealer(session)
    showcase_first = sql_case((Case.dealer_id == (showcase.id if showcase else None), 0), else_=1)
    open_cases = session.scalars(
        select(Case)
        .where(Case.status == "open", Case.owner_id.is_not(None))
        .order_by(showcase_first, Case.id)
        .limit(60)
    ).all()
    asked = 0
    for case in open_cases:
        if rng.random() > 0.4:
            continue
        requester = session.get(User, case.owner_id)
        assert requester is not None
        kind, (low, high), reason = rng.choice(APPROVAL_ASKS)
        ask = ApprovalCreate(kind=kind, amount=Decimal(rng.randint(low, high)), reason=reason)
        try:
            approval = approvals.request_approval(
                session, auth_service.subject_for(requester, via="cli"), case, data=ask
            )
        except InvalidInput:  # nobody on this case's ladder may approve that much
            continue
        asked += 1
        approver = session.get(User, approval.approver_id) if asked % 2 else None  # every other is decided
        if approver is not None:
            decision = ApprovalDecision(decision="approve", comment="同意，按流程执行")
            approvals.decide(session, auth_service.subject_for(approver, via="cli"), approval, data=decision)


def _answer_demo_surveys(session: Session, rng: random.Random) -> None:
    """Owners answer within two days of the message, before the link expires (cases resolved weeks
    ago sent theirs then); the clock goes back to where it was afterwards."""
    sent = session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic.in_(("sms.send", "wecom.customer_message")))
    ).all()
    now = clock.now()
    try:
        for message in sent:
            found = SURVEY_TOKEN.search(json.dumps(message.payload))
            if found is None or rng.random() > 0.7:
                continue
            score = rng.choices((5, 4, 3, 2, 1), weights=(45, 30, 12, 8, 5))[0]
            comment = rng.choice(SURVEY_COMMENTS)
            clock.freeze(min(now, message.created_at + timedelta(hours=rng.randint(1, 48))))
            csat.answer(session, token=found.group(1), score=score, comment=comment)
    finally:
        clock.freeze(now)


def _settle_demo_case(session: Session, hq: AuthSubject, case: Case, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.15:
        change = CaseStatusChange(status="waiting_customer")
    elif roll < 0.35:
        change = CaseStatusChange(status="resolved", note="已检修并回访车主，车主认可处理结果")
    else:
        return
    case_service.change_status(session, hq, case, data=change)


SOURCE_PEOPLE_MAX = 20_000
"""The source systems know this many demo customers at most: every one in the default demo (so each car
has its sale on the timeline), and a resolution run of minutes, not hours, in a million-customer one."""


def seed_sources(db: Database, *, rng: random.Random, now: datetime, people: int = 1000) -> ResolutionRun:
    """What the dealer DMS, the insurer, the finance company, the used-car platform and WeCom know
    about the first ``people`` demo customers, imported as their exports, then identity resolution:
    records link to their customers (some to new ones, some pairs wait in the review queue) and
    their purchases, services, policies and chats land on the timelines; then tags and tiers."""
    with unit_of_work(db) as session:
        seed_source_records(session, rng=rng, now=now, customers=people)
        _seed_duplicate_registrations(session, rng)
    with unit_of_work(db) as session:
        run = run_resolution(session, SYSTEM, ResolveConfig())
    with unit_of_work(db) as session:
        recompute_segments(session, now=now, full=True)
    return run


DUPLICATE_REGISTRATIONS = 12


def _seed_duplicate_registrations(session: Session, rng: random.Random) -> None:
    """The same owner registered again at a second store (by its DMS, under the same name and phone):
    the duplicate every dealer network has, which resolution finds and queues for a person to merge."""
    owners = list(
        session.scalars(
            select(Customer)
            .where(Customer.primary_phone.is_not(None), Customer.dealer_id.is_not(None))
            .order_by(Customer.id.desc())
            .limit(DUPLICATE_REGISTRATIONS)
        )
    )
    dealers = list(session.scalars(select(Dealer.id).order_by(Dealer.code)))
    for owner in owners:
        twin = Customer(
            id=new_id(),
            name=owner.name,
            gender=owner.gender,
            primary_phone=owner.primary_phone,
            province=owner.province,
            city=owner.city,
            dealer_id=rng.choice([d for d in dealers if d != owner.dealer_id]),
            source="dms",
            provenance={},
        )
        session.add(twin)
        session.add(
            ContactPoint(
                customer_id=twin.id, kind=ContactKind.MOBILE, value=owner.primary_phone, is_primary=True
            )
        )
