"""Create or update broker topics from ``KafkaTopic`` resources, idempotently (``ecap topics apply``).

In a cluster the operator hands topics to Strimzi; locally (and for ``ecap up``) this module talks to
the broker directly with the same partitions and configs (``KafkaTopicSpec.kafka_configs()``).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported without __all__
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)
from pydantic import BaseModel

from ecap.kafka import KafkaSetupError, client_config, resolve_bootstrap
from ecap_operator.api import KafkaTopicSpec, Resource

log = logging.getLogger(__name__)
ADMIN_TIMEOUT_S: Final = 15.0


class TopicApplyError(KafkaSetupError):
    """A topic cannot be brought to its declared state (e.g. fewer partitions than it has).

    ``changes`` lists what was applied before the failure (empty when nothing was touched).
    """

    def __init__(self, message: str, changes: Sequence[TopicChange] = ()) -> None:
        super().__init__(message)
        self.changes = list(changes)


class Action(enum.StrEnum):
    CREATED = "created"
    ALTERED = "altered"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class DesiredTopic:
    name: str
    partitions: int
    replicas: int
    configs: dict[str, str]
    resource: str  # "KafkaTopic/<name>", for messages


@dataclass(frozen=True)
class ExistingTopic:
    name: str
    partitions: int
    configs: dict[str, str]  # only what the broker reports; defaults may be missing


@dataclass(frozen=True)
class TopicChange:
    """What ``apply_topics`` did (or, with dry_run, would do) to one topic."""

    topic: str
    action: Action
    partitions: int
    config_changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # key -> (old, new)
    partitions_before: int | None = None
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"{self.topic}: {self.action.value}"]
        if self.action is Action.CREATED:
            parts.append(f"({self.partitions} partition{'s' if self.partitions != 1 else ''})")
        if self.partitions_before is not None and self.partitions_before != self.partitions:
            parts.append(f"partitions {self.partitions_before} -> {self.partitions}")
        for key, (old, new) in sorted(self.config_changes.items()):
            if self.action is not Action.CREATED:
                parts.append(f"{key} {old if old is not None else '<default>'} -> {new}")
        return " ".join(parts)


def desired_topics(resources: Sequence[Resource[BaseModel]]) -> list[DesiredTopic]:
    """The broker topics the ``KafkaTopic`` resources declare (other kinds are ignored)."""
    out: dict[str, DesiredTopic] = {}
    for res in resources:
        if not isinstance(res.spec, KafkaTopicSpec):
            continue
        name = res.spec.topic_name or res.name
        if name in out:
            raise TopicApplyError(f"{res.ref}: topic {name!r} is also declared by {out[name].resource}")
        out[name] = DesiredTopic(
            name, res.spec.partitions, res.spec.replicas, res.spec.kafka_configs(), res.ref
        )
    return list(out.values())


def plan_change(desired: DesiredTopic, existing: ExistingTopic | None, broker_count: int) -> TopicChange:
    """Pure diff of one topic; raises on a partition decrease, which Kafka cannot do."""
    warnings: list[str] = []
    if existing is None:
        if desired.replicas > broker_count:
            warnings.append(
                f"{desired.resource}: replicas {desired.replicas} capped to {broker_count} "
                f"(the cluster has {broker_count} broker{'s' if broker_count != 1 else ''})"
            )
        return TopicChange(
            desired.name,
            Action.CREATED,
            desired.partitions,
            {k: (None, v) for k, v in desired.configs.items()},
            warnings=tuple(warnings),
        )
    if desired.partitions < existing.partitions:
        raise TopicApplyError(
            f"{desired.resource}: topic {desired.name!r} has {existing.partitions} partitions and "
            f"{desired.partitions} are declared; Kafka cannot remove partitions (keys would move). "
            f"Declare partitions >= {existing.partitions}, or delete and recreate the topic"
        )
    changes = {
        key: (existing.configs.get(key), value)
        for key, value in desired.configs.items()
        if existing.configs.get(key) != value
    }
    grown = desired.partitions > existing.partitions
    return TopicChange(
        desired.name,
        Action.ALTERED if changes or grown else Action.UNCHANGED,
        desired.partitions,
        changes,
        partitions_before=existing.partitions,
    )


class TopicAdmin:
    """The thin I/O layer: read topics and their configs, create, alter, add partitions."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.admin = AdminClient(dict(config), logger=logging.getLogger("ecap.kafka.librdkafka"))

    def broker_count(self) -> int:
        return len(self.admin.list_topics(timeout=ADMIN_TIMEOUT_S).brokers)

    def existing(self, names: Sequence[str]) -> dict[str, ExistingTopic]:
        metadata = self.admin.list_topics(timeout=ADMIN_TIMEOUT_S)
        present = [n for n in names if n in metadata.topics and metadata.topics[n].error is None]
        configs: dict[str, dict[str, str]] = {n: {} for n in present}
        if present:
            futures = self.admin.describe_configs(
                [ConfigResource(ConfigResource.Type.TOPIC, n) for n in present],
                request_timeout=ADMIN_TIMEOUT_S,
            )
            for resource, future in futures.items():
                entries = future.result(ADMIN_TIMEOUT_S)
                configs[resource.name] = {k: e.value for k, e in entries.items() if e.value is not None}
        return {n: ExistingTopic(n, len(metadata.topics[n].partitions), configs[n]) for n in present}

    def create(self, topic: DesiredTopic, replicas: int) -> None:
        futures = self.admin.create_topics(
            [NewTopic(topic.name, topic.partitions, replicas, config=topic.configs)],
            request_timeout=ADMIN_TIMEOUT_S,
        )
        self._wait(futures[topic.name], f"create topic {topic.name!r}")

    def alter_configs(self, topic: str, changes: Mapping[str, str]) -> None:
        entries = [
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in sorted(changes.items())
        ]
        futures = self.admin.incremental_alter_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=entries)],
            request_timeout=ADMIN_TIMEOUT_S,
        )
        for future in futures.values():
            self._wait(future, f"alter configs of {topic!r}")

    def add_partitions(self, topic: str, total: int) -> None:
        futures = self.admin.create_partitions([NewPartitions(topic, total)], request_timeout=ADMIN_TIMEOUT_S)
        try:
            futures[topic].result(ADMIN_TIMEOUT_S)
        except KafkaException as err:
            error: KafkaError = err.args[0]
            if error.code() == KafkaError._UNSUPPORTED_FEATURE:
                raise TopicApplyError(
                    f"topic {topic!r}: the broker cannot add partitions (the embedded development broker "
                    f"does not support CreatePartitions); delete and recreate the topic there, or use real "
                    f"Kafka. Broker said: {error.str()}"
                ) from None
            raise TopicApplyError(f"topic {topic!r}: adding partitions failed: {error.str()}") from None

    @staticmethod
    def _wait(future: object, what: str) -> None:
        try:
            future.result(ADMIN_TIMEOUT_S)  # type: ignore[attr-defined]
        except KafkaException as err:
            raise TopicApplyError(f"{what} failed: {err.args[0].str()}") from None


def apply_topics(
    resources: Sequence[Resource[BaseModel]],
    config: Mapping[str, str] | str | None = None,
    dry_run: bool = False,
) -> list[TopicChange]:
    """Bring every declared topic to its spec; idempotent.

    ``config`` is a client config from ``ecap.kafka.client_config``, or bootstrap servers (TLS/SASL
    then come from the environment), or None for the default resolution (env, then embedded broker).

    Every topic is checked before anything changes, so a refused partition decrease leaves the broker
    untouched. On the embedded broker adding partitions fails with a message that says so.
    """
    wanted = desired_topics(resources)
    if config is None or isinstance(config, str):
        config = client_config(resolve_bootstrap(config))
    admin = TopicAdmin(config)
    broker_count = admin.broker_count()
    existing = admin.existing([t.name for t in wanted])
    planned = [(t, plan_change(t, existing.get(t.name), broker_count)) for t in wanted]
    if dry_run:
        return [change for _, change in planned]
    for topic, change in planned:
        for warning in change.warnings:
            log.warning(warning)
        if change.action is Action.CREATED:
            admin.create(topic, min(topic.replicas, broker_count))
        elif change.config_changes:
            admin.alter_configs(topic.name, {k: new for k, (_, new) in change.config_changes.items()})
    # Partitions last: a broker that cannot add them (the embedded one) fails after everything else is done.
    for topic, change in planned:
        if change.partitions_before is not None and topic.partitions > change.partitions_before:
            try:
                admin.add_partitions(topic.name, topic.partitions)
            except TopicApplyError as err:
                raise TopicApplyError(str(err), _applied_before(planned, topic.name)) from None
    return [change for _, change in planned]


def _applied_before(planned: Sequence[tuple[DesiredTopic, TopicChange]], failed: str) -> list[TopicChange]:
    """The changes that were made when adding partitions to ``failed`` went wrong (for the report)."""
    applied: list[TopicChange] = []
    reached = False
    for topic, change in planned:
        reached = reached or topic.name == failed
        grew = change.partitions_before is not None and change.partitions > change.partitions_before
        if grew and reached:
            change = replace(change, partitions=change.partitions_before or change.partitions)
            if not change.config_changes:
                continue
        if change.action is not Action.UNCHANGED:
            applied.append(change)
    return applied
