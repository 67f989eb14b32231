"""Partition definitions, canonical partition keys, time windows and mappings between assets.
"""
