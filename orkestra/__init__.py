"""Orkestra: many Kubernetes operators, declared in one Katalog, run in one process."""

__version__ = "0.1.0"
