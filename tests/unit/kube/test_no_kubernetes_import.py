"""Issue 15 (memory): the runtime never imports the `kubernetes` package, whose
`kubernetes.client` loads every generated model class (~30 MB of RSS in the worker). Checked in a
fresh interpreter: every runtime module is imported, a `KubeClient` is built from a kubeconfig
and sends a request, and `kubernetes` must still be absent from sys.modules. Only a hook that
touches `ctx.api_client` / `ctx.dynamic` loads it (the last step shows that it then does)."""
import subprocess
import sys

import yaml

SCRIPT = r'''
import importlib, pkgutil, sys
import orkestra
from orkestra.server.serve import serve
from orkestra.engine.engine import Engine
from orkestra.kube import ApiError, KubeClient

for mod in pkgutil.walk_packages(orkestra.__path__, "orkestra."):
    # orkestra.testing: test helpers; orkestra.kube.dynamic: the hooks' kubernetes objects.
    if not mod.name.startswith(("orkestra.testing", "orkestra.kube.dynamic")):
        importlib.import_module(mod.name)
kube = KubeClient.from_config(sys.argv[1])
try:
    kube.request("GET", "/version", timeout=1.0)
except ApiError as err:
    assert err.status == 0, err
print("after runtime:", "kubernetes" in sys.modules)
kube.api_client
print("after ctx.api_client:", "kubernetes" in sys.modules)
'''


def test_runtime_import_path_and_client_leave_kubernetes_unimported(tmp_path):
    config = tmp_path / "config"
    config.write_text(yaml.safe_dump({
        "current-context": "main",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}]}))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after runtime: False", "after ctx.api_client: True"]
