"""The synthetic shop behind every ``DataProducer``: customers, catalog, sessions, orders and fraud.

Public API: ``ShopGenerator(spec)`` with ``replay(start, end, events_per_day)`` and
``realtime(rate, now)``, both yielding chunks (lists) of ``EventBatch``; ``decode(chunks)``.
"""

from .errors import GeneratorError
from .generator import STREAMS, EventBatch, ShopGenerator, decode

__all__ = ["STREAMS", "EventBatch", "GeneratorError", "ShopGenerator", "decode"]
