from __future__ import annotations

import http.server
import threading

import pytest

from orkestra.config import katalog_inputs
from orkestra.katalog.loader import load_report
from tests.unit.katalog.conftest import messages

KATALOG = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {{name: {name}}}\n"


def katalog(name: str, *keys: str, extra: str = "") -> str:
    body = "".join(f"    {k}:\n      apiTypes: {{group: {k}.io, version: v1, kind: K{k}, plural: {k}s}}\n"
                   f"      operatorBox: {{reconciler: {{workers: 2, queue: {{maxDepth: 10}}}}}}\n" for k in keys)
    return KATALOG.format(name=name) + extra + "spec:\n  crds:\n" + body


def komposer(imports: str, overrides: str = "{}", extra: str = "") -> str:
    return ("apiVersion: orkestra.orkspace.io/v1\nkind: Komposer\nmetadata: {name: platform, version: 2.0.0}\n"
            f"imports: {imports}\n{extra}spec:\n  crds: {overrides}\n")


def test_files_relative_to_the_komposer_and_overrides_deep_merge(write):
    write(katalog("web", "website"), "katalogs/website.yaml")
    path = write(komposer("{files: [./katalogs/website.yaml]}",
                          "{website: {operatorBox: {reconciler: {workers: 6}}}, extra: "
                          "{apiTypes: {kind: ConfigMap}, labelSelector: {a: b}}}"), "komposer.yaml")
    r = load_report([path])
    assert r.ok, [str(e) for e in r.errors]
    k = r.katalog
    assert k.name == "platform" and k.version == "2.0.0" and k.kind == "Komposer"
    box = k.crds["website"].box_spec
    assert box.workers == 6 and box.queue.max_depth == 10          # maps merge, scalars replace
    assert k.crds["website"].source.endswith("katalogs/website.yaml")
    assert k.crds["extra"].source == path
    assert "imports" not in k.canonical
    assert k.sources[0] == path and k.sources[1].endswith("website.yaml")


def test_registry_directory_from_env_and_versions(write, tmp_path):
    write(katalog("pg", "postgres"), "reg/katalogs/postgres/v1.2.0/katalog.yaml")
    write(katalog("redis", "redis"), "reg/katalogs/redis/latest/katalog.yaml")
    path = write(komposer("{registry: [{name: postgres, version: v1.2.0}, {name: redis}]}"), "komposer.yaml")
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": str(tmp_path / "reg")}))
    assert r.ok, [str(e) for e in r.errors]
    assert sorted(r.katalog.crds) == ["postgres", "redis"]
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": "reg"}))        # relative to the Komposer file
    assert r.ok


def test_exact_import_errors(write, tmp_path):
    write("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: e}\nspec: {crds: {}}\n", "empty.yaml")
    write("", "blank.yaml")
    path = write(komposer("{registry: [{name: pg}], files: [a.yaml, missing.yaml, empty.yaml, blank.yaml]}"),
                 "komposer.yaml")
    write(katalog("a", "a"), "a.yaml")
    r = load_report([path])
    got = messages(r.errors)
    assert "imports.registry[0]: ORK_REGISTRY is not set and the entry has no url" in got
    assert f"imports.files[1]: file not found: {tmp_path / 'missing.yaml'}" in got
    assert f"imports.files[2]: empty pattern file: {tmp_path / 'empty.yaml'}" in got
    assert f"imports.files[3]: empty pattern file: {tmp_path / 'blank.yaml'}" in got
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": str(tmp_path / "nowhere")}))
    assert (f"imports.registry[0]: registry file not found: {tmp_path / 'nowhere'}/katalogs/pg/latest/katalog.yaml"
            in messages(r.errors))


def test_duplicates_security_conflicts_and_finalizer_union(write):
    a = write(katalog("a", "shared", extra="security: {deletionProtection: {enabled: true}}\n")
              .replace("spec:\n", "spec:\n  finalizers: [x.io/a]\n"), "a.yaml")
    b = write(katalog("b", "shared", "other", extra="security: {deletionProtection: {enabled: false}}\n")
              .replace("spec:\n", "spec:\n  finalizers: [x.io/b, x.io/a]\n"), "b.yaml")
    path = write(komposer("{files: [a.yaml, b.yaml]}"), "komposer.yaml")
    r = load_report([path])
    got = messages(r.errors)
    assert f'duplicate CRD "shared": defined in {a} and {b}' in got
    assert f"conflicting security blocks in {a} and {b}" in got
    own = write(komposer("{files: [a.yaml, b.yaml]}", extra="security: {admission: {failurePolicy: Fail}}\n"),
                "own.yaml")
    r = load_report([own])
    assert not any("conflicting" in m for m in messages(r.errors))


def test_finalizers_union_and_komposer_cannot_import_komposer(write):
    write(katalog("a", "a").replace("spec:\n", "spec:\n  finalizers: [x.io/a]\n"), "a.yaml")
    write(katalog("b", "b").replace("spec:\n", "spec:\n  finalizers: [x.io/b, x.io/a]\n"), "b.yaml")
    r = load_report([write(komposer("{files: [a.yaml, b.yaml]}"), "k.yaml")])
    assert r.ok, [str(e) for e in r.errors]
    assert r.katalog.finalizers == ["x.io/a", "x.io/b"]
    assert r.katalog.crds["a"].box_spec.finalizers == ["x.io/a", "x.io/b"]
    nested = write(komposer("{files: [k.yaml]}"), "nested.yaml")
    r = load_report([nested])
    assert any("is a Komposer; a Komposer cannot import a Komposer" in m for m in messages(r.errors))


def test_literal_credentials_are_rejected_and_env_is_required(write):
    path = write(komposer("{registry: [{name: pg, url: 'https://example.invalid', auth: {type: bearer, token: abc}}]}"))
    assert any("literal credentials are not allowed" in m for m in messages(load_report([path]).errors))
    path = write(komposer("{registry: [{name: pg, url: 'https://example.invalid', auth: {type: bearer, fromEnv: ORK_REGISTRY_TOK}}]}"))
    assert 'imports.registry[0].auth: environment variable "ORK_REGISTRY_TOK" is not set' in messages(load_report([path]).errors)


def test_errors_inside_imported_files_point_at_them(write):
    bad = write(katalog("a", "a").replace("plural: as}", "plural: as, bogus: 1}"), "a.yaml")
    r = load_report([write(komposer("{files: [a.yaml]}"), "k.yaml")])
    (err,) = r.errors
    assert err.file == bad and (err.line, err.col) == (7, 66) and err.crd == "a"


def test_several_files_merge_with_the_first_files_metadata(write):
    a = write(katalog("first", "a"), "a.yaml")
    b = write(katalog("second", "b"), "b.yaml")
    r = load_report([a, b])
    assert r.ok and r.katalog.name == "first" and sorted(r.katalog.crds) == ["a", "b"]
    assert r.katalog.crds["b"].source == b
    r = load_report([a, a])
    assert f'duplicate CRD "a": defined in {a} and {a}' in messages(r.errors)


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, str] = {}
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        self.seen.append(self.headers.get("Authorization"))
        body = self.files.get(self.path)
        if body is not None and body.startswith("REDIRECT "):
            self.send_response(302)
            self.send_header("Location", body.split(" ", 1)[1])
            self.end_headers()
            return
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def _serve(handler: type[_Handler]):
    handler.files, handler.seen = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_registry():
    yield from _serve(_Handler)


class _OtherHandler(_Handler):
    files: dict[str, str] = {}
    seen: list = []


@pytest.fixture
def other_host():
    """A second server: another port is another origin, so credentials must not reach it."""
    yield from _serve(_OtherHandler)


def test_http_registry_and_files_with_bearer_auth(write, http_registry):
    base, handler = http_registry
    handler.files["/katalogs/cache/v1/katalog.yaml"] = katalog("cache", "cache")
    handler.files["/web.yaml"] = katalog("web", "web")
    path = write(komposer("{registry: [{name: cache, version: v1, auth: {type: bearer, fromEnv: ORK_REGISTRY_TOK}}], "
                          f"files: ['{base}/web.yaml', '{base}/gone.yaml']}}"))
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": base, "ORK_REGISTRY_TOK": "s3cret"}))
    assert messages(r.errors) == [f"imports.files[1]: file not found: {base}/gone.yaml"]
    assert "Bearer s3cret" in handler.seen
    assert all("s3cret" not in str(i) for i in r.errors + r.warnings)
    handler.files["/komposer.yaml"] = komposer("{files: [web.yaml]}")  # relative to a URL Komposer
    r = load_report([f"{base}/komposer.yaml"])
    assert r.ok, [str(e) for e in r.errors]
    assert list(r.katalog.crds) == ["web"]


def test_finalizers_union_includes_the_komposers_own(write):
    write(katalog("a", "a").replace("spec:\n", "spec:\n  finalizers: [x.io/a]\n"), "a.yaml")
    path = write(komposer("{files: [a.yaml]}").replace("spec:\n", "spec:\n  finalizers: [x.io/own, x.io/a]\n"),
                 "k.yaml")
    r = load_report([path])
    assert r.ok, [str(e) for e in r.errors]
    assert r.katalog.finalizers == ["x.io/a", "x.io/own"]


def test_a_registry_url_of_the_wrong_type_is_an_error_not_a_crash(write):
    path = write(komposer("{registry: [{name: pg, url: 5}]}"), "k.yaml")
    r = load_report([path])
    assert not r.ok
    assert any(m.startswith("imports.registry[0].url: expected a string") for m in messages(r.errors)), messages(r.errors)


# -- issue 16 item 6: registry credentials --------------------------------------------------------

def _registry_komposer(write, auth: str, url: str = "") -> str:
    entry = f"name: cache, version: v1, auth: {auth}" + (f", url: '{url}'" if url else "")
    return write(komposer("{registry: [{" + entry + "}]}"))


def test_credentials_come_only_from_ork_registry_variables(write, http_registry):
    base, handler = http_registry
    handler.files["/katalogs/cache/v1/katalog.yaml"] = katalog("cache", "cache")
    env = {"ORK_REGISTRY": base, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"}
    path = _registry_komposer(write, "{type: basic, usernameFromEnv: AWS_ACCESS_KEY_ID, "
                                     "passwordFromEnv: AWS_SECRET_ACCESS_KEY}")
    r = load_report([path], katalog_inputs(env))
    assert messages(r.errors) == ['imports.registry[0].auth.usernameFromEnv: "AWS_ACCESS_KEY_ID" is not allowed: '
                                  'registry credentials are read only from ORK_REGISTRY_* variables']
    assert handler.seen == []
    path = _registry_komposer(write, "{type: basic, usernameFromEnv: ORK_REGISTRY_USER, "
                                     "passwordFromEnv: ORK_REGISTRY_PASSWORD}")
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": base, "ORK_REGISTRY_USER": "u", "ORK_REGISTRY_PASSWORD": "p"}))
    assert r.ok, messages(r.errors)
    assert handler.seen == ["Basic dTpw"]


def test_credentials_go_only_to_the_ork_registry_host(write, http_registry, other_host):
    base, _ = http_registry
    other, other_handler = other_host
    other_handler.files["/katalogs/cache/v1/katalog.yaml"] = katalog("cache", "cache")
    path = _registry_komposer(write, "{type: bearer, fromEnv: ORK_REGISTRY_TOKEN}", url=other)
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": base, "ORK_REGISTRY_TOKEN": "s3cret"}))
    assert messages(r.errors) == [f"imports.registry[0].auth: credentials are sent only to the ORK_REGISTRY host; "
                                  f"{other}/katalogs/cache/v1/katalog.yaml is not on it"]
    assert other_handler.seen == []
    r = load_report([path], katalog_inputs({"ORK_REGISTRY_TOKEN": "s3cret"}))   # no ORK_REGISTRY: nowhere to send them
    assert len(r.errors) == 1 and "only to the ORK_REGISTRY host" in messages(r.errors)[0]
    assert other_handler.seen == []


def test_credentials_are_refused_over_plain_http_off_loopback(write):
    path = _registry_komposer(write, "{type: bearer, fromEnv: ORK_REGISTRY_TOKEN}")
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": "http://registry.example.invalid/", "ORK_REGISTRY_TOKEN": "s3cret"}))
    assert messages(r.errors) == ["imports.registry[0].auth: credentials are sent only over https, not to "
                                  "http://registry.example.invalid/katalogs/cache/v1/katalog.yaml"]


def test_a_redirect_to_another_host_drops_the_credentials(write, http_registry, other_host):
    base, handler = http_registry
    other, other_handler = other_host
    handler.files["/katalogs/cache/v1/katalog.yaml"] = f"REDIRECT {other}/collect"
    other_handler.files["/collect"] = katalog("cache", "cache")
    path = _registry_komposer(write, "{type: bearer, fromEnv: ORK_REGISTRY_TOKEN}")
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": base, "ORK_REGISTRY_TOKEN": "s3cret"}))
    assert r.ok, messages(r.errors)
    assert handler.seen == ["Bearer s3cret"] and other_handler.seen == [None]
    handler.seen.clear()
    handler.files["/katalogs/cache/v1/katalog.yaml"] = f"REDIRECT {base}/moved"     # same host keeps them
    handler.files["/moved"] = katalog("cache", "cache")
    assert load_report([path], katalog_inputs({"ORK_REGISTRY": base, "ORK_REGISTRY_TOKEN": "s3cret"})).ok
    assert handler.seen == ["Bearer s3cret", "Bearer s3cret"]


@pytest.mark.parametrize("registry", ["https://deploy:hunter2@registry.invalid/",
                                      "https://deploy:hunter2@registry.invalid:notaport/"])
def test_a_password_in_ork_registry_never_reaches_a_message(write, registry):
    path = _registry_komposer(write, "{type: bearer, fromEnv: ORK_REGISTRY_TOKEN}")
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": registry, "ORK_REGISTRY_TOKEN": "t"}))
    assert r.errors and all("hunter2" not in str(i) and "hunter2" not in (i.file or "") for i in r.errors)
    path = write(komposer("{registry: [{name: cache}]}"))
    r = load_report([path], katalog_inputs({"ORK_REGISTRY": registry}))
    assert r.errors and all("hunter2" not in str(i) and "hunter2" not in (i.file or "") for i in r.errors)
    assert any("credentials in a URL are not allowed" in m for m in messages(r.errors))
