"""Labels the domains write into stored text (timeline summaries, WeCom messages, history notes) say
what the console says: each map covers its whole vocabulary and matches the Chinese catalogue."""

from __future__ import annotations

from enum import StrEnum

import pytest

from drivetrain.cases.approvals.service import KIND_LABELS_ZH
from drivetrain.cases.models import ApprovalKind
from drivetrain.kit.i18n import catalog

MAPS: list[tuple[dict[StrEnum, str], type[StrEnum], str]] = [
    (dict(KIND_LABELS_ZH), ApprovalKind, "approval_kind."),
]


@pytest.mark.parametrize(("labels", "vocabulary", "prefix"), MAPS, ids=[m[2] for m in MAPS])
def test_stored_labels_match_the_console(
    labels: dict[StrEnum, str], vocabulary: type[StrEnum], prefix: str
) -> None:
    texts = catalog("zh-CN")
    assert set(labels) == set(vocabulary)
    assert {str(k): v for k, v in labels.items()} == {m.value: texts[prefix + m.value] for m in vocabulary}
