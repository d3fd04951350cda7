"""The one way ECAP starts Spark, so that local runs, tests and SparkApplications share settings.

Static settings (extensions, serializers, time zone) must be set before the session exists; setting
them on a running session has no effect, so everything is decided here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

_PACKAGE_ROOTS = [Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "operator"]


def _export_pythonpath() -> None:
    """Python workers and the data-source planner import ``ecap``: put it on their PYTHONPATH.

    ``addPyFile`` does not reach the planner of a Python data source, so this must happen before the
    JVM starts.
    """
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for root in map(str, _PACKAGE_ROOTS):
        if root not in parts:
            parts.insert(0, root)
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def get_spark(app_name: str = "ecap", master: str | None = None, shuffle_partitions: int = 4) -> SparkSession:
    """A Spark session in UTC; local[2] unless a master is given or one is set by spark-submit."""
    _export_pythonpath()
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit (a SparkApplication) the JVM already exists and knows its master.
    if master or not os.environ.get("PYSPARK_GATEWAY_PORT"):
        chosen = master or os.environ.get("ECAP_SPARK_MASTER", "local[2]")
        builder = builder.master(chosen)
        if chosen.startswith("local"):
            # Local mode talks to itself only: loopback avoids picking an unreachable interface.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(shuffle_partitions),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": os.environ.get("ECAP_SPARK_DRIVER_MEMORY", "2g"),
        "spark.sql.adaptive.enabled": "true",
        "spark.python.worker.reuse": "true",
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("ECAP_SPARK_LOG_LEVEL", "WARN"))
    return spark
