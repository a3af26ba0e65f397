"""The in-cluster TLS Secret (docs/webhooks.md §2) against the real API server: creation, reuse by a
second replica, the 409 race between replicas, and rotation with the previous CA kept."""
from __future__ import annotations

import base64
import datetime as dt
import threading

from cryptography import x509

from orkestra.gvk import GVR
from orkestra.webhooks import certs
from orkestra.webhooks.tls import SecretSource

SECRETS = GVR("", "v1", "secrets")
NAME = "orkestra-webhook-tls"


def source(kube, namespace, now):
    return SecretSource(kube, namespace=namespace, secret_name=NAME, service="orkestra",
                        names=certs.required_names("orkestra", namespace), resync=30, clock=lambda: now)


def test_secret_created_reused_raced_and_rotated(kube, namespace):
    now = dt.datetime.now(dt.timezone.utc)
    first = source(kube, namespace, now).load()
    secret = kube.get(SECRETS, NAME, namespace)
    assert secret["type"] == "kubernetes.io/tls" and set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "orkestra",
                                            "orkestra.io/deletion-protection": "true"}
    rv = secret["metadata"]["resourceVersion"]

    again = source(kube, namespace, now + dt.timedelta(days=1)).load()      # another replica
    assert again.cert_pem == first.cert_pem
    assert kube.get(SECRETS, NAME, namespace)["metadata"]["resourceVersion"] == rv   # nothing written

    kube.delete(SECRETS, NAME, namespace)
    results: list = []
    barrier = threading.Barrier(3)

    def replica():
        src = source(kube, namespace, now)
        barrier.wait()
        results.append(src.load())
    threads = [threading.Thread(target=replica) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    stored = kube.get(SECRETS, NAME, namespace)
    assert len(results) == 3 and len({r.cert_pem for r in results}) == 1     # everyone serves the winner
    assert {r.cert_pem for r in results} == {base64.b64decode(stored["data"]["tls.crt"])}

    # a replica that read "no Secret" just before another created it gets a real 409 on create
    class StaleFirstRead:
        def __init__(self, inner):
            self.inner, self.reads = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def get(self, *args, **kwargs):
            self.reads += 1
            return None if self.reads == 1 else self.inner.get(*args, **kwargs)
    stale = StaleFirstRead(kube)
    late = SecretSource(stale, namespace=namespace, secret_name=NAME, service="orkestra",
                        names=certs.required_names("orkestra", namespace), resync=30, clock=lambda: now).load()
    assert late.cert_pem == results[0].cert_pem and stale.reads == 2

    later = now + dt.timedelta(days=340)                                      # inside 30 days of expiry
    rotated = source(kube, namespace, later).load()
    assert rotated.cert_pem != results[0].cert_pem
    cas = x509.load_pem_x509_certificates(rotated.ca_pem)
    assert len(cas) == 2 and cas[1] == x509.load_pem_x509_certificate(results[0].ca_pem)
    assert certs.reuse_problem(rotated, certs.required_names("orkestra", namespace), later) is None
