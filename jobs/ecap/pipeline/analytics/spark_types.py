"""Arrow schemas of the data contract as Spark schemas, so every transform agrees with the tables."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import types as T

from .errors import AnalyticsError


def spark_type(arrow_type: pa.DataType) -> T.DataType:
    """The Spark type that Arrow type becomes when Spark reads the Delta table."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return T.StringType()
    if pa.types.is_int32(arrow_type):
        return T.IntegerType()
    if pa.types.is_int64(arrow_type):
        return T.LongType()
    if pa.types.is_float64(arrow_type):
        return T.DoubleType()
    if pa.types.is_boolean(arrow_type):
        return T.BooleanType()
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return T.BinaryType()
    if pa.types.is_date32(arrow_type):
        return T.DateType()
    if pa.types.is_timestamp(arrow_type):
        return T.TimestampType() if arrow_type.tz else T.TimestampNTZType()
    if pa.types.is_decimal(arrow_type):
        return T.DecimalType(arrow_type.precision, arrow_type.scale)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return T.ArrayType(spark_type(arrow_type.value_type), True)
    if pa.types.is_map(arrow_type):
        return T.MapType(spark_type(arrow_type.key_type), spark_type(arrow_type.item_type), True)
    if pa.types.is_struct(arrow_type):
        return T.StructType([T.StructField(f.name, spark_type(f.type), f.nullable) for f in arrow_type])
    raise AnalyticsError(f"no Spark type for Arrow type {arrow_type}")


def spark_schema(schema: pa.Schema) -> T.StructType:
    """Every field nullable: Spark relaxes nullability on reads and unions, so comparisons stay simple."""
    return T.StructType([T.StructField(f.name, spark_type(f.type), True) for f in schema])
