"""Numbered schema migrations of the metadata store.
"""
