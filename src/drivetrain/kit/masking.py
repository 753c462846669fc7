"""Masks for personal data shown in lists, logs and exports: enough to recognise a
customer, not enough to identify one."""

from __future__ import annotations

import re

# Shortest prefix ending in a district, county or city marker with more text after it.
_ADMIN_PREFIX = re.compile(r"^.*?[区县市](?=.)", re.DOTALL)
_ADDRESS_FALLBACK_KEEP = 6


def mask_name(name: str) -> str:
    """Keep the first character (the surname): "张三丰" -> "张**"; a one-character name
    is masked entirely, since keeping it would show it all."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_address(address: str) -> str:
    """Keep the address up to the first 区/县/市 followed by more text, else its first
    six characters, and hide the rest: "上海市浦东新区张江路88号" -> "上海市****"."""
    address = address.strip()
    if not address:
        return ""
    match = _ADMIN_PREFIX.match(address)
    kept = match.group(0) if match else address[:_ADDRESS_FALLBACK_KEEP]
    return kept + "****"


def mask_tail(value: str, keep: int = 4) -> str:
    """Show only the last ``keep`` characters; values no longer than that are fully
    masked, since showing them would show everything."""
    if keep < 0:
        raise ValueError(f"keep must not be negative, got {keep}")
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[len(value) - keep :]
