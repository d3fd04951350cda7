"""``ecap up``: the whole platform on one machine, from the same resources the operator reconciles.

Embedded broker -> topics -> producers (declared backfill, then optional live events) -> streaming
pipeline on local Spark -> Delta tables and their maintenance -> segmentation runs -> a summary that
reconciles every produced record with the tables.
"""
