"""A real server in a subprocess on a fresh database holding the test world, and Debian's chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from tests.conftest import world_database
from tests.live import free_port, wait_until_up
from tests.world import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One xdist worker runs every browser test (``--dist loadgroup``), so the session starts one server per
    backend and one chromium, rather than each worker its own (some 20 s of setup each)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.xdist_group("e2e"))


class LiveServer(NamedTuple):
    """Where the server answers, and the database it serves (for the CLI, e.g. to create tokens)."""

    base: str
    database_url: str


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """``drivetrain serve`` on a migrated database with the world in it."""
    with world_database(request.param, prefix="drivetrain-e2e-") as url:
        yield from _serve(url)


def _serve(url: str) -> Iterator[LiveServer]:
    """Run the server as `serve` runs it (worker included); its log goes next to the test run's temp files."""
    port = free_port()
    env = {**os.environ, "DRIVETRAIN_DATABASE_URL": url, "DRIVETRAIN_RUN_WORKER": "true"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "drivetrain.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, process)
            yield LiveServer(base, url)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests: /usr/bin/chromium is missing (apt-get install chromium fonts-wqy-microhei)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _token(server: LiveServer, username: str) -> str:
    """A bearer token from the CLI, run against the server's database like an operator would."""
    done = subprocess.run(
        [sys.executable, "-m", "drivetrain.cli", "token", "create", "--username", username, "--name", "e2e"],
        env={**os.environ, "DRIVETRAIN_DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


def api_client(server: LiveServer, username: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {_token(server, username)}"}
    return httpx.Client(base_url=server.base, headers=headers, timeout=10)


def sign_in(page: Any, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")
