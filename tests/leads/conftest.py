"""Lead tests: the routing directory cache is per test, since every test's data rolls back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivetrain.integrations.wecom.client import FakeWeCom, use_client
from drivetrain.org import directory


@pytest.fixture(autouse=True)
def fresh_directory() -> Iterator[None]:
    directory.invalidate()
    yield
    directory.invalidate()


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom()
    use_client(fake)
    yield fake
    use_client(FakeWeCom())
