"""`unique` at reconcile time (docs/katalog.md#validation): against the cache, ignoring the CR itself; the oldest wins."""
from orkestra.reconcile.reconciler import DeclarativeReconciler
from tests.unit.reconcile.factory import make_cr, make_entry, make_katalog


class CacheOnly:
    kube = None   # never called: unique checks read the cache only

    def __init__(self, crs):
        self.crs = crs

    def cached_all(self):
        return self.crs


def reconciler(crs):
    entry = make_entry()
    return DeclarativeReconciler(entry, katalog=make_katalog(entry), runtime=CacheOnly(crs))


def cr(name, uid, created, host, namespace="a"):
    return make_cr(name, namespace, uid=uid, spec={"host": host}, creationTimestamp=created)


def test_oldest_holder_passes_the_others_fire():
    old = cr("old", "u1", "2026-01-01T00:00:00Z", "x.example.com")
    new = cr("new", "u2", "2026-01-02T00:00:00Z", "x.example.com")
    other = cr("other", "u3", "2025-01-01T00:00:00Z", "y.example.com")
    rec = reconciler([old, new, other])
    assert rec.unique_taken("spec.host", "x.example.com", "cluster", old) is False
    assert rec.unique_taken("spec.host", "x.example.com", "cluster", new) is True
    assert rec.unique_taken("spec.host", "y.example.com", "cluster", other) is False


def test_same_creation_time_breaks_ties_by_namespace_and_name_and_scope_namespace():
    a = cr("a", "u1", "2026-01-01T00:00:00Z", "h", namespace="ns1")
    b = cr("b", "u2", "2026-01-01T00:00:00Z", "h", namespace="ns2")
    rec = reconciler([a, b])
    assert rec.unique_taken("spec.host", "h", "cluster", a) is False
    assert rec.unique_taken("spec.host", "h", "cluster", b) is True
    assert rec.unique_taken("spec.host", "h", "namespace", b) is False
