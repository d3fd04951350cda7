"""`ecap operator` and `ecap crds` argument handling (the Helm chart calls `ecap operator --liveness=...`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ecap.cli import COMMAND_MODULES, build_parser, command_named


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


def test_operator_command_loads_no_job_engine() -> None:
    """The operator pod runs `ecap operator`: it must not carry Spark, numpy, Kafka or plotting libraries
    (hundreds of MB and seconds of start-up for nothing). Checked in a fresh interpreter."""
    script = (
        "import sys\n"
        "from ecap.cli import build_parser, command_named\n"
        "argv = ['-v', 'operator', 'run', '--standalone']\n"
        "build_parser(command_named(argv)).parse_args(argv)\n"
        "engines = ('pyspark', 'numpy', 'scipy', 'matplotlib', 'pyarrow', 'confluent_kafka', 'deltalake')\n"
        "print(','.join(sorted(name for name in engines if name in sys.modules)))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_every_command_is_listed_when_none_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(command_named(["--help"])).parse_args(["--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in COMMAND_MODULES)
