"""Pure timing logic: retry backoff with jitter and the token bucket that paces realtime mode."""

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


class TokenBucket:
    """Events allowed at a rate with a small burst; time comes in as an argument, so it is pure.

    ``take(n, now)`` returns how long to wait before ``n`` events may be emitted (0 when they may
    go now) and books them, so the average rate holds over any window longer than the burst.
    """

    def __init__(self, rate: float, burst_s: float = 0.2, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.burst_s = burst_s
        self.capacity = max(1.0, rate * burst_s)
        self.tokens = self.capacity
        self.updated = now

    def set_rate(self, rate: float, now: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._refill(now)
        self.rate = rate
        self.capacity = max(1.0, rate * self.burst_s)
        self.tokens = min(self.tokens, self.capacity)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self, n: int, now: float) -> float:
        self._refill(now)
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
