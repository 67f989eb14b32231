"""`flowstone ui`: the Starlette dashboard. It calls `api` only (see DESIGN.md)."""
