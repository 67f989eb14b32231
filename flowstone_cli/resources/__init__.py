"""Resources: external systems (databases, API clients) that assets declare and receive."""

from flowstone_cli.resources.base import Resource, ResourceSet, build_resource

__all__ = ["Resource", "ResourceSet", "build_resource"]
