"""The generator worker process: the same stream as in-process, clean stops, errors raised, no orphans."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ecap.generator import GeneratorError, PackedBatch, ShopGenerator, pack_records, unpacked
from ecap.producer import ProducerError
from ecap.producer.runner import RunPlan
from ecap.producer.worker import (
    READ_AHEAD_CHUNKS,
    FrameReader,
    GeneratorWorker,
    ShippingRing,
    chunk_frames,
    chunk_from_frames,
    shop_chunks,
    unpack_message,
)
from ecap_operator.api.data_producer import DataProducerSpec

SPEC = DataProducerSpec.model_validate(
    {
        "topics": {"transactions": "t", "userEvents": "u", "productUpdates": "p"},
        "seed": 5,
        "customers": 800,
        "products": 120,
    }
)
REPLAY = RunPlan("replay", 10.0, date(2026, 3, 2), date(2026, 3, 2), 6000)
WEDNESDAY_NOON_UTC = 1_772_625_600.0
LIVE = RunPlan("realtime", 20.0)  # a low rate keeps the warm start (simulated open sessions) short


def _records(chunks: object) -> list[list[tuple[str, list[bytes], list[Any], list[int]]]]:
    """Every chunk's batches as plain lists (packed batches unpacked)."""
    return [
        [
            (b.stream, list(b.keys), list(b.values), list(b.timestamps_ms))
            for b in (unpacked(p) if isinstance(p, PackedBatch) else p for p in chunk)
        ]
        for chunk in chunks  # type: ignore[attr-defined]
    ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _through_a_pipe(frames: list[bytes]) -> list[PackedBatch]:
    """Frames written as the worker writes them, read back as the parent reads them."""
    receiver, sender = multiprocessing.Pipe(duplex=False)

    def write() -> None:
        for frame in frames:
            sender.send_bytes(frame)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    reader = FrameReader(receiver.fileno())
    tag, header = unpack_message(reader.read())
    assert tag == "chunk"
    batches = chunk_from_frames(header, reader.read)
    writer.join()
    sender.close()
    with pytest.raises(EOFError):
        reader.read()
    receiver.close()
    return batches


def test_a_chunk_crosses_the_pipe_byte_for_byte() -> None:
    lists = [
        ("user-events", [b"s-1", b"", b"s-\xff"], [b'{"a":1}', b"", "é".encode()], [1, 2, -3]),
        ("transactions", [], [], []),
        ("product-updates", [b"p"], [b"x" * 3_000_000], [2**40]),  # larger than the pipe
    ]
    chunk = [pack_records(*batch) for batch in lists]
    assert _records([_through_a_pipe(chunk_frames(chunk))]) == [lists]


def test_a_message_that_is_not_ours_or_a_short_batch_is_refused() -> None:
    with pytest.raises(ProducerError, match="unexpected message"):
        unpack_message(pickle.dumps(("chunks", [])))
    frames = chunk_frames([pack_records("transactions", [b"k"], [b"value"], [1])])
    frames[1] = b"valu"
    with pytest.raises(ProducerError, match="transactions batch of 1 records arrived with 4/5 value bytes"):
        _through_a_pipe(frames)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_worker_ships_exactly_the_in_process_stream(method: str) -> None:
    expected = _records(shop_chunks(SPEC, REPLAY, 0.0))
    worker = GeneratorWorker(SPEC, REPLAY, 0.0, method=method)  # type: ignore[arg-type]
    try:
        got = _records(worker)
    finally:
        worker.close()
    assert got == expected
    assert sum(len(b[2]) for chunk in got for b in chunk) > 5000
    assert worker.exit_code == 0
    # The shipped records are the very bytes of the generator's public (list) stream.
    generator = ShopGenerator(SPEC)
    start = datetime(2026, 3, 2, tzinfo=UTC)
    assert got == _records(generator.replay(start, start + timedelta(days=1), 6000))


def test_the_ring_applies_back_pressure_until_the_reader_takes_a_chunk() -> None:
    """The writer of a full ring waits (as on a full pipe) and goes on as soon as the oldest chunk is
    taken; what is taken is the chunk that was put, also across the ring's wrap."""
    credits_in, credits_out = multiprocessing.Pipe(duplex=False)
    # Chunks of ~335 and ~700 bytes in 1000: each one goes where the one before the last was (past
    # the wrap), so each waits until the previous one is taken.
    ring = ShippingRing(1_000, credits_in, credits_out)
    sizes = [300, 665] * 4
    chunks = [
        [pack_records("user-events", [b"k%d" % i], [b"%c" % (65 + i) * n], [i])] for i, n in enumerate(sizes)
    ]
    headers: queue.Queue[bytes | None] = queue.Queue()

    def write() -> None:
        for chunk in chunks:
            headers.put(ring.put(chunk))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        taken = []
        for _ in chunks:
            header = headers.get(timeout=5)
            assert header is not None
            time.sleep(0.05)
            assert headers.empty()  # the next chunk waits for the space this one holds
            tag, body = unpack_message(header)
            assert tag == "ring-chunk"
            taken.append(ring.take(body))
        writer.join(5)
        assert _records(taken) == _records(chunks)
        assert ring.put([pack_records("user-events", [b"k"], [b"x" * 2_000], [0])]) is None  # for the pipe
    finally:
        ring.close()


def test_a_small_ring_wraps_waits_and_leaves_big_chunks_to_the_pipe() -> None:
    """Under fork chunks travel through shared memory: with a ring smaller than some chunks and barely
    larger than others, every chunk still arrives byte for byte and in order (wrapping, waiting for
    the reader to free space, and sending the chunks that do not fit through the pipe)."""
    ring_bytes = 30_000  # the live chunks here are ~10-27 kB, the first (warm start) ~65 kB
    expected = _records(itertools.islice(shop_chunks(SPEC, LIVE, WEDNESDAY_NOON_UTC), 40))
    worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC, method="fork", ring_bytes=ring_bytes)
    try:
        got = _records(itertools.islice(worker, 40))
    finally:
        worker.close()
    assert got == expected
    assert worker.exit_code == 0
    sizes = [sum(len(v) for _, _, values, _ in chunk for v in values) for chunk in got]
    assert max(sizes) > ring_bytes and sum(size > ring_bytes // 2 for size in sizes) > 5


def test_close_stops_an_endless_live_stream_cleanly() -> None:
    worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC)
    first = next(worker)
    assert first and all(isinstance(b, PackedBatch) for b in first)
    pid = worker.process.pid
    assert pid is not None and _alive(pid)
    worker.close()
    assert worker.exit_code == 0  # left on the stop signal, not killed
    assert not _alive(pid)
    with pytest.raises(StopIteration):
        next(worker)
    worker.close()  # idempotent


def test_the_child_generates_ahead_of_a_busy_consumer_but_only_a_few_chunks() -> None:
    """While the producer delivers, chunks keep coming out of the pipe (the child does not wait for
    each one to be taken), up to READ_AHEAD_CHUNKS: a stalled delivery bounds the memory used."""
    worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC)
    try:
        next(worker)
        deadline = time.monotonic() + 20
        while worker.chunks_ahead < READ_AHEAD_CHUNKS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.chunks_ahead == READ_AHEAD_CHUNKS
        time.sleep(0.5)
        assert worker.chunks_ahead == READ_AHEAD_CHUNKS and worker.process.is_alive()
        assert all(isinstance(b, PackedBatch) for _ in range(5) for b in next(worker))
    finally:
        worker.close()
    assert worker.exit_code == 0


def test_terminal_signals_do_not_stop_the_worker_only_its_parent_does() -> None:
    """Ctrl-C reaches the whole process group; stopping and flushing is the parent's decision."""
    worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC)
    try:
        next(worker)
        assert worker.process.pid is not None
        os.kill(worker.process.pid, signal.SIGINT)
        os.kill(worker.process.pid, signal.SIGTERM)
        for _ in range(3):
            assert next(worker) is not None
    finally:
        worker.close()
    assert worker.exit_code == 0


def test_a_generator_error_in_the_worker_is_raised_by_the_parent() -> None:
    worker = GeneratorWorker(SPEC, RunPlan("realtime", -5.0), WEDNESDAY_NOON_UTC)
    with pytest.raises(GeneratorError, match="rate must be positive, got -5.0"):
        next(worker)
    assert worker.exit_code == 0


def test_a_worker_that_dies_is_reported_not_taken_for_the_end() -> None:
    worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC)
    next(worker)
    assert worker.process.pid is not None
    os.kill(worker.process.pid, signal.SIGKILL)
    with pytest.raises(ProducerError, match="exited unexpectedly"):
        for _ in range(100):  # what was already in the pipe, then the end of file
            next(worker)


def test_the_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """A producer killed hard (OOM, SIGKILL) leaves no generator process behind."""
    pid_file = tmp_path / "worker.pid"
    script = textwrap.dedent(
        f"""
        import time
        from tests.unit.producer.test_generator_worker import LIVE, SPEC, WEDNESDAY_NOON_UTC
        from ecap.producer.worker import GeneratorWorker

        if __name__ == "__main__":
            worker = GeneratorWorker(SPEC, LIVE, WEDNESDAY_NOON_UTC)
            next(worker)
            open({str(pid_file)!r}, "w").write(str(worker.process.pid))
            time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[3])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None, "the parent process failed before starting its worker"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
