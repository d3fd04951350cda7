"""Generation beside delivery: the shop generator runs in a child process and ships serialised chunks.

Generating and serialising events and handing them to librdkafka both cost Python CPU time; in one
process they take turns under the GIL. ``GeneratorWorker`` moves the generator into a child process
that writes each chunk to a pipe. A chunk travels packed (``ecap.generator.packed``: per stream one
buffer of values, one of keys and offset arrays) as raw frames behind a small pickled header, so the
hand-over costs a few memory copies per chunk, not an object per record on each side.
With the fork start method the buffers do not go through the pipe at all: the child copies them
into a ring of shared memory mapped before the fork (``ShippingRing``) and sends only the small
header, and the parent copies each buffer out as one ``bytes`` and hands the space back (a credit
on a second pipe). That is one plain memory copy on each side where a pipe costs a copy into the
kernel, one out of it and a syscall per MiB (measured ~0.63 -> ~0.33 CPU-s per 1M events of ~600 B).
A chunk larger than the ring, and every chunk under ``spawn``, travels through the pipe.
The parent delivers a chunk while the child already generates the next ones: a reader thread moves
chunks from the pipe (and ring) into a queue of ``READ_AHEAD_CHUNKS`` (the pipe alone holds less
than a chunk, so without it the child would wait for every chunk to be taken). The queue, the pipe
and the ring are bounded: a child that far ahead blocks on its write (or waits for ring space), so a
slow broker slows generation down instead of filling memory.

The stream is the one the generator yields in-process, chunk for chunk and byte for byte (the same
seed and period give the same events in the same order): the child runs the very same iterator
(``ShopGenerator.replay_packed`` / ``realtime_packed``).

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
import fcntl
import gc
import logging
import mmap
import multiprocessing
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np

from ecap.generator.packed import PackedBatch
from ecap.producer.errors import ProducerError
from ecap_operator.api import DataProducerSpec

if TYPE_CHECKING:
    from ecap.producer.runner import RunPlan

log = logging.getLogger(__name__)

CHUNK: Final = "chunk"
RING_CHUNK: Final = "ring-chunk"
DONE: Final = "done"
FAILED: Final = "failed"
STOP_SIGNAL: Final = signal.SIGUSR1
JOIN_TIMEOUT_S: Final = 5.0
READ_AHEAD_CHUNKS: Final = 3
"""Chunks read from the pipe ahead of delivery (a few MiB each): the child does not wait for us."""
RING_BYTES: Final = 16 << 20
"""Shared memory the child writes chunks into (fork). Replay chunks are ~6-11 MiB at the default volume;
a larger chunk takes the pipe. Not larger: the first write to each page of shared memory costs a fault
(~2-3 us a page), and the reader frees a chunk's space as soon as it copied it out (measured: 16 MiB
~0.33, 64 MiB ~0.45 CPU-s per 1M events shipped, the pipe ~0.63)."""
_PIPE_ENDED: Final = "pipe ended"
_READ_FAILED: Final = "read failed"
_PR_SET_PDEATHSIG: Final = 1
StartMethod = Literal["fork", "spawn"]


# ------------------------------------------------------------------------------------------ wire format
# A message is one frame holding a pickled (tag, body): (CHUNK, [(stream, records, value bytes, key bytes),
# ...]), (RING_CHUNK, (that list, ring offset, ring end)), (DONE, None) or (FAILED, exception). A CHUNK
# header is followed, per batch, by three raw frames: its values, its keys, and its four int64 arrays
# (value starts, value ends, key ends, timestamps). The buffers are never pickled: the child writes each
# straight from its memory to the pipe, the parent reads each into one bytes object (the multiprocessing
# framing: a 4-byte big-endian length first). A RING_CHUNK's buffers lie in the ring, in the same order,
# back to back from the offset; the parent answers with the ring end (8 bytes) once it copied them out.

_FRAME_HEADER: Final = struct.Struct("!i")
_LONG_FRAME_HEADER: Final = struct.Struct("!Q")
PIPE_BYTES: Final = 1 << 20
"""Pipe capacity asked for on Linux (the default is 64 KiB): fewer, larger reads of a chunk."""


def chunk_frames(chunk: Sequence[PackedBatch]) -> list[bytes]:
    """The frames of one chunk: a small pickled header, then three raw buffers per batch."""
    return [_message(CHUNK, _chunk_header(chunk)), *_batch_buffers(chunk)]


def _chunk_header(chunk: Sequence[PackedBatch]) -> list[tuple[str, int, int, int]]:
    """Per batch: (stream, records, value bytes, key bytes), what the reader needs to cut the buffers."""
    return [(b.stream, len(b), len(b.values), len(b.keys)) for b in chunk]


def unpack_message(payload: bytes) -> tuple[str, Any]:
    """(tag, body) of a message from our own worker."""
    message = pickle.loads(payload)  # noqa: S301 - written by our own child process
    tags = (CHUNK, RING_CHUNK, DONE, FAILED)
    if not (isinstance(message, tuple) and len(message) == 2 and message[0] in tags):
        raise ProducerError(f"generator worker: unexpected message {str(message)[:80]!r}")
    return message[0], message[1]


def chunk_from_frames(header: Any, next_frame: Callable[[], bytes]) -> list[PackedBatch]:
    """The batches of a chunk, from its header's body and a reader of the frames that follow it."""
    batches = []
    for stream, records, value_bytes, key_bytes in header:
        values, keys, arrays = next_frame(), next_frame(), next_frame()
        if len(values) != value_bytes or len(keys) != key_bytes or len(arrays) != 4 * 8 * records:
            raise ProducerError(
                f"generator worker: a {stream} batch of {records} records arrived with "
                f"{len(values)}/{value_bytes} value bytes, {len(keys)}/{key_bytes} key bytes and "
                f"{len(arrays)} bytes of offsets"
            )
        starts, ends, key_ends, stamps = np.frombuffer(arrays, dtype=np.int64).reshape(4, records)
        batches.append(PackedBatch(stream, values, starts, ends, keys, key_ends, stamps))
    return batches


def _batch_buffers(chunk: Sequence[PackedBatch]) -> list[bytes]:
    """Per batch: values, keys, its four int64 arrays as bytes (the order of the frames and the ring)."""
    buffers: list[bytes] = []
    for batch in chunk:
        arrays = np.stack([batch.value_starts, batch.value_ends, batch.key_ends, batch.timestamps_ms])
        buffers += [batch.values, batch.keys, arrays.astype(np.int64, copy=False).tobytes()]
    return buffers


class ShippingRing:
    """Chunks handed from the child to the parent through shared memory (made before the fork).

    The child ``put``s a chunk's buffers back to back at the next free place of the ring (wrapping to
    its start when they do not fit before its end) and sends only the header over the pipe; the parent
    ``take``s them out (one copy into a ``bytes`` per buffer) and sends back how far the ring is free
    (a ``credit``). Space is used in order, so the credit is a single position: the end of the last
    chunk taken. The child waits for credits when the ring is full: back-pressure, as a full pipe.
    """

    def __init__(self, size: int, credits_in: Connection, credits_out: Connection) -> None:
        self.size = size
        self.memory = mmap.mmap(-1, size)  # anonymous and shared: the forked child sees the same pages
        self.credits_in = credits_in
        """The child's end: positions up to which the parent has taken the chunks."""
        self.credits_out = credits_out
        self.written = 0
        """(child) Absolute position after the last chunk put (positions only grow; offset = % size)."""
        self.freed = 0
        """(child) Absolute position up to which the parent has taken everything."""

    # -------------------------------------------------------------------------- child side
    def put(self, chunk: Sequence[PackedBatch]) -> bytes | None:
        """Write a chunk into the ring and return its header message; None if it is larger than the ring
        (it goes through the pipe). Waits for the parent to take older chunks when the ring is full;
        BrokenPipeError when the parent is gone."""
        buffers = _batch_buffers(chunk)
        total = sum(len(b) for b in buffers)
        if total > self.size:
            return None
        self._absorb_credits(wait_for=0)
        start = self.written
        if start % self.size and (self.freed == start or start % self.size + total > self.size):
            # Back to the ring's start: when it does not fit before the end, and whenever the parent
            # has taken everything (the pages in use stay few and warm: a first touch costs a fault).
            start += self.size - start % self.size
        end = start + total
        # Free when the parent has taken every older byte that lies where [start, end) goes: those at
        # positions below end - size (all of them, once it has taken everything written).
        self._absorb_credits(wait_for=min(self.written, end - self.size))
        at = start % self.size
        for buffer in buffers:
            self.memory[at : at + len(buffer)] = buffer
            at += len(buffer)
        self.written = end
        return _message(RING_CHUNK, (_chunk_header(chunk), start % self.size, end))

    def _absorb_credits(self, wait_for: int) -> None:
        """Take the credits already sent; block for more until ``freed >= wait_for``."""
        try:
            while self.freed < wait_for or self.credits_in.poll():
                self.freed = max(self.freed, int.from_bytes(self.credits_in.recv_bytes(), "big"))
        except EOFError:
            raise BrokenPipeError("generator worker: the parent closed the ring's credits") from None

    # -------------------------------------------------------------------------- parent side
    def take(self, body: Any) -> list[PackedBatch]:
        """The batches of a RING_CHUNK message, copied out of the ring; then their space is handed back."""
        header, offset, end = body
        sizes = iter([n for _, records, values, keys in header for n in (values, keys, 4 * 8 * records)])
        at = int(offset)

        def next_buffer() -> bytes:
            nonlocal at
            size = next(sizes)
            if at + size > self.size:
                raise ProducerError("generator worker: a chunk beyond the end of the ring")
            at += size
            return self.memory[at - size : at]

        batches = chunk_from_frames(header, next_buffer)
        try:
            self.credits_out.send_bytes(int(end).to_bytes(8, "big"))
        except OSError:
            pass  # the child is gone (broken pipe): the main pipe tells the reader so at its next read
        return batches

    def close(self) -> None:
        self.credits_out.close()
        self.credits_in.close()
        self.memory.close()


class FrameReader:
    """Reads the frames of a pipe (the multiprocessing framing) into one reused buffer, then copies
    each out as one ``bytes``: no allocation per read, no BytesIO, no join of pieces."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def read(self) -> bytes:
        """The next frame; EOFError at the end of the pipe."""
        size = _FRAME_HEADER.unpack(self._read_exact(_FRAME_HEADER.size, at_start=True))[0]
        if size == -1:
            size = _LONG_FRAME_HEADER.unpack(self._read_exact(_LONG_FRAME_HEADER.size))[0]
        return self._read_exact(size)

    def _read_exact(self, size: int, at_start: bool = False) -> bytes:
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        view = memoryview(self._buffer)
        got = 0
        while got < size:
            count = os.readv(self.fd, [view[got:size]])
            if count == 0:
                if at_start and got == 0:
                    raise EOFError
                raise ProducerError("generator worker: the pipe ended in the middle of a message")
            got += count
        return bytes(view[:size])


def _widen_pipe(connection: Connection) -> None:
    """Ask Linux for a larger pipe; the default capacity only costs more, smaller reads."""
    set_pipe_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_pipe_size is None:
        return
    try:
        fcntl.fcntl(connection.fileno(), set_pipe_size, PIPE_BYTES)
    except OSError as err:  # e.g. over /proc/sys/fs/pipe-max-size: the default pipe works, only slower
        log.debug("generator worker: pipe size unchanged (%s)", err)


def _message(tag: str, body: object) -> bytes:
    return pickle.dumps((tag, body), protocol=pickle.HIGHEST_PROTOCOL)


# ------------------------------------------------------------------------------------------ the child


def shop_chunks(spec: DataProducerSpec, plan: RunPlan, start_s: float) -> Iterator[list[PackedBatch]]:
    """The shop generator's packed chunks for a plan (in whichever process calls it).

    Realtime windows start at ``start_s`` (epoch seconds); replay covers the plan's whole days (UTC).
    """
    from ecap.generator import ShopGenerator  # late: numpy pools and Faker

    generator = ShopGenerator(spec, instance=plan.instance)
    if plan.mode == "replay":
        if plan.replay_start is None or plan.replay_end is None or plan.events_per_day is None:
            raise ProducerError("a replay plan needs its start, end and events per day")
        start = datetime.combine(plan.replay_start, datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(plan.replay_end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        return iter(generator.replay_packed(start, end, plan.events_per_day))
    return iter(generator.realtime_packed(plan.rate, now=lambda: start_s))


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
    ring: ShippingRing | None = None,
) -> None:
    """Child process body: generate, pack, send; then report the end or the error."""
    parent_end.close()  # (fork) our copy of the reading end: without it a dead reader breaks the pipe
    if ring is not None:
        ring.credits_out.close()  # the parent's end: its exit must be our end of file
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(STOP_SIGNAL, _on_stop)
    _die_with_parent(parent_pid)
    try:
        try:
            for chunk in shop_chunks(spec, plan, start_s):
                header = None if ring is None else ring.put(chunk)
                for frame in [header] if header is not None else chunk_frames(chunk):
                    sender.send_bytes(frame)
            final = _message(DONE, None)
        except Exception as err:  # noqa: BLE001 - not swallowed: sent to the parent, which raises it
            final = _pickled(err)
        sender.send_bytes(final)
        _disarm()
    except (_Stopped, BrokenPipeError):
        pass  # the parent stopped reading: nothing more is wanted
    _disarm()
    sender.close()


def _disarm() -> None:
    """Ignore the stop signal from now on. A Python handler is not enough: interpreter shutdown
    (the spawn start method's exit path) restores the default action, which a late stop signal would
    turn into death by signal instead of exit code 0."""
    _armed[0] = False
    signal.signal(STOP_SIGNAL, signal.SIG_IGN)


def _pickled(err: Exception) -> bytes:
    detail = "".join(traceback.format_exception(err))
    err.add_note(f"(raised in the generator worker process)\n{detail}")
    try:
        return _message(FAILED, err)
    except (pickle.PicklingError, TypeError, AttributeError):
        return _message(FAILED, ProducerError(f"generator worker failed: {detail}"))


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
        self,
        spec: DataProducerSpec,
        plan: RunPlan,
        start_s: float,
        method: StartMethod | None = None,
        ring_bytes: int = RING_BYTES,
    ) -> None:
        """``ring_bytes``: the shared memory chunks travel through under fork (0: the pipe only)."""
        self.method = method or start_method()
        context = (
            multiprocessing.get_context("fork")
            if self.method == "fork"
            else multiprocessing.get_context("spawn")
        )
        receiver, sender = context.Pipe(duplex=False)
        _widen_pipe(receiver)
        self._receiver: Connection | None = receiver
        self._frames = FrameReader(receiver.fileno())
        self._ring: ShippingRing | None = None
        if self.method == "fork" and ring_bytes > 0:
            credits_in, credits_out = context.Pipe(duplex=False)
            self._ring = ShippingRing(ring_bytes, credits_in, credits_out)
        self.process = context.Process(
            target=_serve,
            args=(spec, plan, start_s, sender, receiver, os.getpid(), self._ring),
            name=f"ecap-generator-{spec.seed}",
            daemon=True,
        )
        if self.method == "fork":
            # The child must never free what it inherited: garbage waiting for the parent's collector
            # (a finished run's Kafka client, in a reference cycle with its delivery callback) would be
            # destroyed in the child, where librdkafka's threads do not exist. Frozen objects are
            # ignored by the child's collector; the parent unfreezes them at once.
            gc.freeze()
            try:
                self.process.start()
            finally:
                gc.unfreeze()
        else:
            self.process.start()
        sender.close()  # only the child writes: its exit is then our end of file
        if self._ring is not None:
            self._ring.credits_in.close()  # only the child reads the credits
        self.exit_code: int | None = None
        self._finished = False
        self._messages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=READ_AHEAD_CHUNKS)
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()

    def __iter__(self) -> GeneratorWorker:
        return self

    @property
    def chunks_ahead(self) -> int:
        """Chunks already read from the child and not yet taken (at most ``READ_AHEAD_CHUNKS``)."""
        return self._messages.qsize()

    def __next__(self) -> list[PackedBatch]:
        if self._receiver is None:
            raise StopIteration
        if self._reader is None:
            # Started at the first chunk, not in __init__: every worker of a file is forked before
            # any thread of ours runs (see start_method).
            self._reader = threading.Thread(
                target=self._read_ahead, name=f"{self.process.name}-reader", daemon=True
            )
            self._reader.start()
        tag, body = self._messages.get()
        if tag == CHUNK:
            return body  # type: ignore[no-any-return]
        if tag == _PIPE_ENDED:
            self.close()
            raise ProducerError(
                f"the generator worker process exited unexpectedly (exit code {self.exit_code})"
            )
        if tag == _READ_FAILED:
            self.close()
            raise body
        self._finished = True  # the child sent its last message and exits by itself
        self.close()
        if tag == FAILED:
            raise body
        raise StopIteration

    def _read_ahead(self) -> None:
        """Reader thread: moves messages from the pipe to the bounded queue, so the child keeps
        generating while this process delivers (the pipe alone holds less than one chunk)."""
        frames = self._frames
        while True:
            item: tuple[str, Any]
            try:
                tag, body = unpack_message(frames.read())
                if tag == CHUNK:
                    item = (CHUNK, chunk_from_frames(body, frames.read))
                elif tag == RING_CHUNK and self._ring is not None:
                    item = (CHUNK, self._ring.take(body))
                elif tag == RING_CHUNK:
                    raise ProducerError("generator worker: a chunk in shared memory, but no ring was made")
                else:
                    item = (tag, body)
            except EOFError:
                item = (_PIPE_ENDED, None)
            except ProducerError as err:
                item = (_READ_FAILED, err)
            while not self._stopping.is_set():
                try:
                    self._messages.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stopping.is_set() or item[0] != CHUNK:
                return

    def close(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        """Stop the child (wherever it is) and wait for it; idempotent."""
        if self._receiver is None:
            return
        if not self._finished and self.process.is_alive() and self.process.pid is not None:
            try:
                os.kill(self.process.pid, STOP_SIGNAL)
            except ProcessLookupError:
                pass  # it ended between the check and the signal
        self._stopping.set()
        if self._reader is None:
            self._receiver.close()  # a child blocked on a full pipe gets a broken pipe at once
        self.process.join(timeout_s)
        if self.process.is_alive():
            log.warning(
                "generator worker %s did not stop within %.0fs: killing it", self.process.pid, timeout_s
            )
            self.process.kill()
            self.process.join()
        if self._reader is not None:
            # The child is gone, so the reader meets the end of the pipe (or the stop flag while the
            # queue is full); only then is the pipe closed under it.
            self._reader.join(timeout_s)
            if self._reader.is_alive():  # another process holds a copy of the writing end
                log.warning("generator worker %s: its pipe stays open after it stopped", self.process.pid)
            else:
                self._receiver.close()
                self._close_ring()
        else:
            self._close_ring()
        self._receiver = None
        self.exit_code = self.process.exitcode
        self.process.close()

    def _close_ring(self) -> None:
        """Once no reader can touch it (the mapping must outlive every take)."""
        if self._ring is not None:
            self._ring.close()
            self._ring = None
