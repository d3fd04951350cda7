"""Operator reconciliation throughput against the Kubernetes API emulator.

N ecap.io KafkaTopics are applied at once with the real operator (``ecap operator run``) watching the
namespace; a thread plays Strimzi (marks every Strimzi KafkaTopic Ready as soon as it appears). The
clock stops when every ecap.io KafkaTopic reports Ready=True. Side by side, in the same run and on the
same emulator, the same Strimzi topics are created directly through the API client and marked Ready:
the work the operator saves a person. Prints both rates and their ratio (target >= 0.5 at N=200), and
fails if any object is left un-Ready. Also prints, per path, the CPU seconds of this process (emulator,
Strimzi player) and of the operator, and the API requests and watch events per object, by verb and
resource (counted by the emulator): what to look at when the ratio moves.

    python bench/operator_reconcile.py                 # N=200
    python bench/operator_reconcile.py -n 50 --timer-interval 2
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kube.client import KubeClient  # noqa: E402
from tests.kube.process import OperatorProcess  # noqa: E402
from tests.kube.server import EmulatorServer  # noqa: E402
from tests.kube.store import WatchEvent  # noqa: E402

ECAP = "ecap.io/v1alpha1"
STRIMZI = "kafka.strimzi.io/v1beta2"
UPSTREAM = ROOT.parent / "shared" / "upstream-crds" / "kafka.strimzi.io_kafkatopics.yaml"


class StrimziPlayer(threading.Thread):
    """Marks every Strimzi KafkaTopic in a namespace Ready (what Strimzi's topic operator reports)."""

    def __init__(self, kube: KubeClient, namespace: str) -> None:
        super().__init__(daemon=True, name=f"strimzi-{namespace}")
        self.kube = KubeClient(kube.base_url)
        self.namespace = namespace
        self.stopping = threading.Event()
        self.cpu_seconds = 0.0

    def run(self) -> None:
        """Follow a watch (cheap for the API) rather than listing every topic over and over."""
        started = time.thread_time()
        try:
            self._follow()
        finally:
            self.cpu_seconds = time.thread_time() - started

    def _follow(self) -> None:
        since: str | None = None
        while not self.stopping.is_set():
            for event in self.kube.watch(
                STRIMZI, "kafkatopics", self.namespace, resource_version=since, timeout_seconds=2
            ):
                topic = event["object"]
                since = topic["metadata"].get("resourceVersion", since)
                unmarked = not (topic.get("status") or {}).get("conditions")
                if event["type"] in ("ADDED", "MODIFIED") and unmarked:
                    mark_ready(self.kube, topic)


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
            self.finished_at = time.monotonic()
            self.done.set()

    def count(self) -> int:
        return self._server.call(lambda: len(self.ready))

    def close(self) -> None:
        self._server.call(self._unsubscribe)


Counts = collections.Counter[tuple[str, str]]


def request_counts(server: EmulatorServer) -> Counts:
    """What the emulator has served so far, by (verb, resource)."""
    return server.call(lambda: collections.Counter(server.emulator.request_counts))


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


class BenchCpu(NamedTuple):
    """CPU seconds of the bench process while the operator worked, and how they split by thread."""

    total: float
    emulator: float
    create_loop: float
    strimzi_player: float


def through_operator(
    kube: KubeClient, server: EmulatorServer, n: int, timer: float | None, deadline: float, log: Path
) -> tuple[float, int, BenchCpu, float]:
    """Seconds until all N are Ready, how many are, and the CPU seconds the bench process (emulator, Strimzi
    player, this loop) and the operator process spent meanwhile."""
    namespace = "bench-operator"
    kube.create_namespace(namespace)
    env = {"ECAP_OPERATOR_RETRY_DELAY": "1", "ECAP_OPERATOR_STRIMZI_CLUSTER": "bench-kafka"}
    if timer is not None:
        env |= {"ECAP_OPERATOR_TIMER_INTERVAL": str(timer), "ECAP_OPERATOR_TIMER_INITIAL_DELAY": "0"}
    kubeconfig = server.write_kubeconfig(log.with_suffix(".kubeconfig"))
    command = [sys.executable, "-m", "ecap.cli", "operator", "run", "--standalone", "--namespace", namespace]
    player = StrimziPlayer(kube, namespace)
    tracker = ReadyTracker(server, namespace, n)
    with OperatorProcess(command, kubeconfig, log, env=env, cwd=ROOT) as operator:
        server.wait_for_watch("ecap.io", "kafkatopics", namespace, timeout=120)
        player.start()
        assert operator.process is not None
        operator_cpu = cpu_seconds(operator.process.pid)
        bench_cpu = time.process_time()
        emulator_cpu = server.call(time.thread_time)
        loop_cpu = time.thread_time()
        started = time.monotonic()
        for index in range(n):
            kube.create(ECAP, "kafkatopics", ecap_topic(index), namespace)
        loop_cpu = time.thread_time() - loop_cpu
        tracker.done.wait(deadline)
        elapsed = (tracker.finished_at or time.monotonic()) - started
        bench_cpu = time.process_time() - bench_cpu
        emulator_cpu = server.call(time.thread_time) - emulator_cpu
        operator_cpu = cpu_seconds(operator.process.pid) - operator_cpu
        ready = tracker.count()
        tracker.close()
        player.stopping.set()
        player.join(5)
        problems = operator.problems()
    if problems:
        print(f"operator problems ({len(problems)}):", *problems[:5], sep="\n  ")
    return elapsed, ready, BenchCpu(bench_cpu, emulator_cpu, loop_cpu, player.cpu_seconds), operator_cpu


def directly(kube: KubeClient, server: EmulatorServer, n: int) -> tuple[float, float, float]:
    """The same Strimzi topics, created and marked Ready through the API client, one by one.
    Returns the seconds, the CPU seconds of the (bench) process and those of its emulator thread."""
    namespace = "bench-direct"
    kube.create_namespace(namespace)
    cpu = time.process_time()
    emulator_cpu = server.call(time.thread_time)
    started = time.monotonic()
    for index in range(n):
        name = f"topic-{index:04d}"
        created = kube.create(
            STRIMZI,
            "kafkatopics",
            {
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
            },
            namespace,
        )
        mark_ready(kube, created)
    elapsed = time.monotonic() - started
    return elapsed, time.process_time() - cpu, server.call(time.thread_time) - emulator_cpu


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=200, help="custom resources applied at once")
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
    with EmulatorServer() as server:
        kube = KubeClient(server.url)
        kube.register_crds([*sorted((ROOT / "crds").glob("*.yaml")), UPSTREAM])
        before = request_counts(server)
        direct_s, direct_cpu, direct_emulator_cpu = directly(kube, server, args.n)
        after_direct = request_counts(server)
        operator_s, ready, bench_cpu, operator_cpu = through_operator(
            kube, server, args.n, args.timer_interval, args.deadline, args.log
        )
        after_operator = request_counts(server)
    operator_rate = args.n / operator_s
    direct_rate = args.n / direct_s
    ratio = operator_rate / direct_rate
    print(f"N={args.n}  resync interval {args.timer_interval or 'operator default'}")
    print(f"operator: {operator_s:8.2f} s  {operator_rate:8.2f} objects/s to Ready ({ready}/{args.n})")
    print(f"direct:   {direct_s:8.2f} s  {direct_rate:8.2f} objects/s (created + marked Ready, serially)")
    print(f"ratio operator/direct: {ratio:.3f}  (target >= 0.5)")
    print(
        f"CPU: direct {direct_cpu:.2f} s; through the operator {bench_cpu.total:.2f} s in the bench process "
        f"(emulator, Strimzi player, polling) + {operator_cpu:.2f} s in the operator"
    )
    # The bench process runs the emulator and both clients on one interpreter lock: when its CPU is close to
    # the operator path's wall time, the bench process, not the operator, sets that time.
    print(
        f"    bench process by thread: direct: emulator {direct_emulator_cpu:.2f} s, API client "
        f"{direct_cpu - direct_emulator_cpu:.2f} s; through the operator: "
        f"emulator {bench_cpu.emulator:.2f} s, create loop {bench_cpu.create_loop:.2f} s, "
        f"Strimzi player {bench_cpu.strimzi_player:.2f} s"
    )
    print_requests("direct", after_direct - before, args.n)
    print_requests(
        "through the operator (bench + Strimzi player + operator)", after_operator - after_direct, args.n
    )
    if ready != args.n:
        print(f"FAIL: {args.n - ready} objects left un-Ready after {args.deadline} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
