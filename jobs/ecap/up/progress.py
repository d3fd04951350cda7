"""A live table of the run: events produced, consumed, quarantined and duplicates per topic, and lag."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


@dataclass
class TopicProgress:
    produced: int = 0
    dead_lettered: int = 0
    consumed: int = 0
    clean: int = 0
    quarantined: int = 0
    duplicates: int = 0
    next_offsets: dict[int, int] = field(default_factory=dict)


class UpProgress:
    """Thread-safe counters fed by the producer and pipeline callbacks, rendered a few times a second."""

    def __init__(self, console: Console, streams: dict[str, str], enabled: bool = True) -> None:
        self.console = console
        self.streams = streams  # broker topic -> stream
        self.topics = {topic: TopicProgress() for topic in streams}
        self.phase = "starting"
        self.batches = 0
        self.alerts = 0
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.enabled = enabled
        self.live: Live | None = None

    def __enter__(self) -> UpProgress:
        if self.enabled:
            self.live = Live(
                self.render(),
                console=self.console,
                refresh_per_second=4,
                transient=False,
                get_renderable=self.render,
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
            self.live = None

    def set_phase(self, phase: str) -> None:
        with self.lock:
            self.phase = phase
        if not self.enabled:
            self.console.log(phase)

    def produced(self, per_topic: dict[str, tuple[int, int]], base: dict[str, tuple[int, int]]) -> None:
        """Producer totals of the current phase on top of the earlier phases' (``base``)."""
        with self.lock:
            for topic, (delivered, dead) in per_topic.items():
                row = self.topics.setdefault(topic, TopicProgress())
                before = base.get(topic, (0, 0))
                row.produced = before[0] + delivered
                row.dead_lettered = before[1] + dead

    def batch(self, topics: dict[str, Any], end_offsets: dict[str, dict[int, int]], alerts: int) -> None:
        with self.lock:
            self.batches += 1
            self.alerts += alerts
            for topic, counts in topics.items():
                row = self.topics.setdefault(topic, TopicProgress())
                row.consumed += counts.records
                row.clean += counts.clean
                row.quarantined += counts.quarantined
                row.duplicates += counts.duplicates
            for topic, parts in end_offsets.items():
                row = self.topics.setdefault(topic, TopicProgress())
                for part, offset in parts.items():
                    row.next_offsets[part] = max(row.next_offsets.get(part, 0), offset)

    def render(self) -> Group:
        with self.lock:
            table = Table(title=None, expand=False)
            for column in (
                "topic",
                "produced",
                "dead-lettered",
                "consumed",
                "clean",
                "quarantined",
                "duplicates",
                "behind",
            ):
                table.add_column(column, justify="left" if column == "topic" else "right")
            for topic, row in sorted(self.topics.items()):
                # On the run's own broker offsets start at 0, so delivered - next offsets is the lag.
                behind = (
                    max(0, row.produced - sum(row.next_offsets.values()))
                    if row.next_offsets
                    else row.produced
                )
                table.add_row(
                    topic,
                    f"{row.produced:,}",
                    f"{row.dead_lettered:,}",
                    f"{row.consumed:,}",
                    f"{row.clean:,}",
                    f"{row.quarantined:,}",
                    f"{row.duplicates:,}",
                    f"{behind:,}",
                )
            elapsed = time.monotonic() - self.started
            header = Text.assemble(
                ("ecap up ", "bold"),
                (self.phase, "cyan"),
                f"  {elapsed:,.0f}s  batches {self.batches}  fraud alerts {self.alerts}",
            )
            return Group(header, table)
