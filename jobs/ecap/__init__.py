"""ECAP's workloads: event generator, producer, streaming pipeline, lake management, segmentation.

Every workload runs the same code locally (``ecap ...``) and in the cluster (the operator's images).
"""

__version__ = "0.1.0"
