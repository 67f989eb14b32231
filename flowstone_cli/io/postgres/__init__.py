"""The `postgres` I/O manager (extra `flowstone-cli[postgres]`).

Importing this package is cheap: psycopg and the ADBC driver are imported when a manager is used,
and only modules of this package import them (an import-linter contract checks it).
"""

from flowstone_cli.io.postgres.manager import PostgresIOManager

__all__ = ["PostgresIOManager"]
