"""Walks over JSON-like values (what tool arguments and memory items are made of)."""

from __future__ import annotations

from typing import Any


def strings_in(value: Any) -> list[str]:
    """The string values in ``value``, nested dicts and lists included, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []
