"""Executors: where steps run (in-process, or on a pool of worker processes).
"""
