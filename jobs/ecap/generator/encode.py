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

# Where the 8-4-4-4-12 groups of hex digits go in the 36-character layout, and where they start among
# the 32 digits.
_UUID_GROUPS: Final = ((0, 8), (9, 13), (14, 18), (19, 23), (24, 36))
_HEX_GROUP_STARTS: Final = (0, 8, 12, 16, 20)
# ASCII digits of 0-999, zero-padded: _DIGITS[v, -k:] are the k digits of v < 10**k.
_DIGITS: Final = np.frombuffer(
    "".join(f"{v:03d}" for v in range(1000)).encode("ascii"), dtype=np.uint8
).reshape(1000, 3)


def uuids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random version-4 UUID strings drawn from ``rng`` (reproducible for a seed)."""
    return texts(uuid_chars(rng, n))


def uuid_chars(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """``n`` random version-4 UUIDs as an (n, 36) array of ASCII codes (for byte-level assembly)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    for (to, end), start in zip(_UUID_GROUPS, _HEX_GROUP_STARTS, strict=True):
        chars[:, to:end] = digits[:, start : start + end - to]
    return chars


def texts(chars: npt.NDArray[np.uint8]) -> list[str]:
    """The rows of an (n, width) array of ASCII codes as strings."""
    n, width = chars.shape
    text = np.ascontiguousarray(chars).tobytes().decode("ascii")
    return [text[i : i + width] for i in range(0, width * n, width)]


DAY_MS: Final = 86_400_000


def _clock_table() -> npt.NDArray[np.uint8]:
    """``HH:MM:SS`` of each second of a day, as an (86400, 8) array of ASCII codes (~0.7 MB)."""
    second = np.arange(86_400)
    table = np.full((second.size, 8), ord(":"), dtype=np.uint8)
    table[:, 0:2] = _DIGITS[second // 3600, 1:]
    table[:, 3:5] = _DIGITS[second // 60 % 60, 1:]
    table[:, 6:8] = _DIGITS[second % 60, 1:]
    return table


_CLOCK: Final = _clock_table()
_DATE_WIDTH: Final = 10  # YYYY-MM-DD: years 0000-9999
_DAY_SPAN_BY_RANGE: Final = 4096
"""Values spanning fewer days index a range of dates (no sort); wider spans format the distinct days."""


def rfc3339_ms(epoch_ms: npt.NDArray[np.int64]) -> list[str]:
    """``2026-11-27T18:03:11.123Z`` for each epoch-millisecond value."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    if ms.size == 0:
        return []
    chars = rfc3339_chars(ms)
    if chars is None:  # a year outside 0000-9999
        text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
        return [t + "Z" for t in text.tolist()]
    return texts(np.concatenate([chars, np.full((ms.size, 1), ord("Z"), dtype=np.uint8)], axis=1))


def rfc3339_chars(epoch_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8] | None:
    """``2026-11-27T18:03:11.123`` per value as an (n, 23) array of ASCII codes; None for a year
    outside 0000-9999. The digits come from integer arithmetic; only the few distinct dates are
    formatted as dates, the clock time of the day comes from a table of its seconds."""
    ms = np.asarray(epoch_ms, dtype=np.int64)
    days = ms // DAY_MS
    if ms.size == 0:
        return np.empty((0, 23), dtype=np.uint8)
    first, last = int(days.min()), int(days.max())
    if last - first < _DAY_SPAN_BY_RANGE:
        unique_days, day_index = np.arange(first, last + 1, dtype=np.int64), days - first
    else:
        unique_days, day_index = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(unique_days.astype("datetime64[D]")).tolist()
    if any(len(d) != _DATE_WIDTH for d in dates):
        return None
    chars = np.empty((ms.size, 23), dtype=np.uint8)
    date_rows = np.frombuffer("".join(dates).encode("ascii"), dtype=np.uint8).reshape(-1, _DATE_WIDTH)
    if unique_days.size == 1:
        chars[:, :_DATE_WIDTH] = date_rows[0]
    else:
        chars[:, :_DATE_WIDTH] = date_rows[day_index.reshape(-1)]
    chars[:, 10] = ord("T")
    second_of_day, milli = np.divmod(ms - days * DAY_MS, 1000)
    chars[:, 11:19] = _CLOCK[second_of_day]
    chars[:, 19] = ord(".")
    chars[:, 20:23] = _DIGITS[milli]
    return chars


def json_str(text: str | None) -> str:
    """A JSON string literal (or ``null``), escaped once when a pool is built."""
    return "null" if text is None else json.dumps(text, ensure_ascii=False)


_POWERS_OF_TEN: Final = 10 ** np.arange(19, dtype=np.int64)


def money_column(cents: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bytes_], npt.NDArray[np.int64]]:
    """Each value of integer cents as a JSON number with exactly two decimals (no binary float on the
    way), as a fixed-width bytes array (text left-aligned; numpy drops the NUL padding when it makes
    ``bytes`` objects of it), with each text's length: no Python per value."""
    values = np.asarray(cents, dtype=np.int64)
    n = values.size
    negative = values < 0
    whole, fraction = np.divmod(np.abs(values), 100)
    digit_counts = np.maximum(np.searchsorted(_POWERS_OF_TEN, whole, side="right"), 1).astype(np.int64)
    lead = negative.astype(np.int64)
    most = int(digit_counts.max()) if n else 1
    width = 1 + most + 3
    chars = np.zeros((n, width), dtype=np.uint8)
    rows = np.arange(n)
    chars[negative, 0] = ord("-")
    for position in range(most):
        has = position < digit_counts
        power = _POWERS_OF_TEN[np.maximum(digit_counts - 1 - position, 0)]
        digit = (whole // power) % 10
        chars[rows[has], lead[has] + position] = ord("0") + digit[has]
    point = lead + digit_counts
    chars[rows, point] = ord(".")
    chars[rows, point + 1] = ord("0") + fraction // 10
    chars[rows, point + 2] = ord("0") + fraction % 10
    return chars.view(f"S{width}").ravel(), point + 3
