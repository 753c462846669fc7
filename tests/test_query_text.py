"""Text in query parameters refuses control characters with a 422 naming the parameter, on every
database: PostgreSQL refuses NUL in text outright, so an unchecked one was a 500 there (the API fuzz
test found ``GET /api/v1/dealers?cursor=%00``)."""

from __future__ import annotations

import pytest

from tests.world import World


@pytest.mark.parametrize(
    ("username", "path", "parameter", "others"),
    [
        ("hq_ops", "/api/v1/dealers", "cursor", {}),
        ("hq_ops", "/api/v1/customers", "q", {}),
        ("hq_ops", "/api/v1/customers/{customer}/timeline", "kind", {}),
        ("hq_ops", "/api/v1/customers/{customer}/timeline", "group", {}),
        ("quality", "/api/v1/quality/clusters/vehicles", "component", {"series": "锐界"}),
    ],
)
def test_a_nul_in_a_query_parameter_is_a_422_naming_it(
    client_for, world: World, username: str, path: str, parameter: str, others: dict[str, str]
) -> None:
    url = path.format(customer=world.customers["cust_a1"])
    answer = client_for(username).get(url, params={**others, parameter: "a\x00b"})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] in (parameter, f"{parameter}.0")  # a list names the item
