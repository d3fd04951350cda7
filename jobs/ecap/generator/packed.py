"""Records of one stream as three contiguous buffers: the cheap form to ship between processes.

A ``PackedBatch`` holds every value of a batch back to back in one ``bytes`` object, the keys in
another, and the offsets of each record in ``int64`` arrays (plus the timestamps). Shipping it is a
few memory copies however many records it holds, where a list of a million small objects costs a
million allocations on each side of a pipe. The delivering side slices ``values[start:end]`` right
where it calls ``Producer.produce`` (confluent-kafka takes ``bytes``, not ``memoryview``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .errors import GeneratorError

SEPARATOR: Final = "\n"
"""Joins str values before encoding: a raw newline never occurs inside compact JSON (json escapes it)."""

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class PackedBatch:
    """Serialised records of one stream: record i is ``values[value_starts[i]:value_ends[i]]``, its key
    ``keys[key_starts[i]:key_ends[i]]``, its timestamp ``timestamps_ms[i]`` (epoch ms)."""

    stream: str
    """"transactions" | "user-events" | "product-updates"."""
    values: bytes
    value_starts: Int64Array
    value_ends: Int64Array
    keys: bytes
    key_ends: Int64Array
    timestamps_ms: Int64Array

    def __len__(self) -> int:
        return int(self.value_ends.size)

    @property
    def key_starts(self) -> Int64Array:
        return _starts(self.key_ends)

    def key_starts_between(self, lo: int, hi: int) -> Int64Array:
        """``key_starts[lo:hi]`` without computing the whole array (a live producer sends a batch in
        many small ranges)."""
        starts = np.empty(max(hi - lo, 0), dtype=np.int64)
        if starts.size:
            starts[0] = self.key_ends[lo - 1] if lo > 0 else 0
            starts[1:] = self.key_ends[lo : hi - 1]
        return starts

    def value_list(self) -> list[bytes]:
        """Every value as its own ``bytes`` (tests and in-process consumers; allocates per record)."""
        data = self.values
        return [data[a:b] for a, b in zip(self.value_starts.tolist(), self.value_ends.tolist(), strict=True)]

    def key_list(self) -> list[bytes]:
        data = self.keys
        return [data[a:b] for a, b in zip(self.key_starts.tolist(), self.key_ends.tolist(), strict=True)]


def _starts(ends: Int64Array) -> Int64Array:
    starts = np.zeros(ends.size, dtype=np.int64)
    starts[1:] = ends[:-1]
    return starts


def _packed_keys(keys: Sequence[bytes | None]) -> tuple[bytes, Int64Array]:
    """A missing key packs as an empty one (every generated record has a key)."""
    plain = [k or b"" for k in keys]
    ends = np.cumsum(np.fromiter(map(len, plain), dtype=np.int64, count=len(plain)))
    return b"".join(plain), ends


def pack_text(
    stream: str,
    keys: Sequence[bytes | None],
    values: Sequence[str],
    timestamps_ms: Sequence[int] | Int64Array,
) -> PackedBatch:
    """Pack JSON text values: one join and one UTF-8 encode for the whole batch.

    ASCII text (what the generator emits) has as many bytes as characters, so the offsets come from
    the ``str`` lengths; otherwise the encoded buffer is split at the separators.
    """
    n = len(values)
    joined = SEPARATOR.join(values)
    data = joined.encode()
    if len(data) == len(joined):
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=n)
        ends = np.cumsum(lengths + 1) - 1
    else:
        ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord(SEPARATOR)).astype(np.int64)
        if ends.size != max(n - 1, 0):
            raise GeneratorError(f"{stream}: a value holds a raw newline; JSON values must be compact")
        ends = np.append(ends, len(data)) if n else ends
    starts = np.zeros(n, dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    key_data, key_ends = _packed_keys(keys)
    return PackedBatch(
        stream, data, starts, ends, key_data, key_ends, np.asarray(timestamps_ms, dtype=np.int64)
    )


def pack_records(
    stream: str,
    keys: Sequence[bytes | None],
    values: Sequence[bytes | str],
    timestamps_ms: Sequence[int] | Int64Array,
) -> PackedBatch:
    """Pack records given as lists (bytes or str values, in any mix), e.g. a hand-made test source."""
    if len(keys) != len(values) or len(values) != len(timestamps_ms):
        raise GeneratorError(
            f"{stream}: {len(keys)} keys, {len(values)} values and {len(timestamps_ms)} timestamps differ"
        )
    if all(isinstance(v, str) for v in values):
        return pack_text(stream, keys, values, timestamps_ms)  # type: ignore[arg-type]
    encoded = [v.encode() if isinstance(v, str) else v for v in values]
    ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
    key_data, key_ends = _packed_keys(keys)
    return PackedBatch(
        stream,
        b"".join(encoded),
        _starts(ends),
        ends,
        key_data,
        key_ends,
        np.asarray(timestamps_ms, dtype=np.int64),
    )


def pack_pieces(
    stream: str,
    pieces: npt.NDArray[np.object_],
    lengths: Int64Array,
    keys: npt.NDArray[np.bytes_],
    key_lengths: Int64Array,
    timestamps_ms: Int64Array,
) -> PackedBatch:
    """Pack records given as rows of ``bytes`` pieces (a record's value is its row joined) with their
    byte lengths, and keys in a fixed-width bytes array (no NUL bytes in a key) with theirs: one join
    for the values, no object per record; keys all of the array's width are its very bytes."""
    data = b"".join(pieces.ravel().tolist())
    ends = np.cumsum(lengths, dtype=np.int64)
    key_ends = np.cumsum(key_lengths, dtype=np.int64)
    if key_lengths.size and bool((key_lengths == keys.itemsize).all()):
        key_data = keys.tobytes()
    else:
        key_data = b"".join(keys.tolist())
    if len(data) != (int(ends[-1]) if ends.size else 0):
        raise GeneratorError(f"{stream}: the record lengths do not add up to the packed bytes")
    if len(key_data) != (int(key_ends[-1]) if key_ends.size else 0):
        raise GeneratorError(f"{stream}: the key lengths do not add up to the packed keys")
    return PackedBatch(
        stream, data, ends - lengths, ends, key_data, key_ends, np.asarray(timestamps_ms, dtype=np.int64)
    )
