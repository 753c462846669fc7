"""/api/v1/sources: HQ registers sources and profiles, integrations post record batches, lineage is readable;
dealer-side roles see none of it (403 for lists and writes, 404 for a source), and PII stays masked
for roles without pii:read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from drivetrain.sources.models import ImportRun, Source, SourceRecord
from drivetrain.sources.schemas import MAX_BATCH_RECORDS
from tests.sources.conftest import ID_NUMBER, PROFILE
from tests.world import vin_for

Clients = Callable[[str], TestClient]
DEALER_SIDE = ("region_east", "group_g1", "sm_a1", "sc_a1", "sa_a1")
BATCH = [
    {
        "客户编号": "W1",
        "客户姓名": "張偉",
        "手机": "13800138000",
        "证件号码": ID_NUMBER,
        "联系地址": "杭州市滨江区江南大道100号",
    },
    {"客户编号": "W2", "客户姓名": "坏号码", "手机": "12345"},
    {"客户编号": "W3", "客户姓名": "李娜", "车架号": vin_for(401), "渠道": "小程序"},
]


def _source(client: TestClient, name: str = "dms-hz") -> dict[str, Any]:
    answer = client.post("/api/v1/sources", json={"name": name, "type": "dms", "trust_rank": 80})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _profile(client: TestClient, source_id: str) -> None:
    body = {"mapping": PROFILE, "options": {"date_format": "%Y/%m/%d"}}
    answer = client.put(f"/api/v1/sources/{source_id}/profiles/default", json=body)
    assert answer.status_code == 200, answer.text


def test_hq_registers_a_source_and_its_profile(client_for: Clients) -> None:
    client = client_for("hq_ops")
    source = _source(client)
    assert (source["name"], source["type"], source["trust_rank"]) == ("dms-hz", "dms", 80)
    again = client.post("/api/v1/sources", json={"name": "DMS-HZ", "type": "erp", "trust_rank": 10})
    assert again.status_code == 409
    _profile(client, source["id"])
    detail = client.get(f"/api/v1/sources/{source['id']}").json()
    assert detail["profiles"] == [
        {
            "name": "default",
            "mapping": PROFILE,
            "options": {"date_format": "%Y/%m/%d", "encoding": None, "sheet": None},
            "updated_at": detail["profiles"][0]["updated_at"],
        }
    ]
    assert [s["name"] for s in client.get("/api/v1/sources").json()] == ["dms-hz"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mapping": {"phone": "手机", "mobile": "电话"}}, "mapping"),
        ({"mapping": {"name": "姓名"}}, "mapping"),
        ({"mapping": {"phone": "手机"}, "options": {"date_format": "%Y"}}, "options.date_format"),
        ({"mapping": {"phone": "手机"}, "options": {"encoding": "latin-1"}}, "options.encoding"),
        ({"mapping": {"phone": ""}}, "mapping.phone"),
    ],
)
def test_bad_profiles_answer_422_naming_the_field(
    client_for: Clients, session: Session, body: dict[str, Any], field: str
) -> None:
    client = client_for("hq_admin")
    source = _source(client)
    answer = client.put(f"/api/v1/sources/{source['id']}/profiles/default", json=body)
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert client.get(f"/api/v1/sources/{source['id']}").json()["profiles"] == []


def test_a_batch_answers_counts_and_each_problem_by_index(client_for: Clients, session: Session) -> None:
    client = client_for("integration")
    source = _source(client)
    _profile(client, source["id"])
    answer = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    counts = [result[name] for name in ("rows_read", "created", "updated", "unchanged", "rejected")]
    assert counts == [3, 2, 0, 0, 1] and result["via"] == "api" and result["profile"] == "default"
    assert [(e["index"], e["field"]) for e in result["errors"]] == [(1, "phone"), (1, "row")]
    again = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH}).json()
    assert [again[name] for name in ("created", "updated", "unchanged", "rejected")] == [0, 0, 2, 1]
    runs = client.get(f"/api/v1/sources/{source['id']}/imports").json()["items"]
    assert [run["id"] for run in runs] == [again["id"], result["id"]]


def test_without_a_profile_keys_named_like_the_fields_are_the_fields(client_for: Clients) -> None:
    client = client_for("integration")
    source = _source(client, "wecom")
    records = [{"wecom_external_id": "wmXyZ0123456789abcdef", "name": "王先生", "tag": "试驾"}]
    result = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": records}).json()
    assert result["created"] == 1 and result["profile"] is None
    (record,) = client.get(f"/api/v1/sources/{source['id']}/records").json()["items"]
    assert record["normalized"]["salutation"] == "先生" and record["raw"]["tag"] == "试驾"
    missing = client.post(
        f"/api/v1/sources/{source['id']}/records", json={"profile": "crm", "records": records}
    )
    assert missing.status_code == 422 and "no profile 'crm'" in missing.json()["detail"]


def test_lineage_shows_raw_beside_normalised(client_for: Clients) -> None:
    client = client_for("hq_ops")  # may see personal data
    source = _source(client)
    _profile(client, source["id"])
    client.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    page = client.get(f"/api/v1/sources/{source['id']}/records", params={"external_id": "W1"}).json()
    (record,) = page["items"]
    assert record["masked"] is False
    assert record["raw"]["客户姓名"] == "張偉" and record["raw"]["手机"] == "13800138000"
    assert record["raw"]["证件号码"] == "*" * 14 + ID_NUMBER[-4:]
    assert record["normalized"]["name"] == "张伟" and record["normalized"]["phone"] == "+8613800138000"
    assert (
        record["normalized"]["street"] == "江南大道100号"
        and record["normalized"]["id_last4"] == ID_NUMBER[-4:]
    )
    none = client.get(f"/api/v1/sources/{source['id']}/records", params={"external_id": "W9"}).json()
    assert none == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("username", ["hq_admin", "quality", "ceo"])
def test_lineage_is_masked_without_pii_read(client_for: Clients, username: str) -> None:
    writer = client_for("integration")
    source = _source(writer)
    _profile(writer, source["id"])
    writer.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    answer = client_for(username).get(f"/api/v1/sources/{source['id']}/records", params={"external_id": "W1"})
    assert answer.status_code == 200
    (record,) = answer.json()["items"]
    assert record["masked"] is True
    assert record["raw"]["客户姓名"] == "張*" and record["raw"]["手机"] == "*******8000"
    assert record["raw"]["联系地址"] == "杭州市****"
    assert record["normalized"]["name"] == "张*" and record["normalized"]["phone"] == "138****8000"
    assert record["normalized"]["street"] == "****" and "name_key" not in record["normalized"]
    assert record["normalized"]["district"] == "滨江区"


def test_dealer_side_roles_see_no_source(client_for: Clients, session: Session) -> None:
    hq = client_for("hq_admin")
    source = _source(hq)
    _profile(hq, source["id"])
    hq.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    base = f"/api/v1/sources/{source['id']}"
    for username in DEALER_SIDE:
        client = client_for(username)
        assert client.get("/api/v1/sources").status_code == 403, username
        created = client.post(
            "/api/v1/sources", json={"name": f"x-{username}", "type": "crm", "trust_rank": 1}
        )
        assert created.status_code == 403, username
        for method, path, body in (
            ("GET", base, None),
            ("GET", f"{base}/records", None),
            ("GET", f"{base}/imports", None),
            ("PUT", f"{base}/profiles/default", {"mapping": {"phone": "手机"}}),
            ("POST", f"{base}/records", {"records": BATCH}),
        ):
            answer = client.request(method, path, json=body)  # refused at the route's gate, unread
            assert answer.status_code == 403, (username, method, path, answer.status_code)
            missing = client.request(
                method, path.replace(source["id"], "01ZZZZZZZZZZZZZZZZZZZZZZZZ"), json=body
            )
            assert answer.json()["detail"] == missing.json()["detail"]
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 1
    assert session.scalar(select(func.count()).select_from(Source)) == 1


@pytest.mark.parametrize("username", ["ceo", "quality"])
def test_hq_readers_without_sources_manage_may_read_but_not_write(client_for: Clients, username: str) -> None:
    source = _source(client_for("hq_admin"))
    client = client_for(username)
    assert client.get(f"/api/v1/sources/{source['id']}").status_code == 200
    assert client.get(f"/api/v1/sources/{source['id']}/imports").status_code == 200
    assert (
        client.post("/api/v1/sources", json={"name": "erp", "type": "erp", "trust_rank": 50}).status_code
        == 403
    )
    records = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    assert records.status_code == 403
    profile = client.put(f"/api/v1/sources/{source['id']}/profiles/crm", json={"mapping": {"phone": "手机"}})
    assert profile.status_code == 403


def test_batches_are_bounded(client_for: Clients, session: Session) -> None:
    client = client_for("integration")
    source = _source(client)
    too_many = [{"phone": "13800138000"}] * (MAX_BATCH_RECORDS + 1)
    answer = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": too_many})
    assert answer.status_code == 422
    nested = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": [{"phone": ["1"]}]})
    assert nested.status_code == 422
    empty = client.post(f"/api/v1/sources/{source['id']}/records", json={"records": []})
    assert empty.status_code == 422
    assert session.scalar(select(func.count()).select_from(SourceRecord)) == 0
    odd = client.post(
        f"/api/v1/sources/{source['id']}/records",
        json={"records": [{"phone": "13800138000", "备注": "a\x00b"}]},
    )
    assert odd.status_code == 200 and odd.json()["created"] == 1  # kept as sent, on PostgreSQL too


def test_lineage_pages_newest_first(client_for: Clients) -> None:
    client = client_for("integration")
    source = _source(client)
    _profile(client, source["id"])
    client.post(f"/api/v1/sources/{source['id']}/records", json={"records": BATCH})
    first = client.get(f"/api/v1/sources/{source['id']}/records", params={"limit": 1}).json()
    second = client.get(
        f"/api/v1/sources/{source['id']}/records", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [page["items"][0]["external_id"] for page in (first, second)] == ["W3", "W1"]
    assert second["next_cursor"] is None
