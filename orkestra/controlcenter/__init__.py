"""The Control Center (`ork control`): a web UI over the HTTP APIs of one or more runtimes.

It reads only what the runtimes serve and keeps only in-memory snapshots. User guide:
docs/control-center.md; how the package is cut: docs/architecture.md.
"""
