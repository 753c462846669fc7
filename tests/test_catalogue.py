"""Stored text (timeline lines, WeCom messages, history notes) is rendered from catalogue keys: every word
of each vocabulary it draws on must be in the zh-CN catalogue, and in English for the console."""

from __future__ import annotations

from enum import StrEnum

import pytest

from drivetrain.cases.models import ApprovalKind
from drivetrain.kit.i18n import LOCALES, catalog
from drivetrain.leads.models import Channel, Stage

VOCABULARIES: list[tuple[type[StrEnum], str]] = [
    (Channel, "channel_lead."),
    (Stage, "stage."),
    (ApprovalKind, "approval_kind."),
]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("vocabulary", "prefix"), VOCABULARIES, ids=[p for _, p in VOCABULARIES])
def test_every_word_of_a_stored_vocabulary_is_in_the_catalogue(
    vocabulary: type[StrEnum], prefix: str, locale: str
) -> None:
    texts = catalog(locale)
    missing = [m.value for m in vocabulary if not texts.get(prefix + m.value)]
    assert not missing, f"{locale}: no {prefix}* for {missing}"
