"""I/O managers: how asset values are stored to and loaded from local disk, S3, Parquet and DuckDB.
"""
