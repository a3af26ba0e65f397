"""The v1 template function library (docs/katalog.md#templates), one module per group.

Each module exports `FUNCTIONS: dict[str, callable]`; `orkestra.template.functions` merges them.
Library functions take the value they operate on as their LAST argument (pipeline form) and are
nil-safe: nil acts as `""`, `0` or empty, whichever the function expects.
"""
