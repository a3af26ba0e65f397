"""The API client of a command that runs no engine (`ork status`, `ork events`)."""
from __future__ import annotations

from orkestra.config import CliSettings
from orkestra.kube.client import KubeClient


def kube_client(kubeconfig: str | None, context: str | None) -> KubeClient:
    """`--kubeconfig`, else KUBECONFIG, else ~/.kube/config; the pod's ServiceAccount
    (ORK_SERVICE_ACCOUNT_DIR) when there is none. Raises `KubeConfigError`."""
    env = CliSettings.from_env()
    return KubeClient.from_config(kubeconfig or env.kubeconfig or None, context,
                                  account_dir=env.service_account_dir, service_host=env.service_host,
                                  service_port=env.service_port)
