"""The synthetic shop behind every ``DataProducer``: customers, catalog, sessions, orders and fraud.

Public API::

    gen = ShopGenerator(spec)                        # spec: ecap_operator.api.DataProducerSpec
    gen.replay(start, end, events_per_day)           # Iterator[list[EventBatch]], as fast as possible
    gen.realtime(rate, now=time.time, interval_s=1)  # Iterator[list[EventBatch]], endless; caller paces
    gen.replay_packed(...), gen.realtime_packed(...) # the same as PackedBatch (one buffer per stream)
    gen.window_end_ms                                # end of the window of the last yielded chunk
    gen.events(start, end, events_per_day)           # decoded dicts per stream (tests, analysis)
    decode(chunks)                                   # the same for chunks you already have

Each chunk holds, per emitted stream (only those named in ``spec.topics``), one ``EventBatch`` of
pre-serialised UTF-8 JSON values in the wire format of ``ecap.schemas``, their Kafka keys
(customer_id / session_id / product_id) and event times (epoch ms), sorted by time; chunks follow
each other in time. The same seed gives the same bytes.

Volume: ``events_per_day`` (replay) and ``rate`` (events/s, live) are the emitted volume of an
ordinary weekday; the local hour-of-day profile (normalised to a mean of 1), weekends (x1.5) and
seasonal events (Black Friday, Cyber Monday, Christmas run-up, Valentine's, back to school) shape it.
With product updates among the streams, ``spec.product_update_share`` of the volume is updates.
Replay starts with the shop opening (sessions start at ``start``) and emits sessions that begin
before ``end`` whole; a live run starts warm (sessions already open at its start). Every product
is announced once (a ``stock_update`` with its full state) before its first update.

Normal behaviour is kept clean so injected fraud is recognisable (see ``fraud``): customers shop
from their home city on their own device, baskets stay within 2.5x their price level, and nobody
but ``time_anomaly`` completes a checkout between 02:00 and 04:00 local time.
"""

from .errors import GeneratorError
from .generator import STREAMS, EventBatch, ShopGenerator, decode, unpacked
from .packed import PackedBatch, pack_records, pack_text

__all__ = [
    "STREAMS",
    "EventBatch",
    "GeneratorError",
    "PackedBatch",
    "ShopGenerator",
    "decode",
    "pack_records",
    "pack_text",
    "unpacked",
]
