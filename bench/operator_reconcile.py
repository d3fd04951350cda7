"""Operator reconciliation throughput against the Kubernetes API emulator.

N ecap.io KafkaTopics are applied at once with the real operator (``ecap operator run``) watching the
namespace; a process plays Strimzi (marks every Strimzi KafkaTopic Ready as soon as it appears). The
clock stops when every ecap.io KafkaTopic reports Ready=True. Side by side, in the same run and on the
same emulator, the same Strimzi topics are created directly through the API client and marked Ready:
the work the operator saves a person. Prints both rates and their ratio (target >= 0.5 at N=200), and
fails if any object is left un-Ready.

The emulator, the operator and the Strimzi player each run in their own process, as an API server, an
operator and Strimzi do: none of them waits for another's interpreter lock. The two paths alternate for
``--rounds`` rounds (a fresh namespace and operator each) and the median ratio is the figure: on a shared
machine one round of either path can be a third slower than the next. Also printed, per path: the CPU
seconds of each process, and the API requests and watch events per object by verb and resource (counted
by the emulator): what to look at when the ratio moves.

    python bench/operator_reconcile.py                 # N=200, 5 rounds
    python bench/operator_reconcile.py -n 50 --rounds 1 --timer-interval 2
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import multiprocessing
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple, cast

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kube.client import KubeClient, wait_for  # noqa: E402
from tests.kube.process import OperatorProcess  # noqa: E402
from tests.kube.server import EmulatorServer, kubeconfig  # noqa: E402
from tests.kube.store import WatchEvent  # noqa: E402

ECAP = "ecap.io/v1alpha1"
STRIMZI = "kafka.strimzi.io/v1beta2"
UPSTREAM = ROOT.parent / "shared" / "upstream-crds" / "kafka.strimzi.io_kafkatopics.yaml"


def play_strimzi(base_url: str, namespace: str) -> None:
    """Strimzi's topic operator, as far as the bench needs it: mark every Strimzi KafkaTopic of a
    namespace Ready as soon as it appears. Runs in its own process until it is terminated; follows a
    watch (cheap for the API) rather than listing every topic over and over."""
    kube = KubeClient(base_url)
    since: str | None = None
    while True:
        for event in kube.watch(
            STRIMZI, "kafkatopics", namespace, resource_version=since, timeout_seconds=60
        ):
            topic = event["object"]
            since = topic["metadata"].get("resourceVersion", since)
            unmarked = not (topic.get("status") or {}).get("conditions")
            if event["type"] in ("ADDED", "MODIFIED") and unmarked:
                mark_ready(kube, topic)


def mark_ready(kube: KubeClient, topic: dict[str, Any]) -> None:
    meta = topic["metadata"]
    kube.patch_status(
        STRIMZI,
        "kafkatopics",
        meta["name"],
        {
            "observedGeneration": meta.get("generation", 1),
            "topicName": topic["spec"].get("topicName", meta["name"]),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T00:00:00Z"}],
        },
        meta["namespace"],
    )


def ecap_topic(index: int) -> dict[str, Any]:
    return {
        "apiVersion": ECAP,
        "kind": "KafkaTopic",
        "metadata": {"name": f"topic-{index:04d}"},
        "spec": {"partitions": 3, "replicas": 1, "retentionMs": 86_400_000},
    }


def strimzi_topic(index: int) -> dict[str, Any]:
    """The Strimzi topic the operator makes of ``ecap_topic(index)``, as a person would write it."""
    name = f"topic-{index:04d}"
    return {
        "apiVersion": STRIMZI,
        "kind": "KafkaTopic",
        "metadata": {
            "name": name,
            "labels": {"strimzi.io/cluster": "bench-kafka", "app.kubernetes.io/managed-by": "bench"},
        },
        "spec": {
            "topicName": name,
            "partitions": 3,
            "replicas": 1,
            "config": {"retention.ms": "86400000", "cleanup.policy": "delete"},
        },
    }


def is_ready(obj: Mapping[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class ReadyTracker:
    """Follows the emulator's store (on its own loop: no HTTP, so the measurement does not load the API
    it measures) and notes the moment the N-th ecap.io KafkaTopic of a namespace reports Ready=True."""

    def __init__(self, server: EmulatorServer, namespace: str, n: int) -> None:
        self.namespace = namespace
        self.n = n
        self.ready: set[str] = set()
        self.done = threading.Event()
        self.finished_at: float | None = None
        rtype = server.emulator.registry.get("ecap.io", "v1alpha1", "kafkatopics")
        assert rtype is not None
        self.storage = rtype.storage_key
        self._unsubscribe = server.call(lambda: server.emulator.store.subscribe(self._seen))
        self._server = server

    def _seen(self, event: WatchEvent) -> None:
        if event.storage != self.storage or event.namespace != self.namespace:
            return
        name = str(event.body["metadata"]["name"])
        if event.type != "DELETED" and is_ready(event.body):
            self.ready.add(name)
        else:
            self.ready.discard(name)
        if len(self.ready) >= self.n and not self.done.is_set():
            self.finished_at = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
            self.done.set()

    def count(self) -> int:
        return self._server.call(lambda: len(self.ready))

    def close(self) -> None:
        self._server.call(self._unsubscribe)


Counts = collections.Counter[tuple[str, str]]


def serve_emulator(conn: Connection) -> None:
    """The emulator process: serves the API over HTTP from its own thread and answers the bench's
    questions on ``conn`` (what it served, which watches are open, when N objects were Ready)."""
    with EmulatorServer() as server:
        conn.send(server.url)
        trackers: dict[str, ReadyTracker] = {}

        def track(namespace: str, n: int) -> None:
            trackers[namespace] = ReadyTracker(server, namespace, n)

        def wait_ready(namespace: str, timeout: float) -> tuple[float | None, int]:
            tracker = trackers.pop(namespace)
            tracker.done.wait(timeout)
            count = tracker.count()
            tracker.close()
            return tracker.finished_at, count

        questions: dict[str, Callable[..., Any]] = {
            "counts": lambda: server.call(lambda: collections.Counter(server.emulator.request_counts)),
            "watching": server.watching,
            "track": track,
            "wait_ready": wait_ready,
        }
        while True:
            question, args = conn.recv()
            if question == "stop":
                return
            try:
                conn.send((True, questions[question](*args)))
            except Exception as err:  # noqa: BLE001 - sent back to the bench, which raises it
                conn.send((False, repr(err)))


class EmulatorProcess:
    """The Kubernetes API emulator in a process of its own, as an API server is: the bench's clients,
    the operator and the Strimzi player all reach it over HTTP; a pipe carries the bench's questions."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=serve_emulator, args=(child,), name="kube-emulator", daemon=True
        )
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        self.process.start()
        if not self._conn.poll(60):
            raise TimeoutError("the emulator process did not start within 60 s")
        self.url = self._conn.recv()
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(("stop", ()))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()

    def ask(self, question: str, *args: Any) -> Any:
        self._conn.send((question, args))
        ok, answer = self._conn.recv()
        if not ok:
            raise RuntimeError(f"emulator process: {question} failed: {answer}")
        return answer

    def counts(self) -> Counts:
        """What the emulator has served so far, by (verb, resource)."""
        return cast(Counts, self.ask("counts"))

    def watching(self, group: str, plural: str, namespace: str) -> int:
        return int(self.ask("watching", group, plural, namespace))

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid


def print_requests(title: str, counts: Counts, n: int) -> None:
    """Requests and watch events per object, by verb and resource (discovery and watches included)."""
    served = {key: count for key, count in counts.items() if count > 0}
    requests = sum(count for (verb, _), count in served.items() if verb != "EVENT")
    events = sum(count for (verb, _), count in served.items() if verb == "EVENT")
    print(f"{title}: {requests / n:.2f} requests and {events / n:.2f} watch events per object")
    for (verb, what), count in sorted(served.items(), key=lambda item: -item[1]):
        if count / n >= 0.05:
            print(f"    {count / n:6.2f}  {verb} {what}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuClock:
    """CPU seconds of several processes (and this one) from the moment it was made."""

    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._start = {name: cpu_seconds(pid) for name, pid in self._pids.items()}
        self._own = time.process_time()

    def read(self) -> dict[str, float]:
        spent = {name: cpu_seconds(pid) - self._start[name] for name, pid in self._pids.items()}
        return {"bench": time.process_time() - self._own, **spent}


class Round(NamedTuple):
    """One run of a path: seconds to the last Ready object, objects Ready, CPU seconds by process."""

    seconds: float
    ready: int
    cpu: dict[str, float]
    applied: float
    """Seconds the N creates took (the operator path: applying them while the operator works)."""


def directly(kube: KubeClient, emulator: EmulatorProcess, n: int, namespace: str) -> Round:
    """The same Strimzi topics, created and marked Ready through the API client, one by one."""
    kube.create_namespace(namespace)
    clock = CpuClock({"emulator": emulator.pid})
    started = time.monotonic()
    for index in range(n):
        mark_ready(kube, kube.create(STRIMZI, "kafkatopics", strimzi_topic(index), namespace))
    elapsed = time.monotonic() - started
    return Round(elapsed, n, clock.read(), elapsed)


def through_operator(
    kube: KubeClient,
    emulator: EmulatorProcess,
    n: int,
    namespace: str,
    timer: float | None,
    deadline: float,
    log: Path,
) -> Round:
    """N ecap.io KafkaTopics created at once for a freshly started operator (watching, with its child
    watch and the Strimzi player ready before the first create); done when the N-th reports Ready."""
    kube.create_namespace(namespace)
    env = {"ECAP_OPERATOR_RETRY_DELAY": "1", "ECAP_OPERATOR_STRIMZI_CLUSTER": "bench-kafka"}
    if timer is not None:
        env |= {"ECAP_OPERATOR_TIMER_INTERVAL": str(timer), "ECAP_OPERATOR_TIMER_INITIAL_DELAY": "0"}
    kubeconfig = log.with_suffix(".kubeconfig")
    kubeconfig.write_text(yaml_kubeconfig(emulator.url))
    command = [sys.executable, "-m", "ecap.cli", "operator", "run", "--standalone", "--namespace", namespace]
    context = multiprocessing.get_context("spawn")
    player = context.Process(target=play_strimzi, args=(emulator.url, namespace), name="strimzi", daemon=True)
    with OperatorProcess(command, kubeconfig, log, env=env, cwd=ROOT) as operator:
        player.start()
        assert operator.process is not None and player.pid is not None
        # The operator's watch of the ecap.io kinds, its child watch and the player's watch of Strimzi topics.
        wait_for(
            lambda: (
                emulator.watching("ecap.io", "kafkatopics", namespace) >= 1
                and emulator.watching("kafka.strimzi.io", "kafkatopics", namespace) >= 2
            ),
            120,
            f"the operator and the Strimzi player watching {namespace}",
        )
        emulator.ask("track", namespace, n)
        clock = CpuClock({"operator": operator.process.pid, "emulator": emulator.pid, "strimzi": player.pid})
        started = time.monotonic()
        for index in range(n):
            kube.create(ECAP, "kafkatopics", ecap_topic(index), namespace)
        applied = time.monotonic() - started
        finished_at, ready = emulator.ask("wait_ready", namespace, deadline)
        elapsed = (finished_at or time.monotonic()) - started
        cpu = clock.read()
        player.terminate()
        player.join(5)
        problems = operator.problems()
    if problems:
        print(f"operator problems ({len(problems)}):", *problems[:5], sep="\n  ")
    return Round(elapsed, ready, cpu, applied)


def yaml_kubeconfig(url: str) -> str:
    return yaml.safe_dump(kubeconfig(url), sort_keys=False)


def mean_cpu(rounds: list[Round]) -> str:
    names = rounds[0].cpu.keys()
    return ", ".join(f"{name} {statistics.fmean(r.cpu[name] for r in rounds):.2f} s" for name in names)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200, help="custom resources applied at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each path, alternating")
    parser.add_argument(
        "--timer-interval",
        type=float,
        default=None,
        help="ECAP_OPERATOR_TIMER_INTERVAL (default: the operator's own): seconds between the operator's "
        "resyncs (drift repair of every object; Ready itself follows the Strimzi topic's watch event)",
    )
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds before giving up")
    parser.add_argument("--log", type=Path, default=Path("/tmp/ecap-bench-operator.log"))
    args = parser.parse_args()
    if not UPSTREAM.exists():
        print(f"missing {UPSTREAM}: the Strimzi CRD is needed to validate children", file=sys.stderr)
        return 2
    args.log.unlink(missing_ok=True)
    direct: list[Round] = []
    operated: list[Round] = []
    counts = {"direct": Counts(), "operator": Counts()}
    with EmulatorProcess() as emulator:
        kube = KubeClient(emulator.url)
        kube.register_crds([*sorted((ROOT / "crds").glob("*.yaml")), UPSTREAM])
        for number in range(args.rounds):
            before = emulator.counts()
            direct.append(directly(kube, emulator, args.n, f"bench-direct-{number}"))
            middle = emulator.counts()
            operated.append(
                through_operator(
                    kube,
                    emulator,
                    args.n,
                    f"bench-operator-{number}",
                    args.timer_interval,
                    args.deadline,
                    args.log,
                )
            )
            after = emulator.counts()
            counts["direct"] += middle - before
            counts["operator"] += after - middle
            mine, theirs = direct[-1], operated[-1]
            print(
                f"round {number + 1}: direct {mine.seconds:.3f} s, operator {theirs.seconds:.3f} s "
                f"({theirs.ready}/{args.n} Ready; applied in {theirs.applied:.3f} s), "
                f"ratio {mine.seconds / theirs.seconds:.3f}"
            )
    ratios = [d.seconds / o.seconds for d, o in zip(direct, operated, strict=True)]
    operator_s = statistics.median(r.seconds for r in operated)
    direct_s = statistics.median(r.seconds for r in direct)
    print(f"N={args.n}  rounds {args.rounds}  resync interval {args.timer_interval or 'operator default'}")
    print(f"operator: {operator_s:8.3f} s  {args.n / operator_s:8.2f} objects/s to Ready (median round)")
    print(
        f"direct:   {direct_s:8.3f} s  {args.n / direct_s:8.2f} objects/s (created + marked Ready, serially)"
    )
    print(
        f"ratio operator/direct: {statistics.median(ratios):.3f} median of {len(ratios)} rounds "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}; target >= 0.5)"
    )
    print(f"CPU per round: direct: {mean_cpu(direct)}; through the operator: {mean_cpu(operated)}")
    objects = args.n * args.rounds
    print_requests("direct", counts["direct"], objects)
    print_requests("through the operator (bench + Strimzi player + operator)", counts["operator"], objects)
    unready = [r for r in operated if r.ready != args.n]
    if unready:
        print(
            f"FAIL: objects left un-Ready after {args.deadline} s in {len(unready)} rounds", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
