"""POST /api/v1/classify: what a channel integration gets back, and what it may not send."""

from __future__ import annotations

import pytest


def test_a_safety_complaint_comes_back_critical_with_its_component(client_for) -> None:
    answer = client_for("integration").post("/api/v1/classify", json={"text": "高速上剎車失靈，差點出事！"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["category"] == "brakes" and body["severity"] == "critical" and body["sentiment"] == -1
    assert body["text"].startswith("高速上刹车失灵")  # Traditional characters normalised


@pytest.mark.parametrize(
    ("body", "field"),
    [({"text": "   "}, "text"), ({"text": "x" * 5001}, "text"), ({"text": "a\x00b"}, "text"), ({}, "text")],
)
def test_bad_input_is_refused_naming_the_field(client_for, body: dict[str, str], field: str) -> None:
    answer = client_for("sc_a1").post("/api/v1/classify", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(error["field"] == field for error in answer.json()["errors"])


def test_classifying_needs_a_signed_in_caller(client_for) -> None:
    client = client_for("sc_a1")
    del client.headers["Authorization"]
    assert client.post("/api/v1/classify", json={"text": "车机老是死机"}).status_code == 401
