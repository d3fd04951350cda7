"""Streaming analytics transforms: pure ``DataFrame -> DataFrame`` functions the pipeline runner calls.

Nothing here reads Kafka, writes Delta or keeps state by itself: the runner passes in the clean rows
of one micro-batch (``foreachBatch`` DataFrames are static, so window functions are allowed there)
plus the current state rows it persists, and writes back what these functions return. The one
exception is :func:`attribute_purchases`, a stream-stream join that also runs on streaming
DataFrames (as its own streaming query). Input rows have the shapes of ``ecap.schemas``
``TRANSACTIONS_SCHEMA`` / ``USER_EVENTS_SCHEMA`` / ``PRODUCTS_SCHEMA``; extra columns are kept
where a function says so and ignored otherwise; missing required columns raise
:class:`AnalyticsInputError` (an ``ecap.pipeline.errors.PipelineError``). Settings come from
``ecap_operator.api.StreamingPipelineSpec``.
Timestamps are ``timestamp`` (UTC instants); wire JSON needs the session time zone UTC
(``ecap.spark.get_spark`` sets it; the JSON helpers raise otherwise).

Detection never reads the ground-truth label ``injected_fraud``; only :mod:`.evaluate` does.

Products (``products.py``)
--------------------------
``fold_product_updates(products: DataFrame | None, updates: DataFrame) -> DataFrame``
    ``products``: current ``products`` table rows (PRODUCTS_SCHEMA) or None when the table is empty.
    ``updates``: one batch of product-updates rows with columns ``product_id, update_type,
    event_time`` and nullable ``name, category, price (decimal), stock (long), status, description``
    (``event_id`` used as a tie-break when present). Returns PRODUCTS_SCHEMA rows to MERGE into
    ``products`` on ``product_id`` (only products that changed). Per update type:
    price_change -> price, stock_update -> stock, status_change -> status,
    description_update -> description; name/category taken from any update that carries them; an
    unknown product is seeded from every non-null field. Latest ``event_time`` wins per field;
    updates not newer than the row's ``updated_at`` are ignored, so replaying a batch is a no-op.

Enrichment (``enrich.py``)
--------------------------
``add_local_time_features(df, time_col="event_time", tz_col="timezone") -> DataFrame``
    Adds ``local_time`` (timestamp_ntz wall clock), ``local_hour`` (0-23),
    ``local_day_of_week`` (ISO: 1 = Monday .. 7 = Sunday), ``is_weekend`` (bool) and
    ``part_of_day`` (night [0,6), morning [6,12), afternoon [12,17), evening [17,22), late_evening
    [22,24)) from the row's IANA time zone (UTC when null). Replaces existing columns of those names.
``customer_dimension(profiles: DataFrame) -> DataFrame``
    ``customer_profiles`` state rows -> ``customer_id, customer_first_seen, customer_orders_before,
    customer_home_country``.
``enrich_transactions(transactions, products, profiles) -> DataFrame``
    Transactions (all columns kept) + ``enriched_items`` (the ``items`` with ``product_name,
    product_category, current_price, line_total``), ``primary_category`` (category of the largest
    line), customer columns (``customer_first_seen``, ``customer_order_number`` = 1-based number of
    this order for the customer, counting the profile's earlier orders and earlier orders in the same
    batch, ``is_new_customer``, ``customer_home_country``, ``is_home_country``), local time features
    and ``region``. ``products``/``profiles`` may be None (columns become null / order number counts
    the batch only).
``enrich_user_events(events, products, profiles) -> DataFrame``
    User events (all columns kept) + ``product_name, product_category, current_price`` (null when
    the event has no product), customer dimension columns and local time features.

Windowed KPIs (``kpis.py``) - design: per-micro-batch partials MERGEd into the ``kpis`` table
--------------------------------------------------------------------------------------------
Rows are keyed by ``(window_seconds, window_start)`` (tumbling windows, one set per size in
``kpi_window_seconds``). Each row holds mergeable parts - ``revenue`` (decimal), ``orders``,
``items_sold``, ``product_revenue`` (map product_id -> revenue), HyperLogLog sketches
``sessions_sketch`` / ``converted_sessions_sketch`` / ``customers_sketch`` (binary; distinct counts are
not sums, a session spans micro-batches) - and derived columns recomputed from them:
``average_order_value, active_sessions, converted_sessions, active_customers, conversion_rate,
top_products`` (array of struct(product_id, revenue), top 5 by revenue). Late rows just update the
older window's row (no watermark needed; nothing dropped).
``kpi_partials(transactions: DataFrame | None, user_events: DataFrame | None,
               window_seconds: Sequence[int]) -> DataFrame``
    One batch -> KPI rows (KPI_SCHEMA) for the windows it touches.
``merge_kpis(existing: DataFrame | None, partials: DataFrame) -> DataFrame``
    Current ``kpis`` rows (at least those with the partials' keys; others are ignored) + partials ->
    the merged rows to upsert (MERGE on ``window_seconds, window_start``: update all / insert all).
    Revenue and counts add, so the runner must apply each batch id once (its exactly-once guard).
``analytics_result_records(kpis: DataFrame) -> DataFrame``
    KPI rows -> ``metric, window_start, window_end, value (double), dimensions (map<string,string>)``:
    metrics revenue, orders, average_order_value, active_sessions, active_customers,
    conversion_rate, and top_product_revenue (one per top product, dimensions product_id and rank);
    every row's dimensions include window_seconds.
``analytics_result_messages(records: DataFrame) -> DataFrame``
    -> ``key`` (metric), ``value`` (the analytics-results wire JSON string).

Attribution (``attribution.py``) - a stream-stream interval join with watermarks
--------------------------------------------------------------------------------
``session_starts(user_events: DataFrame) -> DataFrame``
    Stateless filter: each session's first event (lowest ``sequence``, the journey's first step) ->
    ``session_id, session_customer_id, session_channel, session_start``.
``attribute_purchases(user_events, transactions, attribution_window_minutes: int,
                      watermark_seconds: int, lookback_minutes: int | None = None) -> DataFrame``
    Works on streaming and static DataFrames (withWatermark on both sides, event-time range
    condition ``session_start <= purchase_time <= session_start + lookback``). Left outer from
    transactions: a purchase whose session start never shows up is still emitted (after the
    watermark) with null session columns. Output: ``transaction_id, session_id, customer_id,
    channel, session_start, purchase_time, minutes_to_purchase, converted_within_window``. Append
    mode; the runner writes it to the ``attribution`` table (key transaction_id).

Fraud (``fraud.py``, state in ``profiles.py``)
----------------------------------------------
State table ``customer_profiles`` (``profiles.PROFILE_SCHEMA``, key ``customer_id``): orders,
trusted_orders, trusted_amount_total, recent_amounts (last 20 trusted amounts, whose median is the
"usual" order value), first/last order time, last trusted time/lat/lon, home_country, known_devices
(last 20, most recent last) and recent_orders (time, amount of the last 2 h, any trust, for velocity
and card testing across batch boundaries). Orders that raised an alert are counted but never teach
the profile (amount, device, position), so fraud cannot make the next fraud look usual.
``score_transactions(transactions: DataFrame, profiles: DataFrame | None,
                     settings: FraudDetectionSettings) -> DataFrame``
    One batch of clean transactions (label column ignored) + the profiles as of before this batch
    (at least the batch's customers) -> every transaction, all columns kept, plus ``fraud_score`` in
    [0, 1], ``fraud_reasons`` (array of fraud type names: velocity_attack, card_testing,
    amount_anomaly, location_anomaly, time_anomaly, device_anomaly), ``fraud_severity``
    (low/medium/high/critical at 0.5/0.75/0.9), ``is_alert`` (score >= alert_threshold) and the
    evidence ``fraud_usual_amount``, ``fraud_velocity_count``, ``fraud_travel_kmh``. Signals:
    more than velocity_max_orders in some velocity_window_minutes window holding the order;
    >= card_testing_min_count orders <= card_testing_max_amount in such a window; amount >
    amount_multiplier x median of trusted earlier amounts (>= 2 of them); > max_travel_kmh from the
    previous order and > 100 km from the last trusted position; local hour in night_hours
    [start, end); a device unknown to a customer with >= 1 trusted order. Score = noisy-or of
    per-signal weights (velocity .75, card testing .85, amount .7, travel .75, night .5, device .5).
    Several orders of one customer in the batch are ordered by event_time with window functions
    (the batch is static).
``fraud_alerts(scored: DataFrame) -> DataFrame``
    Alert rows (``fraud.ALERT_SCHEMA``): ``alert_id`` (``alert_`` + sha256 of the transaction_id,
    so replays keep the id), ``transaction_id, customer_id, score, reasons, severity, timestamp``
    (the order's event time) and ``event_date``. MERGE on alert_id.
``fraud_alert_messages(alerts: DataFrame) -> DataFrame``
    -> ``key`` (transaction_id), ``value`` (fraud-alerts wire JSON string).
``update_customer_profiles(profiles: DataFrame | None, scored: DataFrame) -> DataFrame``
    Profiles before the batch + the scored batch -> the changed profile rows to MERGE on
    customer_id (update all / insert all). Not idempotent (counts add): apply once per batch id,
    after the alerts are written.

Evaluation (``evaluate.py``)
----------------------------
``evaluate_alerts(transactions: DataFrame, alerts: DataFrame) -> FraudEvaluation``
    Labelled transactions (``injected_fraud``) + alerts -> precision/recall/F1 overall, recall per
    injected fraud type (``per_type``), precision per alert reason (``per_reason``: share of alerts
    with that reason that are fraud, and that are fraud of the same type), the confusion counts and
    a printable ``summary()``.

Table schemas for the runner (Arrow, all in the modules above): ``kpis.KPI_SCHEMA``,
``profiles.PROFILE_SCHEMA``, ``fraud.ALERT_SCHEMA``, ``attribution.ATTRIBUTION_SCHEMA``; the
Spark frames these functions return have exactly those column names and types.
"""
