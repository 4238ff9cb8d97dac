"""Pulumi components and the pure policy and config core of the private data lake."""
