"""``ecap produce``: run the DataProducer resources of a file (the producer Deployment's entrypoint)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from ecap.kafka import KafkaSetupError
from ecap.producer import ProducerError, install_signal_handlers, run_producers
from ecap.producer.runner import DEFAULT_FLUSH_TIMEOUT_S, ProduceReport, resolve_metrics_port
from ecap_operator.api import ResourceError, load_resources

log = logging.getLogger("ecap.produce")

EPILOG = """\
Bootstrap servers: --bootstrap-servers, else $ECAP_BOOTSTRAP_SERVERS, else spec.kafka.bootstrapServers,
else the embedded broker on 127.0.0.1:9092 (start it with `ecap broker`). TLS/SASL secrets come from
$ECAP_KAFKA_SECRET_DIR (files username, password, ca.crt, user.crt, user.key) or $ECAP_KAFKA_USERNAME /
$ECAP_KAFKA_PASSWORD, never from the spec.

Every record is accounted for: delivered + dead-lettered (<topic>.dlq) + failed = produced. SIGTERM or
Ctrl-C stops generation and flushes for --flush-timeout seconds (a second one stops at once); what
was not delivered by then is reported as failed. Retried records are at-least-once (duplicates are
possible after timeouts; downstream deduplicates on event_id).

Exit codes: 0 all delivered or dead-lettered, 1 some records failed or Kafka was unreachable, 2 invalid
resources or arguments.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "produce",
        help="generate shop events to Kafka from DataProducer resources",
        description="Run every DataProducer resource in FILE (other kinds are ignored) until done.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-f", "--file", required=True, help="YAML with DataProducer and KafkaTopic resources")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (host:port,...)")
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--events", type=int, help="stop after N events per producer")
    limit.add_argument("--duration", type=float, help="stop after S seconds")
    parser.add_argument("--rate", type=float, help="base events/s overriding spec.rate (realtime mode)")
    parser.add_argument("--seed", type=int, help="random seed overriding spec.seed")
    parser.add_argument(
        "--replay-days",
        type=int,
        help="replay the D days up to spec.backfill.end (default yesterday) as fast as possible",
    )
    parser.add_argument(
        "--replay", action="store_true", help="replay spec.backfill as fast as possible (mode: replay)"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="/metrics, /healthz, /readyz (default $ECAP_METRICS_PORT, then spec.metricsPort)",
    )
    parser.add_argument("--no-metrics", action="store_true", help="do not serve metrics (local runs)")
    parser.add_argument(
        "--flush-timeout",
        type=float,
        default=DEFAULT_FLUSH_TIMEOUT_S,
        help=f"seconds to flush at the end or on a stop signal (default {DEFAULT_FLUSH_TIMEOUT_S:.0f})",
    )
    parser.set_defaults(handler=run)


def _progress(report: ProduceReport) -> None:
    if not report.finished:
        log.info(
            "%d produced, %d delivered, %d dead-lettered, %d failed",
            report.produced,
            report.delivered,
            report.dead_lettered,
            report.failed,
        )


def run(args: argparse.Namespace) -> int:
    from ecap.generator import GeneratorError  # late: numpy and Faker, not needed by `ecap --help`

    try:
        resources = load_resources(args.file)
        port = None if args.no_metrics else resolve_metrics_port(resources, args.metrics_port)
    except (ResourceError, ProducerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        report = run_producers(
            resources,
            args.bootstrap_servers,
            events=args.events,
            duration=args.duration,
            replay=True if args.replay else None,
            replay_days=args.replay_days,
            rate=args.rate,
            seed=args.seed,
            stop_event=stop,
            progress_callback=_progress,
            progress_interval_s=5.0,
            metrics_port=port,
            flush_timeout_s=args.flush_timeout,
        )
    except (ResourceError, ProducerError, GeneratorError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KafkaSetupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        restore()
    print(report.summary())
    if not report.ok:
        print(
            f"error: {report.failed} record(s) failed and {report.unaccounted} are unaccounted; "
            "reasons above and in the log",
            file=sys.stderr,
        )
        return 1
    return 0
