"""Reports a person can hand on: materialization history, lineage and the audit trail of runs.

`model` gathers a `Report` from the metadata store; `markdown`, `html` and `tables` render it.
No terminal libraries here: the CLI decides where the text goes.
"""
