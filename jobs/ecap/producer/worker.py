"""Generation beside delivery: the shop generator runs in a child process and ships serialised chunks.

Generating and serialising events and handing them to librdkafka both cost Python CPU time; in one
process they take turns under the GIL. ``GeneratorWorker`` moves the generator into a child process
that writes each chunk, packed into one message (lengths, timestamps and two byte blobs per batch),
to a pipe. The parent unpacks a chunk and delivers it while the child already generates the next one.
The pipe is the bounded queue: a child at most one chunk ahead blocks on its write until the parent
reads, so a slow broker slows generation down instead of filling memory.

The stream is the one the generator yields in-process, chunk for chunk and byte for byte (the same
seed and period give the same events in the same order): the child runs the very same iterator.

Life cycle. The child ignores SIGINT and SIGTERM (a terminal's Ctrl-C reaches the whole process
group; stopping is the parent's decision) and stops on SIGUSR1, which ``close()`` sends. It dies
with the parent (``PR_SET_PDEATHSIG`` on Linux) and exits when the pipe breaks, so it never
outlives its producer. An exception in the child is sent back and raised again by the parent.

Start method: ``fork`` when the calling process runs no other Python thread (the ``ecap produce``
entrypoint, where it starts in milliseconds with the generator code already imported), ``spawn``
otherwise (e.g. inside ``ecap up``, whose other threads could hold locks at the moment of a fork).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from types import FrameType
from typing import TYPE_CHECKING, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ecap.producer.errors import ProducerError
from ecap_operator.api import DataProducerSpec

if TYPE_CHECKING:
    from ecap.producer.runner import RunPlan

log = logging.getLogger(__name__)

CHUNK: Final = b"C"
DONE: Final = b"D"
FAILED: Final = b"E"
STOP_SIGNAL: Final = signal.SIGUSR1
JOIN_TIMEOUT_S: Final = 5.0
_PR_SET_PDEATHSIG: Final = 1
StartMethod = Literal["fork", "spawn"]
_BATCH_HEADER: Final = struct.Struct("<HIQQ")  # stream name length, records, key bytes, value bytes


class BatchLike(Protocol):
    """What is shipped: one stream's records, keys and values already serialised."""

    @property
    def stream(self) -> str: ...
    @property
    def keys(self) -> Sequence[bytes]: ...
    @property
    def values(self) -> Sequence[bytes]: ...
    @property
    def timestamps_ms(self) -> Sequence[int]: ...


@dataclass(frozen=True)
class ShippedBatch:
    """A generator ``EventBatch`` after the trip through the pipe (same fields, same bytes)."""

    stream: str
    keys: list[bytes]
    values: list[bytes]
    timestamps_ms: list[int]


# ------------------------------------------------------------------------------------------ wire format


def pack_chunk(chunk: Sequence[BatchLike]) -> bytes:
    """One message for a chunk: per batch a header, key and value lengths, timestamps, then the bytes."""
    parts: list[bytes] = [CHUNK, struct.pack("<I", len(chunk))]
    for batch in chunk:
        name = batch.stream.encode()
        n = len(batch.values)
        key_blob, value_blob = b"".join(batch.keys), b"".join(batch.values)
        parts += [
            _BATCH_HEADER.pack(len(name), n, len(key_blob), len(value_blob)),
            name,
            np.fromiter(map(len, batch.keys), dtype=np.int32, count=n).tobytes(),
            np.fromiter(map(len, batch.values), dtype=np.int32, count=n).tobytes(),
            np.asarray(batch.timestamps_ms, dtype=np.int64).tobytes(),
            key_blob,
            value_blob,
        ]
    return b"".join(parts)


def unpack_chunk(payload: bytes) -> list[ShippedBatch]:
    """The batches of a ``pack_chunk`` message (a ``CHUNK``-tagged payload)."""
    if payload[:1] != CHUNK:
        raise ProducerError(f"generator worker: unexpected message tag {payload[:1]!r}")
    (count,) = struct.unpack_from("<I", payload, 1)
    pos = 5
    out: list[ShippedBatch] = []
    for _ in range(count):
        name_len, n, key_bytes, value_bytes = _BATCH_HEADER.unpack_from(payload, pos)
        pos += _BATCH_HEADER.size
        stream = payload[pos : pos + name_len].decode()
        pos += name_len
        key_lens = np.frombuffer(payload, dtype=np.int32, count=n, offset=pos)
        pos += 4 * n
        value_lens = np.frombuffer(payload, dtype=np.int32, count=n, offset=pos)
        pos += 4 * n
        timestamps = np.frombuffer(payload, dtype=np.int64, count=n, offset=pos).tolist()
        pos += 8 * n
        keys = _split(payload, pos, key_lens)
        pos += key_bytes
        values = _split(payload, pos, value_lens)
        pos += value_bytes
        out.append(ShippedBatch(stream, keys, values, timestamps))
    if pos != len(payload):
        raise ProducerError(f"generator worker: chunk message has {len(payload) - pos} stray bytes")
    return out


def _split(payload: bytes, start: int, lengths: npt.NDArray[np.int32]) -> list[bytes]:
    if lengths.size == 0:
        return []
    ends = (start + np.cumsum(lengths, dtype=np.int64)).tolist()
    starts = [start, *ends[:-1]]
    return [payload[a:b] for a, b in zip(starts, ends, strict=True)]


# ------------------------------------------------------------------------------------------ the child


def shop_chunks(spec: DataProducerSpec, plan: RunPlan, start_s: float) -> Iterator[Sequence[BatchLike]]:
    """The shop generator's chunks for a plan (in whichever process calls it).

    Realtime windows start at ``start_s`` (epoch seconds); replay covers the plan's whole days (UTC).
    """
    from ecap.generator import ShopGenerator  # late: numpy pools and Faker

    generator = ShopGenerator(spec, instance=plan.instance)
    if plan.mode == "replay":
        if plan.replay_start is None or plan.replay_end is None or plan.events_per_day is None:
            raise ProducerError("a replay plan needs its start, end and events per day")
        start = datetime.combine(plan.replay_start, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(plan.replay_end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return iter(generator.replay(start, end, plan.events_per_day))
    return iter(generator.realtime(plan.rate, now=lambda: start_s))


class _Stopped(BaseException):
    """Raised in the child by the stop signal; ends generation wherever it is."""


_armed = [True]  # the stop signal raises _Stopped once, and only until the final message is sent


def _on_stop(signum: int, frame: FrameType | None) -> None:
    if _armed[0]:
        _armed[0] = False
        raise _Stopped


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this process when its parent dies (no orphan keeps generating)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(0)


def _serve(
    spec: DataProducerSpec,
    plan: RunPlan,
    start_s: float,
    sender: Connection,
    parent_end: Connection,
    parent_pid: int,
) -> None:
    """Child process body: generate, pack, send; then report the end or the error."""
    parent_end.close()  # (fork) our copy of the reading end: without it a dead reader breaks the pipe
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(STOP_SIGNAL, _on_stop)
    _die_with_parent(parent_pid)
    try:
        try:
            for chunk in shop_chunks(spec, plan, start_s):
                sender.send_bytes(pack_chunk(chunk))
            final = DONE
        except Exception as err:  # noqa: BLE001 - not swallowed: sent to the parent, which raises it
            final = FAILED + _pickled(err)
        sender.send_bytes(final)
        _armed[0] = False
    except (_Stopped, BrokenPipeError):
        pass  # the parent stopped reading: nothing more is wanted
    _armed[0] = False
    sender.close()


def _pickled(err: Exception) -> bytes:
    detail = "".join(traceback.format_exception(err))
    err.add_note(f"(raised in the generator worker process)\n{detail}")
    try:
        return pickle.dumps(err)
    except (pickle.PicklingError, TypeError, AttributeError):
        return pickle.dumps(ProducerError(f"generator worker failed: {detail}"))


# ------------------------------------------------------------------------------------------ the parent


def start_method() -> StartMethod:
    """``fork`` when no other Python thread runs here (fast, and safe), else ``spawn``."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"


class GeneratorWorker:
    """The shop generator of one producer in a child process; iterate it for chunks, then ``close()``.

    Example::

        worker = GeneratorWorker(spec, plan, start_s=time.time())
        try:
            for chunk in worker:
                deliver(chunk)
        finally:
            worker.close()
    """

    def __init__(
        self, spec: DataProducerSpec, plan: RunPlan, start_s: float, method: StartMethod | None = None
    ) -> None:
        self.method = method or start_method()
        context = (
            multiprocessing.get_context("fork")
            if self.method == "fork"
            else multiprocessing.get_context("spawn")
        )
        receiver, sender = context.Pipe(duplex=False)
        self._receiver: Connection | None = receiver
        self.process = context.Process(
            target=_serve,
            args=(spec, plan, start_s, sender, receiver, os.getpid()),
            name=f"ecap-generator-{spec.seed}",
            daemon=True,
        )
        self.process.start()
        sender.close()  # only the child writes: its exit is then our end of file
        self.exit_code: int | None = None

    def __iter__(self) -> GeneratorWorker:
        return self

    def __next__(self) -> list[ShippedBatch]:
        if self._receiver is None:
            raise StopIteration
        try:
            payload = self._receiver.recv_bytes()
        except EOFError:
            self.close()
            raise ProducerError(
                f"the generator worker process exited unexpectedly (exit code {self.exit_code})"
            ) from None
        tag = payload[:1]
        if tag == CHUNK:
            return unpack_chunk(payload)
        self.close()
        if tag == DONE:
            raise StopIteration
        if tag == FAILED:
            raise pickle.loads(payload[1:])  # noqa: S301 - written by our own child process
        raise ProducerError(f"generator worker: unexpected message tag {tag!r}")

    def close(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Stop the child (wherever it is) and wait for it; idempotent."""
        if self._receiver is None:
            return
        if self.process.is_alive() and self.process.pid is not None:
            try:
                os.kill(self.process.pid, STOP_SIGNAL)
            except ProcessLookupError:
                pass  # it ended between the check and the signal
        self._receiver.close()
        self._receiver = None
        self.process.join(timeout_s)
        if self.process.is_alive():
            log.warning(
                "generator worker %s did not stop within %.0fs: killing it", self.process.pid, timeout_s
            )
            self.process.kill()
            self.process.join()
        self.exit_code = self.process.exitcode
        self.process.close()
