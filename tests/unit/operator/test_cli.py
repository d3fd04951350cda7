"""`ecap operator` and `ecap crds` argument handling (the Helm chart calls `ecap operator --liveness=...`)."""

from __future__ import annotations

import pytest

from ecap.cli import build_parser


def test_operator_args_as_the_chart_passes_them() -> None:
    args = build_parser().parse_args(
        ["operator", "--liveness=http://0.0.0.0:8080/healthz", "--all-namespaces"]
    )
    assert (args.action, args.all_namespaces, args.namespace) == ("run", True, [])
    assert args.liveness == "http://0.0.0.0:8080/healthz"


def test_operator_run_with_namespaces() -> None:
    args = build_parser().parse_args(
        ["operator", "run", "-n", "shop", "--namespace", "analytics", "--standalone"]
    )
    assert args.namespace == ["shop", "analytics"] and args.standalone and args.peering is None


def test_namespace_and_all_namespaces_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["operator", "-n", "shop", "-A"])
    assert "not allowed with" in capsys.readouterr().err


def test_crds_write_and_check_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["crds", "--write", "--check"])
