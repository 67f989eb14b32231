"""Bridges to other tools, each behind an optional extra: dbt (`flowstone-cli[dbt]`) and
OpenTelemetry (`flowstone-cli[otel]`). The heavy library is imported only by its own module, and
only when the integration is used.

They sit above `definitions` (dbt makes asset specs) and below `project`; workers run dbt through
the batch protocol of `flowstone_cli.definitions.batch`, so the execution layer never imports
them, and `api` exports traces through `otel`.
"""
