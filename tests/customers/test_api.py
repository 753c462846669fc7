"""The customer and vehicle API as integrators use it: the contract, validation, idempotency, masking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.auth.models import AuditEntry
from drivetrain.customers.models import Customer, Vehicle
from tests.world import World, vin_for


def test_create_customer_normalises_phone_and_parses_address(client_for, session: Session) -> None:
    client = client_for("sm_a1")
    answer = client.post(
        "/api/v1/customers",
        json={"name": " 赵敏 ", "phone": "+86 139-1234-5678", "address": "浙江省杭州市滨江区江南大道100号"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["phone"] == "+8613912345678"
    assert (body["province"], body["city"], body["district"], body["adcode"]) == (
        "浙江省",
        "杭州市",
        "滨江区",
        "330108",
    )
    assert body["dealer_code"] == "A1"  # dealer staff create for their own dealer
    fetched = client.get(f"/api/v1/customers/{body['id']}")
    assert fetched.status_code == 200 and fetched.json()["name"] == "赵敏"


def test_bad_phone_is_422_naming_phone_and_stores_nothing(client_for, session: Session) -> None:
    client = client_for("sm_a1")
    before = session.scalar(select(func.count()).select_from(Customer))
    answer = client.post("/api/v1/customers", json={"name": "赵敏", "phone": "12345"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == ["phone"]
    assert session.scalar(select(func.count()).select_from(Customer)) == before


def test_unknown_dealer_code_is_422_and_nothing_written(client_for, session: Session) -> None:
    client = client_for("hq_ops")
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    answer = client.post(
        "/api/v1/customers", json={"name": "赵敏", "phone": "13912345678", "dealer_code": "ZZ999"}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "dealer_code"
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_idempotency_key_returns_the_first_customer(client_for, session: Session) -> None:
    client = client_for("sm_a1")
    body = {"name": "赵敏", "phone": "13912345678"}
    first = client.post("/api/v1/customers", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/api/v1/customers", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    count = session.scalar(
        select(func.count()).select_from(Customer).where(Customer.primary_phone == "+8613912345678")
    )
    assert count == 1
    reused = client.post(
        "/api/v1/customers", json={**body, "name": "别人"}, headers={"Idempotency-Key": "k-1"}
    )
    assert reused.status_code == 409


def test_search_by_phone_plate_vin_and_name(client_for, world: World) -> None:
    client = client_for("hq_ops")
    expected = world.customers["cust_a1"]
    for params in (
        {"phone": "138 0000 0001"},
        {"q": "13800000001"},
        {"q": "浙A00001"},
        {"plate": "浙A·00001"},
        {"vin": vin_for(1).lower()},
        {"q": "张伟"},
    ):
        answer = client.get("/api/v1/customers", params=params)
        assert answer.status_code == 200, (params, answer.text)
        assert expected in [c["id"] for c in answer.json()["items"]], params


def test_keyset_pagination_walks_every_customer_once(client_for, world: World) -> None:
    client = client_for("hq_admin")
    seen: list[str] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/customers", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(set(seen))
    assert set(world.customers.values()) <= set(seen)


def test_bad_cursor_is_422(client_for) -> None:
    answer = client_for("hq_admin").get("/api/v1/customers", params={"cursor": "not-a-cursor"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "cursor"


def test_phone_and_address_are_masked_for_roles_without_pii(client_for, world: World) -> None:
    customer_id = world.customers["cust_a1"]
    masked = client_for("region_east").get(f"/api/v1/customers/{customer_id}").json()
    assert masked["masked"] is True
    assert masked["phone"] == "138****0001"
    assert masked["address"] == "浙江省杭州市滨江区****"
    assert all("0001" not in p["value"] or "*" in p["value"] for p in masked["contact_points"])
    clear = client_for("sc_a1").get(f"/api/v1/customers/{customer_id}").json()
    assert clear["masked"] is False and clear["phone"] == "+8613800000001"


def test_id_number_is_stored_as_hash_and_last_four(client_for, session: Session) -> None:
    answer = client_for("sm_a1").post(
        "/api/v1/customers", json={"name": "赵敏", "phone": "13912345678", "id_number": "11010519491231002x"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["id_number"] == "**************002X"
    row = session.get(Customer, answer.json()["id"])
    assert row is not None and row.id_number_last4 == "002X"
    assert row.id_number_hash and "11010519491231002X" not in row.id_number_hash


def test_bad_id_number_is_422(client_for) -> None:
    answer = client_for("sm_a1").post(
        "/api/v1/customers", json={"name": "赵敏", "phone": "13912345678", "id_number": "110105194912310021"}
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "id_number"


def test_register_vehicle_and_bad_vin(client_for, world: World, session: Session) -> None:
    client = client_for("sm_a1")
    good = client.post(
        "/api/v1/vehicles",
        json={
            "vin": vin_for(900),
            "customer_id": world.customers["cust_a1"],
            "plate": "浙AD12345",
            "series": "领界",
        },
    )
    assert good.status_code == 201, good.text
    assert good.json()["series"] == "领界" and good.json()["plate"] == "浙AD12345"
    wrong_check = vin_for(901)
    wrong_check = wrong_check[:8] + ("0" if wrong_check[8] != "0" else "1") + wrong_check[9:]
    bad = client.post(
        "/api/v1/vehicles", json={"vin": wrong_check, "customer_id": world.customers["cust_a1"]}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "vin"
    assert session.scalar(select(Vehicle).where(Vehicle.vin == wrong_check)) is None


def test_unknown_series_and_duplicate_vin(client_for, world: World) -> None:
    client = client_for("sm_a1")
    unknown = client.post(
        "/api/v1/vehicles",
        json={"vin": vin_for(902), "customer_id": world.customers["cust_a1"], "series": "Model Z"},
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "series"
    duplicate = client.post(
        "/api/v1/vehicles", json={"vin": vin_for(1), "customer_id": world.customers["cust_a1"]}
    )
    assert duplicate.status_code == 409


def test_resale_keeps_ownership_history(client_for, world: World) -> None:
    client = client_for("sm_a1")
    vehicle_id = world.vehicles["cust_a1"]
    moved = client.post(
        f"/api/v1/vehicles/{vehicle_id}/transfer",
        json={"customer_id": world.customers["cust_a1b"], "on": "2026-06-01"},
    )
    assert moved.status_code == 200, moved.text
    ownerships = moved.json()["ownerships"]
    assert [o["customer_id"] for o in ownerships] == [world.customers["cust_a1b"], world.customers["cust_a1"]]
    assert ownerships[1]["ended_on"] == "2026-06-01" and ownerships[0]["ended_on"] is None
    timeline = client.get(f"/api/v1/customers/{world.customers['cust_a1']}/timeline").json()["items"]
    assert "vehicle.sold" in [e["kind"] for e in timeline]


def test_every_write_is_audited_with_its_token(client_for, world: World, session: Session) -> None:
    client = client_for("sm_a1")
    customer_id = world.customers["cust_a1"]
    answer = client.patch(f"/api/v1/customers/{customer_id}", json={"address": "浙江省杭州市西湖区文三路1号"})
    assert answer.status_code == 200
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.entity_id == customer_id, AuditEntry.action == "customer.update")
    )
    assert entry is not None
    assert entry.actor_id == world.users["sm_a1"].id and entry.token_id is not None and entry.via == "api"
    assert entry.changes["address"][1] == "浙江省杭州市西湖区文三路1号"


def test_consent_history_is_kept(client_for, world: World) -> None:
    client = client_for("sc_a1")
    customer_id = world.customers["cust_a1"]
    for status in ("granted", "withdrawn"):
        answer = client.post(
            f"/api/v1/customers/{customer_id}/consents",
            json={"purpose": "marketing", "channel": "sms", "status": status, "source": "hotline"},
        )
        assert answer.status_code == 201, answer.text
    current = client.get(f"/api/v1/customers/{customer_id}").json()["consents"]
    assert [c["status"] for c in current if c["purpose"] == "marketing"] == ["withdrawn"]
    history = client.get(f"/api/v1/customers/{customer_id}/consents").json()
    assert [c["status"] for c in history if c["purpose"] == "marketing"] == ["withdrawn", "granted"]


def test_unknown_consent_purpose_is_422(client_for, world: World) -> None:
    answer = client_for("sc_a1").post(
        f"/api/v1/customers/{world.customers['cust_a1']}/consents",
        json={"purpose": "spam", "status": "granted", "source": "x"},
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "purpose"


def test_unauthenticated_is_401_problem(app) -> None:
    answer = app.get("/api/v1/customers")
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_customer_page_names_where_consent_was_given(client_for, console, world: World) -> None:
    """Known sources read as words (a lead's by its channel); anything else an integrator sent is shown
    as sent."""
    customer_id = world.customers["cust_a1"]
    client = client_for("sc_a1")
    for purpose, source in (
        ("marketing", "purchase_contract"),
        ("service", "lead:live_stream"),
        ("survey", "x-crm"),
    ):
        answer = client.post(
            f"/api/v1/customers/{customer_id}/consents",
            json={"purpose": purpose, "channel": "sms", "status": "granted", "source": source},
        )
        assert answer.status_code == 201, answer.text
    page = console("sc_a1").get(f"/customers/{customer_id}").text
    card = page[page.index('aria-labelledby="consents"') :].split("</section>")[0]
    assert "购车合同" in card and "线索：直播" in card and "x-crm" in card
    assert "purchase_contract" not in card and "lead:live_stream" not in card
    timeline = page[page.index('<ol class="timeline">') :].split("</ol>")[0]
    assert "营销 · 短信 · 购车合同" in timeline and "线索：直播" in timeline and "x-crm" in timeline
    assert "purchase_contract" not in timeline and "marketing/sms" not in timeline


def test_the_consultant_is_named_as_colleagues_know_them(client_for, console, session, world: World) -> None:
    world.users["sc_a1"].display_name = "麦红霞"
    session.commit()
    customer_id = world.customers["cust_a1"]
    page = console("sm_a1").get(f"/customers/{customer_id}").text
    assert "麦红霞" in page and "sc_a1" in page
    assert "麦红霞" in console("sm_a1").get("/customers").text
    shown = client_for("sm_a1").get(f"/api/v1/customers/{customer_id}").json()
    assert (shown["consultant"], shown["consultant_name"]) == ("sc_a1", "麦红霞")
