"""Bridges to other systems, each behind an extra: the heavy library is imported only by its own
module here, and only when the integration is used."""
