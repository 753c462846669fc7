"""Signing in to the console: argon2 passwords, session cookies, CSRF, redirects."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SESSION_COOKIE
from drivetrain.auth.models import AuditEntry, ConsoleSession, User
from tests.world import PASSWORD, World


def _login_token(client: TestClient) -> str:
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _sign_in(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/customers"):
    token = _login_token(client)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token, "next": next_path}
    )


def test_console_pages_redirect_to_login(app: TestClient) -> None:
    answer = app.get("/customers?q=x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/customers%3Fq%3Dx"


def test_login_sets_an_httponly_session_and_the_password_is_argon2(app: TestClient, session: Session) -> None:
    answer = _sign_in(app, "sm_a1")
    assert answer.status_code == 200 and "<h1>客户</h1>" in answer.text
    cookie_header = next(
        h for h in answer.history[0].headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie_header and "SameSite=lax" in cookie_header
    user = session.scalar(select(User).where(User.username == "sm_a1"))
    assert user is not None and user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    stored = session.scalars(select(ConsoleSession.token_hash)).all()
    assert app.cookies[SESSION_COOKIE] not in stored  # only a hash of the cookie is kept


def test_wrong_password_and_unknown_user_look_the_same(app: TestClient) -> None:
    wrong = _sign_in(app, "sm_a1", password="nope-nope-nope")
    unknown = _sign_in(app, "nobody", password="nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text


def test_login_without_its_csrf_token_is_refused(app: TestClient) -> None:
    answer = app.post("/login", data={"username": "sm_a1", "password": PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 400
    assert SESSION_COOKIE not in app.cookies


def test_next_never_leaves_the_site(app: TestClient) -> None:
    answer = _sign_in(app, "sm_a1", next_path="https://evil.example/")
    assert answer.history[0].headers["location"] == "/"


def test_cookie_api_writes_need_the_csrf_header(app: TestClient, world: World) -> None:
    _sign_in(app, "sm_a1")
    body = {"name": "赵敏", "phone": "13912345678"}
    assert app.post("/api/v1/customers", json=body).status_code == 403
    page = app.get("/customers")
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert csrf
    answer = app.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": csrf.group(1)})
    assert answer.status_code == 201, answer.text


def test_logout_ends_the_session(app: TestClient) -> None:
    _sign_in(app, "sm_a1")
    page = app.get("/customers")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    app.post("/logout", data={"csrf_token": csrf.group(1)})
    assert app.get("/customers", follow_redirects=False).status_code == 303


def test_revoked_or_unknown_token_is_401(app: TestClient) -> None:
    answer = app.get("/api/v1/me", headers={"Authorization": "Bearer dt_not-a-real-token"})
    assert answer.status_code == 401 and answer.json()["status"] == 401


def test_login_is_audited(app: TestClient, session: Session) -> None:
    _sign_in(app, "sm_a1")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.login"))
    assert entry is not None and entry.via == "console"
