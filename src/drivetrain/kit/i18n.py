"""The zh-CN / English catalogues and who reads which: the console, stored notifications and
timeline text all take their words from here, by key."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import Request

from drivetrain.config import get_settings

CATALOGUE_DIR = Path(__file__).resolve().parents[1] / "locales"
LOCALES = ("zh-CN", "en")
LANG_COOKIE = "dt_lang"


class Translator(Protocol):
    def __call__(self, key: str, **values: Any) -> str: ...


@lru_cache
def catalog(locale: str) -> dict[str, str]:
    """``locales/<locale>.json`` plus each domain's ``locales/<locale>.<domain>.json``."""
    texts: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob(f"{locale}*.json")):
        if path.stem == locale or path.stem.startswith(f"{locale}."):
            texts.update(json.loads(path.read_text(encoding="utf-8")))
    return texts


def locale_of(request: Request) -> str:
    """The language the person chose (a cookie), else the deployment's default."""
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else get_settings().default_locale


def translator(locale: str) -> Translator:
    """``t(key, **values)``: the text in ``locale``, else in zh-CN, else the key itself."""
    texts, fallback = catalog(locale), catalog("zh-CN")

    def t(key: str, **values: Any) -> str:
        text = texts.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
