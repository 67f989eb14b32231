"""Code versions, data versions, staleness reasons and impact analysis.
"""
