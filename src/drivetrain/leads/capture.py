"""Lead capture, one request or a batch of them in one transaction.

Every channel comes through here: replay an idempotency key or a channel's own id, match the
person by mobile, fold a repeat into a touch on their open lead, route, notify, start the SLA clock.

A batch reads what all its requests need in a handful of queries before deciding anything, keeps
the state routing changes (open-lead loads, the round-robin turn, leads just created) in memory
while it decides them one by one in arrival order, and writes everything at the end: one INSERT per
table for the new customers, contact points and leads and for the rows nobody reads back, and one
flush for what changed on known customers (``db.bulk_rows``).
So capture costs a few statements per batch instead of a few dozen per lead, and the HTTP endpoint
can gather the requests that arrive together (see ``leads.intake_queue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy.orm import Session

from drivetrain.auth.idempotency import check_replay, recorded_many, remember_in_batch
from drivetrain.auth.models import IdempotencyRecord, User
from drivetrain.auth.roles import Permission, Scope
from drivetrain.auth.subject import AuthSubject
from drivetrain.customers.models import ConsentChannel, ConsentPurpose, ConsentStatus, Customer
from drivetrain.customers.repository import CustomerFilter, CustomerRepository
from drivetrain.customers.schemas import ConsentIn, CustomerCreate
from drivetrain.customers.service import add_timeline, create_customer, record_consent
from drivetrain.db import add_new, bulk_rows
from drivetrain.kit import clock
from drivetrain.kit.address import coordinates_of, parse_address
from drivetrain.kit.errors import Conflict, DomainError, InvalidInput
from drivetrain.kit.i18n import translator
from drivetrain.kit.ids import new_id
from drivetrain.leads import routing
from drivetrain.leads.assignment import ConsultantDesk, explain, notify_assigned, policy_of
from drivetrain.leads.models import DealerLeadState, Lead, LeadSettings, Stage
from drivetrain.leads.repository import LeadRepository
from drivetrain.leads.schemas import LeadCreate
from drivetrain.leads.service import log_step
from drivetrain.leads.sla import first_contact_due
from drivetrain.org import directory
from drivetrain.org.models import Series

OPERATION = "lead.capture"
STORED = translator("zh-CN")
"""Stored text (timeline summaries) is written in Chinese, from the catalogue."""


@dataclass(frozen=True)
class CaptureRequest:
    subject: AuthSubject
    data: LeadCreate
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Capture:
    """The lead a request created or found, and the names its answer shows (known without a query)."""

    lead: Lead
    customer: Customer
    series_name: str
    consultant: tuple[str, str] | None
    """Username and display name."""
    deduplicated: bool = False


def _names(user: User | None) -> tuple[str, str] | None:
    return (user.username, user.display_name) if user else None


CaptureOutcome = Capture | DomainError


def capture(
    session: Session, subject: AuthSubject, *, data: LeadCreate, idempotency_key: str | None = None
) -> Capture:
    """One request: the batch of one. Raises the request's domain error."""
    outcome = capture_many(session, [CaptureRequest(subject, data, idempotency_key)])[0]
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


def capture_many(session: Session, requests: list[CaptureRequest]) -> list[CaptureOutcome]:
    """Each request's lead (new, replayed or touched) or its domain error, in request order.

    A request that fails validation writes nothing; the others go ahead. A unique-key race with
    another process surfaces as IntegrityError at the flush: the caller rolls back and retries.
    """
    batch = _Batch.prefetch(session, requests)
    outcomes: list[CaptureOutcome] = []
    with session.no_autoflush, bulk_rows(session):
        for request in requests:
            try:
                outcomes.append(batch.capture_one(request))
            except DomainError as error:
                outcomes.append(error)
        batch.persist_turns()
    return outcomes


@dataclass
class _Batch:
    """What a batch of requests needs from the database, read up front and kept current in memory."""

    session: Session
    repo: LeadRepository
    settings: LeadSettings
    series: dict[tuple[str, str], Series]
    brand_names: dict[str, str]
    replays: dict[tuple[str, str], IdempotencyRecord]
    by_source_ref: dict[tuple[str, str], Lead]
    customers_by_phone: dict[str, Customer]
    open_leads: dict[tuple[str, str], Lead]
    relationships: dict[str, tuple[str, ...]]
    known_customers: set[str]  # whose open leads and relationships are in the two maps above
    dealer_loads: dict[str, int]
    dealer_states: dict[str, DealerLeadState]
    desks: dict[str, ConsultantDesk] = field(default_factory=dict)
    made: dict[str, Capture] = field(default_factory=dict)  # leads this batch created, not yet flushed

    @classmethod
    def prefetch(cls, session: Session, requests: list[CaptureRequest]) -> _Batch:
        repo = LeadRepository(session)
        settings = repo.settings()
        phones = {r.data.phone for r in requests if r.subject.is_hq}
        customers = CustomerRepository(session).by_mobiles(phones)
        since = clock.now() - timedelta(days=settings.dedupe_window_days)
        customer_ids = {c.id for c in customers.values()}
        series, brand_names = repo.series_catalog()
        keys = {(r.subject.user_id, r.idempotency_key) for r in requests if r.idempotency_key}
        return cls(
            session=session,
            repo=repo,
            settings=settings,
            series=series,
            brand_names=brand_names,
            replays=recorded_many(session, OPERATION, keys),
            by_source_ref=repo.by_source_refs(
                {(r.data.channel.value, r.data.source_ref) for r in requests if r.data.source_ref}
            ),
            customers_by_phone=customers,
            open_leads=repo.open_leads_of(customer_ids, since=since),
            relationships=repo.relationships(customer_ids),
            known_customers=customer_ids,
            dealer_loads={},
            dealer_states={},
        )

    # ------------------------------------------------------------ one request

    def capture_one(self, request: CaptureRequest) -> Capture:
        subject, data = request.subject, request.data
        # Kept here, not only on the routes: one batch carries requests of many subjects (the API, the
        # public form's and importers' system subjects), each checked as it is decided.
        subject.require(Permission.LEADS_CAPTURE)
        series = self._series(data.series, data.brand)
        earlier = self._replay(request)
        if earlier is not None:
            return earlier
        if data.source_ref and (same := self.by_source_ref.get((data.channel.value, data.source_ref))):
            return self._found(same)
        customer = self._customer_for(subject, data)
        self._know(customer)
        open_lead = self.open_leads.get((customer.id, series.id))
        if open_lead is not None:
            return self._touch_open_lead(request, open_lead, customer, series)
        return self._new_lead(request, customer, series)

    def _series(self, name: str, brand: str | None) -> Series:
        found = self.series.get((name, brand or "*"))
        if found is None:
            raise _unknown_series(name, brand)
        return found

    def _replay(self, request: CaptureRequest) -> Capture | None:
        if not request.idempotency_key:
            return None
        record = self.replays.get((request.subject.user_id, request.idempotency_key))
        if record is None:
            return None
        lead_id = check_replay(record, request.data)
        if lead_id in self.made:
            return self.made[lead_id]
        lead = self.repo.by_id(lead_id)
        if lead is None:
            raise Conflict("the lead this Idempotency-Key created is gone")
        return self._found(lead)

    def _found(self, lead: Lead) -> Capture:
        if lead.id in self.made:
            return self.made[lead.id]
        customer = self.repo.customer(lead.customer_id)
        series = self.repo.series(lead.series_id)
        consultant = self.repo.user(lead.consultant_id) if lead.consultant_id else None
        assert customer is not None and series is not None
        return Capture(lead, customer, series.name, _names(consultant))

    def _know(self, customer: Customer) -> None:
        """Open leads and dealer relationships of a customer the prefetch did not cover (one that a
        dealer's own search found)."""
        if customer.id in self.known_customers:
            return
        since = clock.now() - timedelta(days=self.settings.dedupe_window_days)
        self.open_leads.update(self.repo.open_leads_of({customer.id}, since=since))
        self.relationships.update(self.repo.relationships({customer.id}))
        self.known_customers.add(customer.id)

    def _customer_for(self, subject: AuthSubject, data: LeadCreate) -> Customer:
        """The known customer with this mobile, or a new prospect.

        HQ-level capture matches across the whole network; dealer staff only match customers they
        may see, so a phone number never reveals another dealer's customer.
        """
        if subject.is_hq:
            customer = self.customers_by_phone.get(data.phone)
        else:
            found = CustomerRepository(self.session).search(
                subject, CustomerFilter(phone=data.phone), cursor=None, limit=1
            )
            customer = found[0] if found else None
        consent = _marketing_consent(data)
        if customer is None:
            prospect = CustomerCreate(
                name=data.name,
                phone=data.phone,
                address=data.address,
                consents=[consent] if consent else [],
                source=f"lead:{data.channel.value}",
            )
            customer = create_customer(self.session, subject, data=prospect)
            self.known_customers.add(customer.id)
            if subject.is_hq:
                self.customers_by_phone[data.phone] = customer
            return customer
        if consent is not None:
            record_consent(self.session, subject, customer, consent)
        return customer

    def _touch_open_lead(
        self, request: CaptureRequest, lead: Lead, customer: Customer, series: Series
    ) -> Capture:
        subject, data = request.subject, request.data
        self._add_touch(lead, data)
        self.repo.add_history(lead, "touch", to_value=data.channel, actor=subject, reason=data.campaign)
        add_timeline(
            self.session,
            customer_id=customer.id,
            kind="lead.touch",
            summary=f"再次咨询：{series.name}（{STORED(f'channel_lead.{data.channel.value}')}）",
            actor=subject,
            dealer_id=lead.dealer_id,
            detail={"lead_id": lead.id, "campaign": data.campaign},
        )
        self._remember(request, lead)
        return replace(self._found(lead), deduplicated=True)

    def _new_lead(self, request: CaptureRequest, customer: Customer, series: Series) -> Capture:
        subject, data = request.subject, request.data
        now = clock.now()
        lead = Lead(
            id=new_id(),
            customer_id=customer.id,
            brand_id=series.brand_id,
            series_id=series.id,
            channel=data.channel.value,
            campaign=data.campaign,
            source_ref=data.source_ref,
            note=data.note,
            stage=Stage.NEW,
            sla_breaches=0,
            created_at=now,
            updated_at=now,
        )
        dealer_id, dealer_reasons = self._dealer_for(subject, lead, customer, data)
        consultant, consultant_reasons = self._consultant_for(subject, customer, dealer_id)
        lead.routing = {"dealer": explain(dealer_reasons), "consultant": explain(consultant_reasons)}
        lead.dealer_id, lead.consultant_id, lead.assigned_at = dealer_id, _id(consultant), now
        if consultant is not None and dealer_id is not None:
            lead.first_contact_due_at = first_contact_due(self.session, dealer_id, self.settings, start=now)
        add_new(self.session, lead)
        self._add_touch(lead, data)
        self.repo.add_history(lead, "assigned", to_value=lead.consultant_id, actor=subject)
        log_step(
            self.session,
            subject,
            lead,
            kind="lead.captured",
            summary=f"线索：{series.name}（{STORED(f'channel_lead.{data.channel.value}')}）",
            detail={"campaign": data.campaign},
            action="lead.capture",
            changes={"channel": [None, data.channel.value], "dealer_id": [None, dealer_id]},
        )
        if consultant is not None:
            notify_assigned(
                self.session, lead, consultant, series_name=series.name, customer_name=customer.name
            )
        if customer.dealer_id is None and dealer_id is not None:
            customer.dealer_id, customer.consultant_id = dealer_id, _id(consultant)
        self._remember(request, lead)
        self._register(lead, customer)
        made = Capture(lead, customer, series.name, _names(consultant))
        self.made[lead.id] = made
        return made

    def _add_touch(self, lead: Lead, data: LeadCreate) -> None:
        self.repo.add_touch(
            lead,
            channel=data.channel.value,
            campaign=data.campaign,
            click_id=data.click_id,
            source_ref=data.source_ref,
            utm=data.utm or {},
            note=data.note,
        )
        if data.source_ref:
            self.by_source_ref[(data.channel.value, data.source_ref)] = lead

    def _remember(self, request: CaptureRequest, lead: Lead) -> None:
        key = request.idempotency_key
        if not key:
            return
        record = remember_in_batch(self.session, request.subject, OPERATION, key, request.data, lead.id)
        self.replays[(request.subject.user_id, key)] = record

    def _register(self, lead: Lead, customer: Customer) -> None:
        """Later requests of the batch see this lead: as an open lead, and in the dealer's load."""
        self.open_leads[(customer.id, lead.series_id)] = lead
        if lead.dealer_id is not None:
            self.dealer_loads[lead.dealer_id] = self.dealer_loads.get(lead.dealer_id, 0) + 1

    # ------------------------------------------------------------ routing

    def _dealer_for(
        self, subject: AuthSubject, lead: Lead, customer: Customer, data: LeadCreate
    ) -> tuple[str | None, list[routing.Reason]]:
        if subject.scope in (Scope.DEALER, Scope.OWN) and subject.dealer_id:
            reason = routing.Reason("captured_at_dealer", "门店自录线索", "captured by the dealer itself", {})
            return subject.dealer_id, [reason]
        location, label = _location(data, customer)
        network = directory.dealers(self.session)
        facts = routing.LeadFacts(
            brand=self.brand_names.get(lead.brand_id, ""),
            location=location,
            location_label=label,
            relationship_dealer_ids=tuple(
                dict.fromkeys([*self.relationships.get(customer.id, ()), *filter(None, [customer.dealer_id])])
            ),
            region_hint=None,
        )
        policy = policy_of(self.settings)
        near = directory.nearby(self.session, location, policy.radius_km) if location else None
        first = set(facts.relationship_dealer_ids) & network.keys() | (near.in_radius if near else set())
        decision = routing.choose_dealer(self._candidates(sorted(first), network), facts, policy)
        if near and (decision.dealer_id is None or "region_pool" in {r.code for r in decision.reasons}):
            # The fallback pool is the nearest dealer's whole region: only built when it is needed.
            wider = sorted(first | near.region_pool)
            decision = routing.choose_dealer(self._candidates(wider, network), facts, policy)
        return decision.dealer_id, decision.reasons

    def _candidates(
        self, ids: list[str], network: dict[str, directory.DirectoryDealer]
    ) -> list[routing.DealerCandidate]:
        self._load_dealers([i for i in ids if i not in self.dealer_loads])
        return [
            routing.DealerCandidate(
                dealer_id=i,
                code=network[i].code,
                name=network[i].name,
                region=network[i].region,
                latitude=network[i].latitude,
                longitude=network[i].longitude,
                brands=network[i].brands,
                open_leads=self.dealer_loads[i],
                capacity=self.dealer_states[i].capacity if i in self.dealer_states else None,
                accepting=self.dealer_states[i].accepting if i in self.dealer_states else True,
            )
            for i in ids
        ]

    def _load_dealers(self, ids: list[str]) -> None:
        if not ids:
            return
        counts = self.repo.open_counts_by_dealer(ids)
        self.dealer_loads.update({i: counts.get(i, 0) for i in ids})
        self.dealer_states.update(self.repo.dealer_states(ids))

    def _consultant_for(
        self, subject: AuthSubject, customer: Customer, dealer_id: str | None
    ) -> tuple[User | None, list[routing.Reason]]:
        if subject.scope is Scope.OWN:
            reason = routing.Reason("captured_by_consultant", "顾问自录", "captured by the consultant", {})
            return self.repo.user(subject.user_id), [reason]
        if dealer_id is None:
            return None, []
        own = self._own_consultant(customer, dealer_id)
        if own is not None:
            self._desk(dealer_id).took(own[0].id)
            return own
        return self._desk(dealer_id).pick()

    def _own_consultant(self, customer: Customer, dealer_id: str) -> tuple[User, list[routing.Reason]] | None:
        """A returning customer goes back to the consultant who looks after them, when on duty there."""
        if customer.consultant_id is None:
            return None
        user = self.repo.user(customer.consultant_id)
        duty = self.repo.duty(customer.consultant_id)
        if user is None or user.dealer_id != dealer_id or not user.active or (duty and not duty.on_duty):
            return None
        reason = routing.Reason(
            "relationship_consultant",
            f"老客户，回到其顾问 {user.username}",
            f"returning customer: back to {user.username}",
            {"username": user.username},
        )
        return user, [reason]

    def _desk(self, dealer_id: str) -> ConsultantDesk:
        if dealer_id not in self.desks:
            self.desks[dealer_id] = ConsultantDesk.open(self.session, dealer_id)
        return self.desks[dealer_id]

    def persist_turns(self) -> None:
        for desk in self.desks.values():
            desk.persist_turns()


def _id(user: User | None) -> str | None:
    return user.id if user else None


def _location(data: LeadCreate, customer: Customer) -> tuple[tuple[float, float] | None, str | None]:
    """Coordinates of the lead's district (or city), from the address it gave, else the customer's."""
    text = data.address or data.city or customer.address
    if not text:
        return None, None
    place = parse_address(text)
    if not place.adcode:
        return None, None
    label = "".join(p for p in (place.city, place.district) if p) or place.province
    return coordinates_of(place.adcode), label


def _marketing_consent(data: LeadCreate) -> ConsentIn | None:
    if data.consent_marketing is None:
        return None
    return ConsentIn(
        purpose=ConsentPurpose.MARKETING,
        channel=ConsentChannel.ANY,
        status=ConsentStatus.GRANTED if data.consent_marketing else ConsentStatus.WITHDRAWN,
        source=f"lead:{data.channel.value}",
    )


def _unknown_series(name: str, brand: str | None) -> DomainError:
    return InvalidInput("series", f"unknown series {name}" + (f" of brand {brand}" if brand else ""))
