"""E-mail addresses: one stored spelling (lower-cased, full-width folded), or the reason it is no address.

Checked the way a sender's mail server would refuse it, not the whole of RFC 5322: one "@", a
dot-separated local part of ordinary characters, and a domain of at least two labels ending in a
top-level domain of letters. Quoted local parts and IP-literal domains never come from a customer.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 254  # RFC 5321: what fits in a path
MAX_LOCAL_LENGTH = 64
MAX_LABEL_LENGTH = 63
_LOCAL_CHARS = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def normalize_email(raw: str) -> str:
    """Return ``raw`` trimmed, full-width folded and lower-cased (``Wang.Wei@QQ.com`` ->
    ``wang.wei@qq.com``), an internationalised domain in ASCII, or say exactly what is wrong."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    if not text:
        raise ValueError("e-mail address is empty")
    if any(char.isspace() for char in text):
        raise ValueError("e-mail address must not contain spaces")
    if text.count("@") != 1:
        raise ValueError(f"an e-mail address has one '@', got {text.count('@')}")
    local, domain = text.split("@")
    _check_local(local)
    domain = _ascii_domain(domain)
    _check_domain(domain)
    address = f"{local}@{domain}"
    if len(address) > MAX_LENGTH:
        raise ValueError(f"e-mail address is longer than {MAX_LENGTH} characters")
    return address


def _ascii_domain(domain: str) -> str:
    """Internationalised domains (例子.中国) in their one ASCII spelling (xn--fsqu00a.xn--fiqs8s)."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"domain {domain!r} is not a valid internationalised domain name") from None


def _check_local(local: str) -> None:
    if not local:
        raise ValueError("nothing before the '@'")
    if len(local) > MAX_LOCAL_LENGTH:
        raise ValueError(f"the part before the '@' is longer than {MAX_LOCAL_LENGTH} characters")
    for part in local.split("."):
        if not part:
            raise ValueError("the part before the '@' has a leading, trailing or double dot")
        if not _LOCAL_CHARS.fullmatch(part):
            bad = next(char for char in part if not _LOCAL_CHARS.fullmatch(char))
            raise ValueError(f"unexpected character {bad!r} before the '@'")


def _check_domain(domain: str) -> None:
    if not domain:
        raise ValueError("no domain after the '@'")
    labels = domain.split(".")
    if len(labels) < 2:
        raise ValueError(f"domain {domain!r} has no top-level domain (like .com or .cn)")
    for label in labels:
        if not label:
            raise ValueError(f"domain {domain!r} has an empty label (a leading, trailing or double dot)")
        if len(label) > MAX_LABEL_LENGTH:
            raise ValueError(f"domain label {label[:20]!r}… is longer than {MAX_LABEL_LENGTH} characters")
        if not _LABEL.fullmatch(label):
            raise ValueError(f"domain label {label!r} may hold only letters, digits and inner hyphens")
    if not _TOP_LEVEL.fullmatch(labels[-1]):
        raise ValueError(f"top-level domain {labels[-1]!r} is not one (letters only)")
