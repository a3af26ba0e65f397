"""The labels Orkestra puts on every child (docs/katalog.md#ownership-and-labels), named once for every layer.

The reconciler stamps them, the informers index children by the owner uid, the engine maps a
child event back to its CR, and the Katalog checks reject templates that set them.
"""
from __future__ import annotations

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_CRD = "orkestra.io/crd"
LABEL_OWNER = "orkestra-owner"
LABEL_OWNER_NAMESPACE = "orkestra.io/owner-namespace"
LABEL_OWNER_UID = "orkestra.io/owner-uid"
LABEL_TEMPLATE = "orkestra.io/template"
LABEL_APP_NAME = "app.kubernetes.io/name"
LABEL_APP_INSTANCE = "app.kubernetes.io/instance"

# Keys a template may not set: Orkestra owns them on every child.
RESERVED_LABELS = frozenset({LABEL_MANAGED_BY, LABEL_CRD, LABEL_OWNER, LABEL_OWNER_NAMESPACE, LABEL_OWNER_UID,
                             LABEL_TEMPLATE})
