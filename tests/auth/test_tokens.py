"""Listing and revoking API tokens: your own always; those of the staff you manage; nobody else's."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from drivetrain.auth import service as auth_service
from drivetrain.auth.models import ApiToken, AuditEntry
from drivetrain.auth.subject import SYSTEM
from drivetrain.cli import app as cli
from tests.world import STAFF, World

A1_STAFF = {"sm_a1", "sc_a1", "sc_a1b", "sa_a1"}
MANAGED = {
    # Who manages staff (STAFF_MANAGE), and whose tokens that lets them see, written by hand.
    "hq_admin": set(STAFF),
    "group_g1": {"group_g1", *A1_STAFF, "sm_a2"},
    "sm_a1": A1_STAFF,
    "sm_a2": {"sm_a2"},
    "sm_b1": {"sm_b1", "sc_b1"},
}


def _token_of_everyone(session: Session, world: World) -> dict[str, str]:
    """One token per staff account, named after it; returns username → token id."""
    ids = {}
    for username in STAFF:
        _, token = auth_service.create_token(
            session, SYSTEM, user=world.users[username], name=f"for-{username}"
        )
        ids[username] = token.id
    session.commit()
    return ids


def _listed(client: TestClient, **params: object) -> list[dict[str, object]]:
    answer = client.get("/api/v1/tokens", params={"limit": 200, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_each_subject_lists_its_own_tokens_and_those_of_the_staff_it_manages(
    client_for, session: Session, world: World
) -> None:
    tokens = _token_of_everyone(session, world)
    for subject in STAFF:
        listed = _listed(client_for(subject))
        seen = {item["username"] for item in listed if str(item["name"]).startswith("for-")}
        assert seen == MANAGED.get(subject, {subject}), subject
        assert all("token_hash" not in item and len(str(item["prefix"])) == 10 for item in listed)
        client = client_for(subject)
        for owner, token_id in tokens.items():
            if owner not in MANAGED.get(subject, {subject}):
                answer = client.delete(f"/api/v1/tokens/{token_id}")
                assert answer.status_code == 404, f"{subject} revoked {owner}'s token"
                assert (
                    answer.json()["detail"]
                    == client.delete("/api/v1/tokens/01ZZZZZZZZZZZZZZZZZZZZZZZZ").json()["detail"]
                )
    session.expire_all()
    assert session.scalar(select(ApiToken).where(ApiToken.revoked_at.is_not(None))) is None


def test_a_store_manager_revokes_a_consultants_token_and_it_stops_working_at_once(
    client_for, app: TestClient, session: Session, world: World
) -> None:
    plain, token = auth_service.create_token(session, SYSTEM, user=world.users["sc_a1"], name="crm-sync")
    session.commit()
    consultant = {"Authorization": f"Bearer {plain}"}
    assert app.get("/api/v1/me", headers=consultant).status_code == 200  # now in the token cache
    manager = client_for("sm_a1")
    assert manager.delete(f"/api/v1/tokens/{token.id}").status_code == 204
    refused = app.get("/api/v1/me", headers=consultant)
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    assert manager.delete(f"/api/v1/tokens/{token.id}").status_code == 204  # again: nothing changes
    revokes = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == token.id, AuditEntry.action == "token.revoke")
    ).all()
    assert len(revokes) == 1 and revokes[0].dealer_id == world.users["sc_a1"].dealer_id
    assert token.id not in {t["id"] for t in _listed(manager, username="sc_a1")}
    revoked = [t for t in _listed(manager, username="sc_a1", include_revoked=True) if t["id"] == token.id]
    assert revoked and revoked[0]["revoked_at"] is not None


def test_a_consultant_may_revoke_only_their_own_token(client_for, session: Session, world: World) -> None:
    tokens = _token_of_everyone(session, world)
    consultant = client_for("sc_a1")
    assert consultant.delete(f"/api/v1/tokens/{tokens['sc_a1b']}").status_code == 404
    assert consultant.delete(f"/api/v1/tokens/{tokens['sc_a1']}").status_code == 204
    session.expire_all()
    assert session.get(ApiToken, tokens["sc_a1"]).revoked_at is not None  # type: ignore[union-attr]
    assert session.get(ApiToken, tokens["sc_a1b"]).revoked_at is None  # type: ignore[union-attr]


def test_cli_lists_and_revokes_tokens(app: TestClient, world: World) -> None:
    runner = CliRunner()
    issued = runner.invoke(cli, ["token", "create", "--username", "integration", "--name", "dms-feed"])
    plain = issued.output.strip().splitlines()[-1]
    assert app.get("/api/v1/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    listed = runner.invoke(cli, ["token", "list", "--username", "integration"])
    assert listed.exit_code == 0 and "dms-feed" in listed.output and plain[:10] in listed.output
    token_id = next(line.split("\t")[0] for line in listed.output.splitlines() if "dms-feed" in line)
    revoked = runner.invoke(cli, ["token", "revoke", token_id])
    assert revoked.exit_code == 0 and f"revoked {token_id}" in revoked.output
    again = runner.invoke(cli, ["token", "revoke", token_id])
    assert again.exit_code == 0 and "already revoked" in again.output
    assert "dms-feed" not in runner.invoke(cli, ["token", "list"]).output
    assert "dms-feed" in runner.invoke(cli, ["token", "list", "--all"]).output
    missing = runner.invoke(cli, ["token", "revoke", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"])
    assert missing.exit_code != 0 and "no token" in missing.output
