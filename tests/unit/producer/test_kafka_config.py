"""Where bootstrap servers and credentials come from (never from a spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecap.broker import free_port
from ecap.kafka import (
    Bootstrap,
    BrokerUnreachableError,
    KafkaSetupError,
    check_reachable,
    client_config,
    resolve_bootstrap,
    security_config,
)
from ecap.producer.delivery import DeliverySettings, LatencyHistogram, producer_config
from ecap_operator.api import KafkaConnection


def test_bootstrap_precedence_flag_env_spec_default() -> None:
    spec = KafkaConnection(bootstrap_servers="spec:9092")
    env = {"ECAP_BOOTSTRAP_SERVERS": "env:9092"}
    assert resolve_bootstrap("flag:9092", spec, env) == Bootstrap("flag:9092", "--bootstrap-servers")
    assert resolve_bootstrap(None, spec, env).servers == "env:9092"
    assert resolve_bootstrap(None, spec, {}).servers == "spec:9092"
    default = resolve_bootstrap(None, None, {})
    assert (default.servers, default.is_embedded_default) == ("127.0.0.1:9092", True)


def test_plaintext_needs_nothing() -> None:
    assert client_config("b:9092", None, env={}) == {"bootstrap.servers": "b:9092"}


def test_sasl_ssl_reads_the_mounted_secret_files(tmp_path: Path) -> None:
    for name, content in {"username": "shop\n", "password": "s3cret\n", "ca.crt": "CA"}.items():
        (tmp_path / name).write_text(content)
    connection = KafkaConnection(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
    config = security_config(connection, env={"ECAP_KAFKA_SECRET_DIR": str(tmp_path)})
    assert config == {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(tmp_path / "ca.crt"),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "shop",
        "sasl.password": "s3cret",
    }


def test_env_credentials_and_protocol_override_files_and_spec(tmp_path: Path) -> None:
    (tmp_path / "username").write_text("from-file")
    (tmp_path / "password").write_text("from-file")
    env = {
        "ECAP_KAFKA_SECRET_DIR": str(tmp_path),
        "ECAP_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "ECAP_KAFKA_SASL_MECHANISM": "PLAIN",
        "ECAP_KAFKA_USERNAME": "from-env",
        "ECAP_KAFKA_PASSWORD": "pw",
    }
    config = security_config(KafkaConnection(), env=env)
    assert (config["security.protocol"], config["sasl.mechanism"], config["sasl.username"]) == (
        "SASL_PLAINTEXT",
        "PLAIN",
        "from-env",
    )


def test_mutual_tls_uses_the_client_certificate(tmp_path: Path) -> None:
    for name in ("ca.crt", "user.crt", "user.key"):
        (tmp_path / name).write_text("x")
    config = security_config(
        KafkaConnection(security_protocol="SSL"), env={"ECAP_KAFKA_SECRET_DIR": str(tmp_path)}
    )
    assert config["ssl.certificate.location"] == str(tmp_path / "user.crt")
    assert config["ssl.key.location"] == str(tmp_path / "user.key")


@pytest.mark.parametrize(
    ("connection", "env", "message"),
    [
        (KafkaConnection(security_protocol="SASL_SSL"), {}, "needs a username and password"),
        (KafkaConnection(), {"ECAP_KAFKA_SECURITY_PROTOCOL": "TLS"}, "not a security protocol"),
        (KafkaConnection(), {"ECAP_KAFKA_SECRET_DIR": "/nonexistent/ecap"}, "is not a directory"),
    ],
)
def test_unusable_security_settings_say_what_to_do(
    connection: KafkaConnection, env: dict[str, str], message: str
) -> None:
    with pytest.raises(KafkaSetupError, match=message):
        security_config(connection, env=env)


def test_half_a_client_certificate_is_refused(tmp_path: Path) -> None:
    (tmp_path / "user.crt").write_text("x")
    with pytest.raises(KafkaSetupError, match="together"):
        security_config(
            KafkaConnection(security_protocol="SSL"), env={"ECAP_KAFKA_SECRET_DIR": str(tmp_path)}
        )


def test_nothing_on_the_embedded_default_points_at_ecap_broker() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(BrokerUnreachableError, match="start one with `ecap broker`"):
        check_reachable({"bootstrap.servers": address}, Bootstrap(address, "embedded default"))


def test_producer_settings_keep_batches_under_the_smallest_topic_limit() -> None:
    config = producer_config({"bootstrap.servers": "b:1"}, DeliverySettings(), smallest_topic_limit=2048)
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["compression.type"] == "lz4" and config["partitioner"] == "murmur2_random"
    assert config["batch.size"] < 2048
    roomy = producer_config({"bootstrap.servers": "b:1"}, DeliverySettings(), smallest_topic_limit=10_000_000)
    assert roomy["batch.size"] == 1_000_000
    overridden = producer_config({}, DeliverySettings(overrides={"linger.ms": "5"}), 10_000_000)
    assert overridden["linger.ms"] == "5"


def test_latency_histogram_buckets() -> None:
    histogram = LatencyHistogram((0.01, 0.1, 1.0))
    for seconds in (0.005, 0.01, 0.05, 2.0):
        histogram.observe(seconds)
    assert histogram.counts == [2, 1, 0, 1]  # le=0.01 holds 0.005 and 0.01; 2.0 is above every bound
    merged = histogram.merged(histogram)
    assert merged.counts == [4, 2, 0, 2] and merged.total == pytest.approx(2 * 2.065)
