"""The retry policy: exponential backoff with jitter, bounded (pure; the randomness comes in)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Our own bounded retry layer on top of librdkafka's internal retries.

    ``max_attempts`` counts re-produces after the first send; the delay before attempt ``n`` (1-based)
    is drawn from [d/2, d] with d = min(cap, base * 2**(n-1)) ("equal jitter"): never zero, so a
    restarted broker is not hit by every record at once, and never above ``cap_s``.
    """

    max_attempts: int = 5
    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))
