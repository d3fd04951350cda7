"""The operator process asks the kernel for batch scheduling (`main.schedule_as_batch`), threads too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.kube.client import KubeClient

from .conftest import StartOperator

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")


def policies(pid: int) -> set[int]:
    """The scheduling policy of every thread of a process."""
    return {os.sched_getscheduler(int(tid)) for tid in os.listdir(Path(f"/proc/{pid}/task"))}


def test_the_operator_and_its_threads_run_as_a_batch_process(
    start_operator: StartOperator, kube: KubeClient
) -> None:
    namespace = "sched-batch"
    kube.create_namespace(namespace)
    running = start_operator(namespace)
    assert running.process is not None
    threads = os.listdir(Path(f"/proc/{running.process.pid}/task"))
    assert len(threads) > 1  # kopf's and the child watch's threads exist by now
    assert policies(running.process.pid) == {os.SCHED_BATCH}


def test_batch_scheduling_can_be_turned_off(start_operator: StartOperator, kube: KubeClient) -> None:
    namespace = "sched-other"
    kube.create_namespace(namespace)
    running = start_operator(namespace, {"ECAP_OPERATOR_SCHED_BATCH": "false"})
    assert running.process is not None
    assert policies(running.process.pid) == {os.SCHED_OTHER}
