"""What loading a Katalog takes from the process environment, as values.

`ORK_HOOKS_PATH`, `ORK_REGISTRY`, the per-CRD defaults (docs/runtime.md §15) and the
`ORK_REGISTRY_*` variables a Komposer's registry `auth` names are parsed by `orkestra.config`,
the one module that reads the environment, and handed to the loader in a `LoadInputs`. This layer
never reads the environment itself, so a load is a function of its files and these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from orkestra.katalog.defaults import KatalogDefaults

CREDENTIAL_PREFIX = "ORK_REGISTRY_"     # the only variables a registry `auth` may name


@dataclass(frozen=True)
class LoadInputs:
    hooks_path: tuple[str, ...] = ()        # ORK_HOOKS_PATH: searched after the Katalog's directory
    registry: str = ""                      # ORK_REGISTRY: "" = unset
    defaults: KatalogDefaults = field(default_factory=KatalogDefaults)
    problems: tuple[str, ...] = ()          # invalid default values: errors of the load report
    # The CREDENTIAL_PREFIX variables, the only ones a registry `auth` may name (fromEnv,
    # usernameFromEnv, passwordFromEnv): the names come from the Katalog, so the loader looks
    # them up here. Nothing else of the environment is carried. Never printed.
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
