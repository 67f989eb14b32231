"""Integrations with other tools, each behind an optional extra (`pip install 'flowstone-cli[dbt]'`).

They sit above `definitions` (they make asset specs) and below `project`; workers run them
through the batch protocol of `flowstone_cli.definitions.batch`, so the execution layer never
imports them.
"""
