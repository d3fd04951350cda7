"""Cheap, exact serialisation: ids, RFC 3339 timestamps and money, vectorised with numpy.

JSON is assembled from pre-serialised fragments (a city's ``location`` object, a product's fields)
with ``%`` templates; only the few free-text values (names, descriptions, search queries) go through
``json.dumps``, once, when the pools are built.
"""

from __future__ import annotations

import json
from typing import Final

import numpy as np
import numpy.typing as npt

# Column positions of the 32 hex digits inside the 36-character 8-4-4-4-12 layout.
_UUID_COLUMNS: Final = np.asarray([i for i in range(36) if i not in (8, 13, 18, 23)], dtype=np.intp)


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 UUID strings drawn from ``rng`` (reproducible for a seed)."""
    if n == 0:
        return []
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_COLUMNS] = digits
    text = chars.tobytes().decode("ascii")
    return [text[i : i + 36] for i in range(0, 36 * n, 36)]


def rfc3339_ms(epoch_ms: npt.NDArray[np.int64]) -> list[str]:
    """``2026-11-27T18:03:11.123Z`` for each epoch-millisecond value."""
    return [t + "Z" for t in rfc3339_ms_without_z(epoch_ms)]


def rfc3339_ms_without_z(epoch_ms: npt.NDArray[np.int64]) -> list[str]:
    """``2026-11-27T18:03:11.123`` (the caller's template appends the ``Z``; saves a pass)."""
    if len(epoch_ms) == 0:
        return []
    text = np.datetime_as_string(np.asarray(epoch_ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")
    return list(text.tolist())


def rfc3339_one(epoch_ms: int) -> str:
    return rfc3339_ms(np.asarray([epoch_ms], dtype=np.int64))[0]


def money(cents: int) -> str:
    """A JSON number with exactly two decimals, from integer cents (no binary float on the way)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def json_str(text: str | None) -> str:
    """A JSON string literal (or ``null``), escaped once when a pool is built."""
    return "null" if text is None else json.dumps(text, ensure_ascii=False)
