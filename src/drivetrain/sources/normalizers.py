"""One normaliser per target field: a cell's text in, the normalised fields out, or a ValueError saying why.

Built on the kit normalisers, which decide. The fast paths here exist because an import normalises
tens of thousands of rows a second: a value as most exports write it (a VIN or
ID number without spaces, a plate) is checked by one pattern and one C-level checksum and accepted
only when the kit normaliser would accept it unchanged (tests/sources hold them to that);
anything else goes to the kit normaliser, which also says what is wrong. Dates and names repeat
and are cached; addresses are parsed by cpca once per distinct administrative head, in batches.
"""

from __future__ import annotations

import hmac
import operator
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from drivetrain.kit import clock
from drivetrain.kit.address import ParsedAddress, parse_addresses
from drivetrain.kit.email import normalize_email
from drivetrain.kit.idcard import id_hash, last4, normalize_id_number
from drivetrain.kit.names import normalize_name, parse_salutation, pinyin_of, split_surname, t2s_table
from drivetrain.kit.phone import normalize_phone
from drivetrain.kit.plate import PROVINCES, normalize_plate
from drivetrain.kit.vin import normalize_vin, suspicious_confusions

Normalized = dict[str, Any]
MAX_NAME_LENGTH = 60
MAX_ADDRESS_LENGTH = 200
EARLIEST_DATE = date(1900, 1, 1)
LATEST_EXPIRY_YEARS = 30
MAX_AMOUNT = Decimal(100_000_000)
MAX_MILEAGE_KM = 2_000_000
MAX_SERIES_LENGTH = 40
MAX_NOTE_LENGTH = 200
EVENT_KINDS = (
    "purchase",
    "service_visit",
    "insurance_policy",
    "finance_contract",
    "used_car_appraisal",
    "wecom_interaction",
)
"""What a source record can put on a customer's timeline (tags and tiers read these names)."""
_EVENT_ALIASES = {kind: kind for kind in EVENT_KINDS} | {
    "购车": "purchase",
    "新车销售": "purchase",
    "销售": "purchase",
    "保养": "service_visit",
    "维修": "service_visit",
    "维保": "service_visit",
    "售后": "service_visit",
    "保险": "insurance_policy",
    "投保": "insurance_policy",
    "续保": "insurance_policy",
    "金融": "finance_contract",
    "贷款": "finance_contract",
    "分期": "finance_contract",
    "评估": "used_car_appraisal",
    "二手车评估": "used_car_appraisal",
    "置换评估": "used_car_appraisal",
    "企微": "wecom_interaction",
    "企业微信": "wecom_interaction",
    "聊天": "wecom_interaction",
}

_VIN_LOOKALIKES = str.maketrans({"O": "0", "Q": "0", "I": "1"})
# ISO 3779 transliteration times each position's weight (position 9, the check digit, weighs 0).
_VIN_VALUES = dict(
    zip(
        "0123456789ABCDEFGHJKLMNPRSTUVWXYZ",
        [*range(10), *range(1, 9), *range(1, 6), 7, 9, *range(2, 10)],
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_TABLES = tuple({char: value * weight for char, value in _VIN_VALUES.items()} for weight in _VIN_WEIGHTS)
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_DIGIT_OFFSET = ord("0") * sum(_ID_WEIGHTS)  # the weights times the digits' code points overshoot by this
_ID_CHECK_CHARS = "10X98765432"
_PLATE_SEPARATORS = re.compile(r"[\s·•・.\-]+")
_PLATE = re.compile(
    rf"[{PROVINCES}][A-HJ-NP-Z](?:[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9学警挂领港澳]|[DF][A-HJ-NP-Z0-9][0-9]{{4}}|[0-9]{{5}}[DF])"
)
_PLATFORM_ID = re.compile(r"[A-Za-z0-9_-]{10,64}")
_DAY_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
_SPACES = re.compile(r"[\s\u3000]+")
_MONEY_NOISE = re.compile(r"[\s,¥￥]|元|RMB|CNY", re.IGNORECASE)
_DISTANCE_NOISE = re.compile(r"[\s,]|公里|千米|km", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f]")
# Up to the last province/city/district marker near the start: the part cpca has to read.
_ADMIN_HEAD = re.compile(r"^.{0,19}[省市区县旗州盟]")
_ADMIN_CACHE_SIZE = 50_000
_admin_cache: dict[str, ParsedAddress] = {}


@lru_cache(maxsize=1 << 16)
def name(text: str) -> Normalized:
    """Simplified, spaces dropped; a salutation-only name (王先生) keeps surname, title and gender.

    Cached: names repeat. Callers copy the answer (``dict.update``), never change it."""
    if _CONTROL.search(text):
        raise ValueError("name must not contain control characters")
    full = normalize_name(text)
    if len(full) > MAX_NAME_LENGTH:
        raise ValueError(f"name is longer than {MAX_NAME_LENGTH} characters")
    salutation = parse_salutation(full)
    if salutation is not None:
        found: Normalized = {"name": full, "surname": salutation.surname, "salutation": salutation.title}
        if salutation.gender is not None:
            found["gender"] = salutation.gender
        found["surname_key"] = pinyin_of(salutation.surname)
        return found
    surname, _ = split_surname(full)
    return {"name": full, "name_key": pinyin_of(full), "surname": surname, "surname_key": pinyin_of(surname)}


def phone(text: str) -> Normalized:
    """E.164 (the kit's normaliser has its own fast path for mainland mobiles)."""
    return {"phone": normalize_phone(text)}


def email(text: str) -> Normalized:
    return {"email": normalize_email(text)}


def id_number(text: str, key: bytes) -> Normalized:
    """Only the keyed hash and the last four characters: the number itself is never kept."""
    number = text.upper()
    if not (_ID_NUMBER.fullmatch(number) and _id_check_char(number) == number[17] and _born(number[6:14])):
        number = normalize_id_number(text)
    # kit's id_hash, by the one-shot C digest (several times faster than building an hmac object).
    digest = hmac.digest(key, number.encode("ascii"), "sha256").hex() if key else id_hash(number, key)
    return {"id_hash": digest, "id_last4": last4(number)}


def _id_check_char(number: str) -> str:
    total = sum(map(operator.mul, number[:17].encode("ascii"), _ID_WEIGHTS)) - _ID_DIGIT_OFFSET
    return _ID_CHECK_CHARS[total % 11]


@lru_cache(maxsize=1 << 15)
def _born_on(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return None


def _born(yyyymmdd: str) -> bool:
    birth = _born_on(yyyymmdd)
    return birth is not None and birth <= clock.now().date()


def vin(text: str) -> Normalized:
    """Check digit verified. Banned look-alike letters (O/Q for 0, I for 1) are read as the digits only
    when the check digit then agrees; ``vin_corrected`` says so, and the caller reports it."""
    candidate = text.upper()
    if len(candidate) == len(_VIN_TABLES) and _vin_check_digit(candidate) == candidate[8]:
        return {"vin": candidate}
    try:
        return {"vin": normalize_vin(text)}
    except ValueError as error:
        cleaned = "".join(unicodedata.normalize("NFKC", text).split()).upper()
        fixed = cleaned.translate(_VIN_LOOKALIKES)
        if fixed == cleaned:
            raise
        try:
            return {"vin": normalize_vin(fixed), "vin_corrected": True}
        except ValueError:
            raise error from None


def _vin_check_digit(vin: str) -> str | None:
    """The check digit a 17-character VIN calls for; None when a character cannot be in a VIN."""
    try:
        remainder = sum(map(operator.getitem, _VIN_TABLES, vin)) % 11
    except KeyError:
        return None
    return "X" if remainder == 10 else str(remainder)


def vin_correction_note(text: str) -> str:
    """What a corrected VIN had wrong, for the import's problem list."""
    return "; ".join(suspicious_confusions(text))


def plate(text: str) -> Normalized:
    candidate = _PLATE_SEPARATORS.sub("", text).upper()
    return {"plate": candidate if _PLATE.fullmatch(candidate) else normalize_plate(text)}


def wechat_unionid(text: str) -> Normalized:
    return {"wechat_unionid": _platform_id(text, "WeChat unionid")}


def wecom_external_id(text: str) -> Normalized:
    return {"wecom_external_id": _platform_id(text, "WeCom external contact id")}


def _platform_id(text: str, what: str) -> str:
    value = text.strip()
    if not _PLATFORM_ID.fullmatch(value):
        raise ValueError(f"a {what} is 10-64 letters, digits, '_' or '-'")
    return value


def purchase_date(text: str, date_format: str | None) -> Normalized:
    return {"purchase_date": parse_date(text, date_format).isoformat()}


def event_type(text: str) -> Normalized:
    """One of ``EVENT_KINDS``, as named or by the words exports use (保养, 续保, 置换评估 …)."""
    kind = _EVENT_ALIASES.get(text.strip().lower())
    if kind is None:
        raise ValueError(f"not an event type; one of {', '.join(EVENT_KINDS)}")
    return {"event_type": kind}


def event_date(text: str, date_format: str | None) -> Normalized:
    return {"event_date": parse_date(text, date_format).isoformat()}


def expires_on(text: str, date_format: str | None) -> Normalized:
    """A policy or contract runs into the future, so the date may be up to 30 years ahead."""
    day = _read_date(text.strip(), date_format)
    if day is None:
        raise ValueError(_not_a_date(date_format))
    latest = clock.now().date() + timedelta(days=365 * LATEST_EXPIRY_YEARS)
    if not EARLIEST_DATE <= day <= latest:
        raise ValueError(
            f"date {day.isoformat()} is before 1900 or more than {LATEST_EXPIRY_YEARS} years ahead"
        )
    return {"expires_on": day.isoformat()}


def amount(text: str) -> Normalized:
    """Yuan, to the fen: 1280, 1,280.00, ¥1280, 1280元, 12.8万."""
    cleaned = _MONEY_NOISE.sub("", unicodedata.normalize("NFKC", text))
    scale = Decimal(10_000) if cleaned.endswith("万") else Decimal(1)
    try:
        value = Decimal(cleaned.removesuffix("万")) * scale
    except InvalidOperation:
        raise ValueError("not an amount in yuan (like 1280, ¥1,280.00 or 12.8万)") from None
    if not value.is_finite() or not 0 <= value < MAX_AMOUNT:
        raise ValueError("an amount is 0 or more and under 100,000,000 yuan")
    return {"amount": float(round(value, 2))}


def mileage_km(text: str) -> Normalized:
    """Whole kilometres: 12345, 12,345 km, 1.2万公里."""
    cleaned = _DISTANCE_NOISE.sub("", unicodedata.normalize("NFKC", text))
    scale = Decimal(10_000) if cleaned.endswith("万") else Decimal(1)
    try:
        value = Decimal(cleaned.removesuffix("万")) * scale
    except InvalidOperation:
        raise ValueError("not a mileage in km (like 12345 or 1.2万公里)") from None
    if not value.is_finite() or not 0 <= value <= MAX_MILEAGE_KM:
        raise ValueError(f"a mileage is 0 to {MAX_MILEAGE_KM:,} km")
    return {"mileage_km": int(value.to_integral_value())}


def series(text: str) -> Normalized:
    """The car line as the source names it (锐界, Mondeo 蒙迪欧): full-width folded, spaces collapsed."""
    return {"series": _short_text(text, "series", MAX_SERIES_LENGTH)}


def note(text: str) -> Normalized:
    """Free text as written (Chinese punctuation kept), whitespace collapsed."""
    return {"note": _short_text(text, "note", MAX_NOTE_LENGTH, fold=False)}


def _short_text(text: str, what: str, limit: int, *, fold: bool = True) -> str:
    value = _SPACES.sub(" ", unicodedata.normalize("NFKC", text) if fold else text).strip()
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain control characters")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return value


def parse_date(text: str, date_format: str | None) -> date:
    """With the profile's ``date_format`` (strptime) when it has one, else the usual spellings (2024-03-01,
    2024/3/1, 20240301, 2024年3月1日). ISO dates and date-times are always read: spreadsheet dates come so."""
    day = _read_date(text.strip(), date_format)
    if day is None:
        raise ValueError(_not_a_date(date_format))
    if not EARLIEST_DATE <= day <= clock.now().date():
        raise ValueError(f"date {day.isoformat()} is before 1900 or in the future")
    return day


def _not_a_date(date_format: str | None) -> str:
    expected = f"the format {date_format}" if date_format else "YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD"
    return f"not a date in {expected}"


@lru_cache(maxsize=1 << 14)
def _read_date(value: str, date_format: str | None) -> date | None:
    """Cached: an export holds a few thousand distinct days, and strptime is slow."""
    for candidate in (date_format,) if date_format else _DAY_FORMATS:
        try:
            return datetime.strptime(value, candidate).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def clean_address(text: str) -> str:
    """Full-width folded, Simplified characters, no whitespace; an error for what is no address."""
    cleaned = _SPACES.sub("", unicodedata.normalize("NFKC", text)).translate(t2s_table())
    if _CONTROL.search(cleaned):
        raise ValueError("address must not contain control characters")
    if len(cleaned) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"address is longer than {MAX_ADDRESS_LENGTH} characters")
    return cleaned


def addresses(cleaned: Sequence[str]) -> list[Normalized]:
    """Province, city, district, adcode and the street of many cleaned addresses at once.

    cpca reads only each address's administrative head (浙江省杭州市滨江区), once per distinct head;
    the rest is the street. A head cpca cannot place leaves the whole text as the street."""
    heads = [_admin_head(text) for text in cleaned]
    unknown = sorted({head for head in heads if head not in _admin_cache})
    if unknown:
        if len(_admin_cache) + len(unknown) > _ADMIN_CACHE_SIZE:
            _admin_cache.clear()
        _admin_cache.update(zip(unknown, parse_addresses(unknown), strict=True))
    return [
        _address_fields(text, head, _admin_cache[head]) for text, head in zip(cleaned, heads, strict=True)
    ]


def _admin_head(text: str) -> str:
    match = _ADMIN_HEAD.match(text)
    return match[0] if match else text


def _address_fields(text: str, head: str, place: ParsedAddress) -> Normalized:
    if place.adcode is None:
        return {"street": text}
    found: Normalized = {"province": place.province, "city": place.city}
    if place.district is not None:
        found["district"] = place.district
    found["adcode"] = place.adcode
    found["street"] = place.street + text[len(head) :]
    return found
