"""The packed form the generator emits: the same records as the list form, exact offsets, exact bytes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ecap.generator import GeneratorError, PackedBatch, ShopGenerator, pack_records, pack_text, unpacked
from ecap.generator.encode import rfc3339_ms, uuids
from ecap.generator.packed import pack_pieces

from .conftest import make_spec

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
END = START + timedelta(hours=6)


def _packed(generator: ShopGenerator) -> list[list[PackedBatch]]:
    return list(generator.replay_packed(START, END, 20_000))


def _records(chunks: list[list[PackedBatch]]) -> list[tuple[str, list[bytes], list[bytes], list[int]]]:
    return [
        (b.stream, b.key_list(), b.value_list(), b.timestamps_ms.tolist()) for chunk in chunks for b in chunk
    ]


def test_packed_records_are_the_list_records_and_each_one_is_a_whole_json_object() -> None:
    spec = make_spec()
    packed = _packed(ShopGenerator(spec))
    listed = list(ShopGenerator(spec).replay(START, END, 20_000))
    assert _records(packed) == [
        (b.stream, b.keys, b.values, b.timestamps_ms) for chunk in listed for b in chunk
    ]
    streams = {b.stream for chunk in packed for b in chunk}
    assert streams == {"transactions", "user-events", "product-updates"}
    for batch in (b for chunk in packed for b in chunk):
        values = batch.value_list()
        assert sum(map(len, values)) == len(batch.values)  # nothing between or after the records
        assert all(np.diff(batch.timestamps_ms) >= 0)
        for value, key in zip(values, batch.key_list(), strict=True):
            event = json.loads(value)
            id_field = {"transactions": "customer_id", "user-events": "session_id"}.get(
                batch.stream, "product_id"
            )
            assert event[id_field].encode() == key


def test_the_same_seed_gives_the_same_bytes_and_another_instance_other_bytes() -> None:
    spec = make_spec()
    first, again = _packed(ShopGenerator(spec)), _packed(ShopGenerator(spec))
    assert [b.values for c in first for b in c] == [b.values for c in again for b in c]
    assert _records(first) == _records(again)
    other = _packed(ShopGenerator(spec, instance=2))
    assert [b.values for c in first for b in c] != [b.values for c in other for b in c]


def test_customer_pieces_built_per_window_give_the_bytes_of_the_prebuilt_table() -> None:
    """Populations above customer_piece_table_max build their pieces per window (memory)."""
    spec = make_spec(topics={"userEvents": "user-events"})
    table = ShopGenerator(spec)
    per_window = ShopGenerator(spec)
    per_window.customer_piece_table_max = 0
    per_window._build_user_event_tables()
    assert table._ue_customer_pieces is not None and per_window._ue_customer_pieces is None
    assert _records(_packed(per_window)) == _records(_packed(table))


def test_pack_text_offsets_count_utf8_bytes_and_a_raw_newline_is_refused() -> None:
    values = ['{"city":"Zürich"}', "{}", '{"name":"東京"}']
    batch = pack_text("user-events", [b"a", b"bb", b"c"], values, [3, 2, 1])
    assert batch.value_list() == [v.encode() for v in values]
    assert batch.key_list() == [b"a", b"bb", b"c"] and batch.timestamps_ms.tolist() == [3, 2, 1]
    ascii_batch = pack_text("user-events", [b"k", b"k"], ['{"a":1}', '{"b":22}'], [1, 2])
    assert ascii_batch.value_list() == [b'{"a":1}', b'{"b":22}']
    with pytest.raises(GeneratorError, match="raw newline"):
        pack_text("user-events", [b"k", b"k"], ['{"a":"x\nü"}', "{}"], [1, 2])


def test_pack_records_mixes_bytes_and_text_and_refuses_ragged_input() -> None:
    batch = pack_records("transactions", [b"k1", None], [b"\xffraw", "té"], [5, 6])
    assert batch.value_list() == [b"\xffraw", "té".encode()] and batch.key_list() == [b"k1", b""]
    assert unpacked(batch).values == [b"\xffraw", "té".encode()]
    with pytest.raises(GeneratorError, match="2 keys, 1 values and 2 timestamps differ"):
        pack_records("transactions", [b"a", b"b"], [b"v"], [1, 2])


def test_pack_pieces_refuses_lengths_that_do_not_add_up() -> None:
    pieces = np.empty((2, 2), dtype=object)
    pieces[:] = [[b"{", b"}"], [b"[", b"]"]]
    keys = np.asarray([b"a", b"bc"], dtype=np.bytes_)
    key_lengths = np.asarray([1, 2], dtype=np.int64)
    stamps = np.asarray([1, 2], dtype=np.int64)
    ok = pack_pieces("user-events", pieces, np.asarray([2, 2], dtype=np.int64), keys, key_lengths, stamps)
    assert ok.value_list() == [b"{}", b"[]"] and ok.key_list() == [b"a", b"bc"]
    with pytest.raises(GeneratorError, match="record lengths do not add up"):
        pack_pieces("user-events", pieces, np.asarray([2, 3], dtype=np.int64), keys, key_lengths, stamps)
    with pytest.raises(GeneratorError, match="key lengths do not add up"):
        pack_pieces("user-events", pieces, np.asarray([2, 2], dtype=np.int64), keys, key_lengths + 1, stamps)


def test_timestamps_and_ids_match_the_reference_formatting() -> None:
    rng = np.random.default_rng(3)
    edges = [0, -1, 86_399_999, 86_400_000, -86_400_000, 253_402_300_799_999, 253_402_300_800_000]
    stamps = np.concatenate([rng.integers(-5 * 10**12, 2 * 10**14, 20_000), np.asarray(edges)])
    reference = np.datetime_as_string(stamps.astype("datetime64[ms]"), unit="ms").tolist()
    assert rfc3339_ms(stamps) == [t + "Z" for t in reference]
    ids = uuids(rng, 2000)
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)
    assert len(set(ids)) == len(ids)


def test_key_starts_of_any_range_match_the_whole_array() -> None:
    batch = pack_records("transactions", [b"a", b"bb", b"", b"dddd"], [b"1", b"2", b"3", b"4"], [1, 2, 3, 4])
    assert batch.key_starts.tolist() == [0, 1, 3, 3]
    for lo in range(5):
        for hi in range(lo, 5):
            assert batch.key_starts_between(lo, hi).tolist() == batch.key_starts[lo:hi].tolist()
