"""`drivetrain user create` and `drivetrain token create`, as scripts call them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from drivetrain.cli import app as cli
from tests.world import World


def test_user_create_then_token_works_against_the_api(app: TestClient, world: World) -> None:
    runner = CliRunner()
    created = runner.invoke(
        cli,
        [
            "user",
            "create",
            "--username",
            "new_sm",
            "--password",
            "long-enough-1",
            "--role",
            "store_manager",
            "--dealer",
            "A2",
        ],
    )
    assert created.exit_code == 0, created.output
    issued = runner.invoke(cli, ["token", "create", "--username", "new_sm"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    me = app.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "store_manager" and me.json()["scope"] == "dealer"
    listed = app.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).json()["items"]
    assert {c["dealer_code"] for c in listed} == {"A2"}


def test_dealer_role_without_dealer_is_refused(app: TestClient, world: World) -> None:
    result = CliRunner().invoke(
        cli, ["user", "create", "--username", "x1", "--password", "long-enough-1", "--role", "store_manager"]
    )
    assert result.exit_code == 2 and "must belong to a dealer" in result.output


def test_short_password_and_taken_username_are_refused(app: TestClient, world: World) -> None:
    runner = CliRunner()
    short = runner.invoke(
        cli, ["user", "create", "--username", "x2", "--password", "short", "--role", "hq_ops"]
    )
    assert short.exit_code == 2 and "at least 8" in short.output
    taken = runner.invoke(
        cli, ["user", "create", "--username", "sm_a1", "--password", "long-enough-1", "--role", "hq_ops"]
    )
    assert taken.exit_code == 2 and "taken" in taken.output
