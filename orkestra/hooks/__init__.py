"""Python hooks: loading (`orkestra.hooks.loader`) and the public `HookContext` handed to callbacks."""
from orkestra.hooks.context import HookContext

__all__ = ["HookContext"]
