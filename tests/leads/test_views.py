"""Console pages for leads: the inbox per scope, the board moving cards, the lead page, settings, CSRF."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.customers.models import TimelineEvent
from drivetrain.kit.i18n import LANG_COOKIE
from drivetrain.leads import service
from drivetrain.leads.capture import capture
from drivetrain.leads.models import FollowUpTask, Lead, LeadSettings
from drivetrain.leads.schemas import LeadCreate
from tests.world import World

BINJIANG = "浙江省杭州市滨江区江南大道200号"
WUHOU = "四川省成都市武侯区二环路南四段20号"


def _capture(session: Session, world: World, *, phone: str, address: str | None, name: str = "周杰") -> Lead:
    data = LeadCreate(name=name, phone=phone, address=address, series="锐界", channel="ad", campaign="双11")
    lead = capture(session, world.subject("integration"), data=data).lead
    session.commit()
    return lead


@pytest.fixture
def a1_lead(session: Session, world: World) -> Lead:
    """A Binjiang lead: routed to A1, to whichever of sc_a1 / sc_a1b is next."""
    return _capture(session, world, phone="13700001111", address=BINJIANG)


@pytest.fixture
def b1_lead(session: Session, world: World) -> Lead:
    return _capture(session, world, phone="13700002222", address=WUHOU, name="吴磊")


def _holder(world: World, lead: Lead) -> str:
    return next(name for name, user in world.users.items() if user.id == lead.consultant_id)


def test_inbox_shows_the_consultants_open_leads_and_nobody_elses(
    console, world: World, a1_lead: Lead, b1_lead: Lead
) -> None:
    holder = _holder(world, a1_lead)
    colleague = ({"sc_a1", "sc_a1b"} - {holder}).pop()
    page = console(holder).get("/leads")
    assert page.status_code == 200
    assert f"/leads/{a1_lead.id}" in page.text and f"/leads/{b1_lead.id}" not in page.text
    assert 'href="/leads"' in page.text and "/static/js/live.js" in page.text
    assert 'data-events="/api/v1/events?after=' in page.text
    assert f"/leads/{a1_lead.id}" not in console(colleague).get("/leads").text
    other = console("sc_b1").get("/leads").text
    assert f"/leads/{b1_lead.id}" in other and f"/leads/{a1_lead.id}" not in other


def test_store_manager_sees_the_stores_leads_and_htmx_gets_the_fragment(
    console, a1_lead: Lead, b1_lead: Lead
) -> None:
    manager = console("sm_a1")
    page = manager.get("/leads")
    assert f"/leads/{a1_lead.id}" in page.text and f"/leads/{b1_lead.id}" not in page.text
    fragment = manager.get("/leads", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and f'data-lead="{a1_lead.id}"' in fragment.text
    assert "锐界" in fragment.text and "广告" in fragment.text and "新线索" in fragment.text


def test_the_consultant_is_named_as_colleagues_know_them(
    console, client_for, session: Session, world: World, a1_lead: Lead
) -> None:
    """Inbox, board and lead page name the consultant by display name (the list and page with the
    username beside it), and so does the API."""
    holder = world.users[_holder(world, a1_lead)]
    holder.display_name = "麦红霞"
    session.commit()
    manager = console("sm_a1")
    row = manager.get("/leads").text.split(f'data-lead="{a1_lead.id}"')[1].split("</tr>")[0]
    assert "麦红霞" in row and holder.username in row
    assert "麦红霞" in manager.get("/leads/board").text
    assert "麦红霞" in manager.get(f"/leads/{a1_lead.id}").text
    shown = client_for("sm_a1").get(f"/api/v1/leads/{a1_lead.id}").json()
    assert (shown["consultant"], shown["consultant_name"]) == (holder.username, "麦红霞")


def test_hq_inbox_has_the_pool_of_leads_no_dealer_took(
    console, session: Session, world: World, a1_lead: Lead
) -> None:
    pooled = _capture(session, world, phone="13700003333", address=None, name="孙丽")
    assert pooled.dealer_id is None
    page = console("hq_ops").get("/leads").text
    pool, _, at_dealers = page.partition("门店未结线索")
    assert "总部线索池" in pool and f"/leads/{pooled.id}" in pool
    assert f"/leads/{a1_lead.id}" in at_dealers and f"/leads/{pooled.id}" not in at_dealers
    assert "总部线索池" not in console("sm_a1").get("/leads").text


def test_board_moves_a_card_to_contacted(console, session: Session, world: World, a1_lead: Lead) -> None:
    me = console(_holder(world, a1_lead))
    board = me.get("/leads/board")
    assert board.status_code == 200
    new_column = board.text.split('data-stage="new"')[1].split('data-stage="contacted"')[0]
    assert f'data-lead="{a1_lead.id}"' in new_column and 'value="contacted"' in new_column
    answer = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "contacted", "back": "board"}, htmx=True)
    assert answer.status_code == 200 and "<html" not in answer.text
    contacted = answer.text.split('data-stage="contacted"')[1].split('data-stage="test_drive_scheduled"')[0]
    assert f'data-lead="{a1_lead.id}"' in contacted
    session.refresh(a1_lead)
    assert a1_lead.stage == "contacted" and a1_lead.first_contacted_at is not None
    assert a1_lead.first_contact_due_at is None
    kinds = session.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.customer_id == a1_lead.customer_id)
    ).all()
    assert "lead.captured" in kinds and "lead.contacted" in kinds


def test_a_form_post_without_htmx_goes_back(console, world: World, a1_lead: Lead) -> None:
    me = console(_holder(world, a1_lead))
    to_board = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "contacted", "back": "board"})
    assert to_board.status_code == 303 and to_board.headers["location"] == "/leads/board"
    to_lead = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "negotiating"})
    assert to_lead.status_code == 303 and to_lead.headers["location"] == f"/leads/{a1_lead.id}"


def test_lost_needs_a_reason_and_moves_follow_the_pipeline(
    console, session: Session, world: World, a1_lead: Lead
) -> None:
    me = console(_holder(world, a1_lead))
    no_reason = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "lost", "lost_reason": "  "}, htmx=True)
    assert no_reason.status_code == 422 and "战败需要填写原因" in no_reason.text
    skipped = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "won"}, htmx=True)
    assert skipped.status_code == 422 and "不能直接推进" in skipped.text
    without_htmx = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "lost"})
    assert without_htmx.status_code == 422
    session.refresh(a1_lead)
    assert a1_lead.stage == "new" and a1_lead.lost_reason is None
    lost = me.post(f"/leads/{a1_lead.id}/stage", {"stage": "lost", "lost_reason": "已在别处购车"}, htmx=True)
    assert lost.status_code == 200
    session.refresh(a1_lead)
    assert a1_lead.stage == "lost" and a1_lead.lost_reason == "已在别处购车"


def test_posts_without_the_csrf_token_are_refused(
    console, session: Session, world: World, a1_lead: Lead
) -> None:
    me = console(_holder(world, a1_lead))
    hq = console("hq_ops")
    refused = [
        me.post(f"/leads/{a1_lead.id}/stage", {"stage": "contacted"}, csrf=False),
        me.post(f"/leads/{a1_lead.id}/tasks", {"due_at": "2026-03-03T10:00", "note": "回电"}, csrf=False),
        hq.post(f"/leads/{a1_lead.id}/reassign", {"reason": "顾问休假"}, csrf=False),
        hq.post("/leads/settings", {"first_contact_minutes": "5"}, csrf=False),
        me.client.post(f"/leads/{a1_lead.id}/stage", data={"stage": "contacted", "csrf_token": "forged"}),
    ]
    assert [answer.status_code for answer in refused] == [403] * 5
    session.refresh(a1_lead)
    assert a1_lead.stage == "new" and a1_lead.consultant_id == world.users[_holder(world, a1_lead)].id
    assert session.scalars(select(FollowUpTask).where(FollowUpTask.lead_id == a1_lead.id)).all() == []
    assert session.get(LeadSettings, 1).first_contact_seconds == 900  # type: ignore[union-attr]


def test_lead_page_explains_the_routing_in_the_users_language(console, world: World, a1_lead: Lead) -> None:
    me = console(_holder(world, a1_lead))
    page = me.get(f"/leads/{a1_lead.id}")
    assert page.status_code == 200
    assert f'href="/customers/{a1_lead.customer_id}"' in page.text
    assert "为什么是这家店" in page.text and "为什么是这位顾问" in page.text
    assert 'data-code="nearest"' in page.text and "杭州滨江福特4S店" in page.text
    assert "转化路径" in page.text and "双11" in page.text
    me.client.cookies.set(LANG_COOKIE, "en")
    english = me.get(f"/leads/{a1_lead.id}").text
    assert "Why this dealer" in english and "Why this consultant" in english
    assert "reassign" not in english.lower().split("<main")[1]  # consultants cannot reassign


def test_a_lead_outside_the_scope_is_not_found(console, a1_lead: Lead, b1_lead: Lead) -> None:
    assert console("sc_b1").get(f"/leads/{a1_lead.id}").status_code == 404
    assert console("sm_a2").get(f"/leads/{a1_lead.id}").status_code == 404
    assert console("sc_b1").post(f"/leads/{a1_lead.id}/stage", {"stage": "contacted"}).status_code == 404


def test_follow_up_tasks_are_added_and_checked(
    console, session: Session, world: World, a1_lead: Lead
) -> None:
    me = console(_holder(world, a1_lead))
    added = me.post(f"/leads/{a1_lead.id}/tasks", {"due_at": "2026-03-03T10:00", "note": "回电确认试驾时间"})
    assert added.status_code == 303 and added.headers["location"] == f"/leads/{a1_lead.id}#tasks"
    task = session.scalars(select(FollowUpTask).where(FollowUpTask.lead_id == a1_lead.id)).one()
    assert task.due_at.isoformat() == "2026-03-03T02:00:00+00:00"  # 10:00 in China is 02:00 UTC
    page = me.get(f"/leads/{a1_lead.id}").text
    assert "回电确认试驾时间" in page and "03-03 10:00" in page
    bad = me.post(f"/leads/{a1_lead.id}/tasks", {"due_at": "tomorrow", "note": ""})
    assert bad.status_code == 422 and "请填写跟进时间" in bad.text
    assert len(session.scalars(select(FollowUpTask).where(FollowUpTask.lead_id == a1_lead.id)).all()) == 1


def test_store_manager_reassigns_with_a_reason(
    console, session: Session, world: World, a1_lead: Lead
) -> None:
    holder = _holder(world, a1_lead)
    colleague = ({"sc_a1", "sc_a1b"} - {holder}).pop()
    manager = console("sm_a1")
    assert "改派原因" in manager.get(f"/leads/{a1_lead.id}").text
    no_reason = manager.post(f"/leads/{a1_lead.id}/reassign", {"consultant": colleague, "reason": ""})
    assert no_reason.status_code == 422 and "请写明改派原因" in no_reason.text
    stranger = manager.post(f"/leads/{a1_lead.id}/reassign", {"consultant": "sc_b1", "reason": "试试"})
    assert stranger.status_code == 422
    done = manager.post(f"/leads/{a1_lead.id}/reassign", {"consultant": colleague, "reason": "顾问休假"})
    assert done.status_code == 303
    session.refresh(a1_lead)
    assert a1_lead.consultant_id == world.users[colleague].id
    history = manager.get(f"/leads/{a1_lead.id}").text
    assert "顾问休假" in history and f"{holder} → {colleague}" in history
    refused = console(colleague).post(
        f"/leads/{a1_lead.id}/reassign", {"consultant": holder, "reason": "不要"}
    )
    assert refused.status_code == 403


def test_settings_save_refuse_bad_input_and_are_audited(console, session: Session) -> None:
    hq = console("hq_ops")
    page = hq.get("/leads/settings")
    assert page.status_code == 200 and 'name="first_contact_minutes" value="15"' in page.text
    form = {
        "first_contact_minutes": "5",
        "business_hours": "on",
        "dedupe_window_days": "14",
        "radius_km": "80",
        "max_candidates": "5",
        "load_weight_km": "10",
        "default_capacity": "20",
    }
    bad = hq.post("/leads/settings", form | {"radius_km": "-3", "max_candidates": "many"})
    assert bad.status_code == 422
    assert bad.text.count('aria-invalid="true"') == 2 and 'value="many"' in bad.text
    settings = session.get(LeadSettings, 1)
    assert settings is None or settings.radius_km == 50.0
    saved = hq.post("/leads/settings", form)
    assert saved.status_code == 303 and saved.headers["location"] == "/leads/settings?saved=true"
    session.expire_all()
    settings = session.get(LeadSettings, 1)
    assert settings is not None
    assert (settings.first_contact_seconds, settings.radius_km, settings.dedupe_window_days) == (
        300,
        80.0,
        14,
    )
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "lead_settings.update")).one()
    assert entry.changes["first_contact_seconds"] == [900, 300]
    assert "已保存" in hq.get("/leads/settings?saved=true").text
    unchecked = {k: v for k, v in form.items() if k != "business_hours"}
    assert hq.post("/leads/settings", unchecked).status_code == 303
    session.expire_all()
    assert session.get(LeadSettings, 1).business_hours is False  # type: ignore[union-attr]


def test_settings_are_read_only_without_leads_configure(console) -> None:
    manager = console("sm_a1")
    page = manager.get("/leads/settings")
    assert page.status_code == 200 and "<fieldset disabled>" in page.text
    assert manager.post("/leads/settings", {"first_contact_minutes": "1"}).status_code == 403


def test_board_and_inbox_need_a_session(app: TestClient) -> None:
    for path in ("/leads", "/leads/board", "/leads/settings"):
        answer = app.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=/leads")


def test_board_cards_offer_only_the_allowed_moves(console, world: World, a1_lead: Lead) -> None:
    board = console(_holder(world, a1_lead)).get("/leads/board").text
    card = board.split(f'data-lead="{a1_lead.id}"')[1].split("</article>")[0]
    offered = re.findall(r'name="stage" value="(\w+)"', card)
    assert offered == ["contacted", "test_drive_scheduled", "lost"]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_text_on_the_lead_pages_is_translated(
    console, session: Session, world: World, a1_lead: Lead, locale: str
) -> None:
    hq = console("hq_ops")
    hq.client.cookies.set(LANG_COOKIE, locale)
    service.add_task(session, world.subject("hq_ops"), a1_lead, due_at=a1_lead.created_at, note="回电")
    session.commit()
    for path in ("/leads", "/leads/board", f"/leads/{a1_lead.id}", "/leads/settings"):
        text = hq.get(path).text
        assert not re.findall(r"\b(?:leads|stage|channel_lead|nav)\.[a-z_.]+", text), (locale, path)
