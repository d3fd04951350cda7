"""How every ECAP workload reaches Kafka: bootstrap servers, TLS and SASL, and a reachability check.

The producer, the topic applier and the streaming pipeline all build their client settings here, so
a credential or bootstrap rule changes in one place. Where the values come from, first match wins:

- bootstrap servers: ``--bootstrap-servers``, then env ``ECAP_BOOTSTRAP_SERVERS``, then the
  resource's ``spec.kafka.bootstrapServers``, then the embedded broker on ``127.0.0.1:9092``;
- security protocol and SASL mechanism: env ``ECAP_KAFKA_SECURITY_PROTOCOL`` /
  ``ECAP_KAFKA_SASL_MECHANISM``, then ``spec.kafka`` (they name a method, they hold no secret);
- secrets: env ``ECAP_KAFKA_USERNAME`` / ``ECAP_KAFKA_PASSWORD``, then the files ``username``,
  ``password``, ``ca.crt``, ``user.crt``, ``user.key`` in ``$ECAP_KAFKA_SECRET_DIR`` (where the
  operator mounts the Secret named by ``spec.kafka.credentialsSecret``). Never from a spec.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from ecap.broker import DEFAULT_PORT, ENV_BOOTSTRAP, port_is_open
from ecap_operator.api import KafkaConnection

EMBEDDED_BOOTSTRAP: Final = f"127.0.0.1:{DEFAULT_PORT}"
ENV_SECRET_DIR: Final = "ECAP_KAFKA_SECRET_DIR"  # noqa: S105 - an env var name
ENV_SECURITY_PROTOCOL: Final = "ECAP_KAFKA_SECURITY_PROTOCOL"
ENV_SASL_MECHANISM: Final = "ECAP_KAFKA_SASL_MECHANISM"
ENV_USERNAME: Final = "ECAP_KAFKA_USERNAME"
ENV_PASSWORD: Final = "ECAP_KAFKA_PASSWORD"  # noqa: S105 - an env var name

SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class KafkaSetupError(RuntimeError):
    """Kafka cannot be used as configured (unreachable broker, missing credentials, bad topic)."""


class BrokerUnreachableError(KafkaSetupError):
    """No broker answered a metadata request at the bootstrap address."""


@dataclass(frozen=True)
class Bootstrap:
    """The bootstrap servers to use and where that choice came from (for messages and logs)."""

    servers: str
    source: str  # "--bootstrap-servers", "env ECAP_BOOTSTRAP_SERVERS", "spec.kafka", "embedded default"

    @property
    def is_embedded_default(self) -> bool:
        return self.source == "embedded default"


def resolve_bootstrap(
    cli_value: str | None = None,
    connection: KafkaConnection | None = None,
    env: Mapping[str, str] | None = None,
) -> Bootstrap:
    """Pick the bootstrap servers by the precedence in the module docstring."""
    env = os.environ if env is None else env
    if cli_value:
        return Bootstrap(cli_value, "--bootstrap-servers")
    if env.get(ENV_BOOTSTRAP):
        return Bootstrap(env[ENV_BOOTSTRAP], f"env {ENV_BOOTSTRAP}")
    if connection is not None and connection.bootstrap_servers:
        return Bootstrap(connection.bootstrap_servers, "spec.kafka.bootstrapServers")
    return Bootstrap(EMBEDDED_BOOTSTRAP, "embedded default")


def _read_secret(secret_dir: Path | None, name: str) -> str | None:
    if secret_dir is None:
        return None
    path = secret_dir / name
    if not path.is_file():
        return None
    return path.read_text().strip()


def security_config(
    connection: KafkaConnection | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """librdkafka TLS/SASL settings from env and the mounted Secret files; empty for PLAINTEXT."""
    env = os.environ if env is None else env
    protocol = env.get(ENV_SECURITY_PROTOCOL) or (connection.security_protocol if connection else "PLAINTEXT")
    if protocol not in SECURITY_PROTOCOLS:
        raise KafkaSetupError(
            f"{ENV_SECURITY_PROTOCOL}={protocol!r} is not a security protocol; use one of "
            f"{', '.join(SECURITY_PROTOCOLS)}"
        )
    mechanism = env.get(ENV_SASL_MECHANISM) or (connection.sasl_mechanism if connection else None)
    secret_dir = Path(env[ENV_SECRET_DIR]) if env.get(ENV_SECRET_DIR) else None
    if secret_dir is not None and not secret_dir.is_dir():
        raise KafkaSetupError(f"{ENV_SECRET_DIR}={secret_dir} is not a directory")
    config: dict[str, str] = {}
    if protocol == "PLAINTEXT":
        return config
    config["security.protocol"] = protocol
    if protocol in ("SSL", "SASL_SSL"):
        for file_name, key in (
            ("ca.crt", "ssl.ca.location"),
            ("user.crt", "ssl.certificate.location"),
            ("user.key", "ssl.key.location"),
        ):
            if secret_dir is not None and (secret_dir / file_name).is_file():
                config[key] = str(secret_dir / file_name)
        if ("ssl.certificate.location" in config) != ("ssl.key.location" in config):
            raise KafkaSetupError(f"{secret_dir}: user.crt and user.key must be given together (mutual TLS)")
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        mechanism = mechanism or "SCRAM-SHA-512"
        if mechanism not in SASL_MECHANISMS:
            raise KafkaSetupError(
                f"SASL mechanism {mechanism!r} is not supported; use one of {', '.join(SASL_MECHANISMS)}"
            )
        username = env.get(ENV_USERNAME) or _read_secret(secret_dir, "username")
        password = env.get(ENV_PASSWORD) or _read_secret(secret_dir, "password")
        if not username or not password:
            raise KafkaSetupError(
                f"security protocol {protocol} needs a username and password: set {ENV_USERNAME} and "
                f"{ENV_PASSWORD}, or mount the Secret with files 'username' and 'password' and point "
                f"{ENV_SECRET_DIR} at it"
            )
        config["sasl.mechanism"] = mechanism
        config["sasl.username"] = username
        config["sasl.password"] = password
    return config


def client_config(
    bootstrap: Bootstrap | str,
    connection: KafkaConnection | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The settings every ECAP Kafka client starts from: bootstrap servers plus TLS/SASL.

    Producers, consumers and admin clients add their own keys on top; the pipeline's Kafka source
    uses the same function so a credential rule lives in one place.
    """
    servers = bootstrap.servers if isinstance(bootstrap, Bootstrap) else bootstrap
    return {"bootstrap.servers": servers, **security_config(connection, env)}


def check_reachable(
    config: Mapping[str, str], bootstrap: Bootstrap | None = None, timeout: float = 5.0
) -> int:
    """Ask the cluster for its metadata; return the broker count or raise a message that says what to do."""
    if bootstrap is not None and bootstrap.is_embedded_default:
        host, _, port = bootstrap.servers.rpartition(":")
        if not port_is_open(host, int(port)):
            raise BrokerUnreachableError(
                f"nothing listens on {bootstrap.servers}, the embedded default: start one with `ecap broker` "
                "(or pass --bootstrap-servers / set ECAP_BOOTSTRAP_SERVERS)"
            )
    admin = AdminClient(dict(config), logger=logging.getLogger("ecap.kafka.librdkafka"))
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as err:
        servers = config.get("bootstrap.servers", "?")
        hint = (
            " (start one with `ecap broker`)"
            if bootstrap is not None and bootstrap.is_embedded_default
            else ""
        )
        raise BrokerUnreachableError(
            f"no Kafka broker answered at {servers} within {timeout:.0f}s: {err.args[0].str()}{hint}"
        ) from None
    return len(metadata.brokers)
