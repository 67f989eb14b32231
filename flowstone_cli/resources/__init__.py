"""Resources: external systems (databases, API clients) that assets declare and receive.
"""
