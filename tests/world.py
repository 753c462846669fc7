"""A small organisation every test can rely on: two regions, a dealer group, three dealers,
staff of every role, and customers with cars at each dealer (plus one held by HQ).

Built through the real services, so audit entries and timelines exist as in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import User
from drivetrain.auth.roles import Role
from drivetrain.auth.subject import SYSTEM, AuthSubject
from drivetrain.customers import service as customers
from drivetrain.customers.models import Customer
from drivetrain.customers.schemas import CustomerCreate, VehicleCreate
from drivetrain.kit.vin import make_vin
from drivetrain.leads import service as lead_service
from drivetrain.leads.capture import capture as capture_lead
from drivetrain.leads.models import Channel, FollowUpTask, Lead
from drivetrain.leads.schemas import LeadCreate
from drivetrain.org import staff
from drivetrain.org.catalog import ensure_catalog
from drivetrain.org.models import DEFAULT_WORKING_HOURS, Dealer, DealerGroup, Oem, Region

PASSWORD = "correct-horse-battery"

DEALERS = {
    # code: (region, in group G1, name, address, lat, lng)
    "A1": ("东区", True, "杭州滨江福特4S店", "浙江省杭州市滨江区江南大道100号", 30.2088, 120.2116),
    "A2": ("东区", True, "宁波鄞州福特4S店", "浙江省宁波市鄞州区天童南路8号", 29.8186, 121.5473),
    "B1": ("西区", False, "成都武侯福特4S店", "四川省成都市武侯区二环路南四段9号", 30.6420, 104.0430),
}

# username: (role, dealer code or None, region or None, group?)
STAFF = {
    "hq_admin": (Role.HQ_ADMIN, None, None, False),
    "hq_ops": (Role.HQ_OPS, None, None, False),
    "quality": (Role.QUALITY_ENGINEER, None, None, False),
    "ceo": (Role.EXECUTIVE, None, None, False),
    "integration": (Role.INTEGRATION, None, None, False),
    "region_east": (Role.REGIONAL_MANAGER, None, "东区", False),
    "group_g1": (Role.GROUP_ADMIN, None, None, True),
    "sm_a1": (Role.STORE_MANAGER, "A1", None, False),
    "sc_a1": (Role.SALES_CONSULTANT, "A1", None, False),
    "sc_a1b": (Role.SALES_CONSULTANT, "A1", None, False),
    "sa_a1": (Role.SERVICE_ADVISOR, "A1", None, False),
    "sm_a2": (Role.STORE_MANAGER, "A2", None, False),
    "sm_b1": (Role.STORE_MANAGER, "B1", None, False),
    "sc_b1": (Role.SALES_CONSULTANT, "B1", None, False),
}

# customer key: (dealer code or None, consultant, name, phone, VIN serial)
CUSTOMERS = {
    "cust_a1": ("A1", "sc_a1", "张伟", "13800000001", 1),
    "cust_a1b": ("A1", "sc_a1b", "李娜", "13800000002", 2),
    "cust_a2": ("A2", "sm_a2", "王芳", "13800000003", 3),
    "cust_b1": ("B1", "sc_b1", "刘洋", "13800000004", 4),
    "cust_hq": (None, None, "陈静", "13800000005", 5),
}

# Which customers each subject may see: the oracle for the access matrix, written by hand.
VISIBLE = {
    "hq_admin": set(CUSTOMERS),
    "hq_ops": set(CUSTOMERS),
    "quality": set(CUSTOMERS),
    "ceo": set(CUSTOMERS),
    "integration": set(CUSTOMERS),
    "region_east": {"cust_a1", "cust_a1b", "cust_a2"},
    "group_g1": {"cust_a1", "cust_a1b", "cust_a2"},
    "sm_a1": {"cust_a1", "cust_a1b"},
    "sa_a1": {"cust_a1", "cust_a1b"},
    "sc_a1": {"cust_a1"},
    "sc_a1b": {"cust_a1b"},
    "sm_a2": {"cust_a2"},
    "sm_b1": {"cust_b1"},
    "sc_b1": {"cust_b1"},
}


def vin_for(serial: int) -> str:
    return make_vin("LVS", "HCAE4", "R", "C", f"{serial:06d}")


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    dealers: dict[str, Dealer] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)
    vehicles: dict[str, str] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)
    leads: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)

    def subject(self, username: str, *, via: str = "api") -> AuthSubject:
        return auth_service.subject_for(self.users[username], via=via)


def _network(session: Session) -> dict[str, Dealer]:
    brand = ensure_catalog(session)
    oem_id = session.scalar(select(Oem.id))
    regions = {name: Region(oem_id=oem_id, name=name) for name in ("东区", "西区")}
    group = DealerGroup(name="浙江测试汽车集团")
    session.add_all([*regions.values(), group])
    session.flush()
    dealers = {}
    for code, (region, grouped, name, address, lat, lng) in DEALERS.items():
        dealers[code] = Dealer(
            code=code,
            name=name,
            region_id=regions[region].id,
            group_id=group.id if grouped else None,
            address=address,
            latitude=lat,
            longitude=lng,
            working_hours=DEFAULT_WORKING_HOURS,
            brands=[brand],
        )
    session.add_all(dealers.values())
    session.flush()
    return dealers


def build_world(session: Session) -> World:
    world = World(dealers=_network(session))
    for username, (role, dealer, region, grouped) in STAFF.items():
        anchor = staff.Anchor(
            dealer_code=dealer, region_name=region, group_name="浙江测试汽车集团" if grouped else None
        )
        world.users[username] = staff.create_staff(
            session, SYSTEM, username=username, password=PASSWORD, role=role, anchor=anchor
        )
        world.users[username].wecom_userid = username
    for key, (dealer, consultant, name, phone, serial) in CUSTOMERS.items():
        customer = customers.create_customer(
            session,
            SYSTEM,
            data=CustomerCreate(
                name=name,
                phone=phone,
                dealer_code=dealer,
                consultant=consultant,
                address="浙江省杭州市滨江区网商路599号",
                tags=["vip"],
            ),
        )
        vehicle = customers.register_vehicle(
            session,
            SYSTEM,
            data=VehicleCreate(
                vin=vin_for(serial),
                customer_id=customer.id,
                series="锐界",
                plate=f"浙A{serial:05d}",
                purchase_date=date(2024, 5, 1),
            ),
        )
        world.customers[key] = customer.id
        world.vehicles[key] = vehicle.id
        world.phones[key] = "+86" + phone
    _leads(session, world)
    session.flush()
    return world


# Who captures each customer's lead: their consultant (so it stays with them), or HQ for the HQ customer.
LEAD_CAPTURED_BY = {
    "cust_a1": "sc_a1",
    "cust_a1b": "sc_a1b",
    "cust_a2": "sm_a2",
    "cust_b1": "sc_b1",
    "cust_hq": "integration",
}


def _leads(session: Session, world: World) -> None:
    """One open lead per customer, held like the customer is; the HQ customer's lead waits in the HQ pool."""
    for key, username in LEAD_CAPTURED_BY.items():
        _dealer, _consultant, name, phone, _serial = CUSTOMERS[key]
        data = LeadCreate(
            name=name, phone=phone, series="锐界", channel=Channel.WALK_IN, source_ref=f"world-{key}"
        )
        lead = capture_lead(session, world.subject(username), data=data).lead
        if key == "cust_hq":  # as if nothing could route it: lead and customer stay with HQ
            lead.dealer_id = lead.consultant_id = lead.first_contact_due_at = None
            customer = session.get(Customer, lead.customer_id)
            assert customer is not None
            customer.dealer_id = customer.consultant_id = None
        task = lead_service.add_task(
            session, world.subject("hq_admin"), lead, due_at=datetime(2026, 12, 1, tzinfo=UTC), note="回访"
        )
        world.leads[key] = lead.id
        world.tasks[key] = task.id


def load_world(session: Session) -> World:
    """The committed world, read back by its natural keys (usernames, dealer codes, phones)."""
    from drivetrain.customers.models import ContactPoint, Vehicle

    world = World()
    world.users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(STAFF)))}
    world.dealers = {d.code: d for d in session.scalars(select(Dealer).where(Dealer.code.in_(DEALERS)))}
    for key, (_dealer, _consultant, _name, phone, serial) in CUSTOMERS.items():
        e164 = "+86" + phone
        world.customers[key] = session.scalar(
            select(ContactPoint.customer_id).where(ContactPoint.value == e164)
        )
        world.vehicles[key] = session.scalar(select(Vehicle.id).where(Vehicle.vin == vin_for(serial)))
        world.phones[key] = e164
        world.leads[key] = session.scalar(select(Lead.id).where(Lead.source_ref == f"world-{key}"))
        world.tasks[key] = session.scalar(
            select(FollowUpTask.id).where(FollowUpTask.lead_id == world.leads[key])
        )
    return world
