"""Labels the domains write into stored text (timeline summaries, WeCom messages, history notes) say
what the console says: each map covers its whole vocabulary and matches the Chinese catalogue."""

from __future__ import annotations

from enum import StrEnum

import pytest

from drivetrain.kit.i18n import catalog
from drivetrain.leads.models import Channel, Stage
from drivetrain.leads.service import CHANNEL_LABELS_ZH, STAGE_LABELS_ZH

MAPS: list[tuple[dict[StrEnum, str], type[StrEnum], str]] = [
    (dict(CHANNEL_LABELS_ZH), Channel, "channel_lead."),
    (dict(STAGE_LABELS_ZH), Stage, "stage."),
]


@pytest.mark.parametrize(("labels", "vocabulary", "prefix"), MAPS, ids=[m[2] for m in MAPS])
def test_stored_labels_match_the_console(
    labels: dict[StrEnum, str], vocabulary: type[StrEnum], prefix: str
) -> None:
    texts = catalog("zh-CN")
    assert set(labels) == set(vocabulary)
    assert {str(k): v for k, v in labels.items()} == {m.value: texts[prefix + m.value] for m in vocabulary}
