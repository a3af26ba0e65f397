"""The Control Center in real headless Chromium against two real `ork run` runtimes.

* log in, see both Katalogs, drill down: Control Panel → CRD Detail (workers, queue) →
  Resources → CR Detail (children and Events); screenshots of every view, laptop and phone;
* a CRD whose hook starts failing shows degraded within one refresh, without a page reload
  (server-sent events), and the hook's `<script>` error text runs nothing;
* a stopped runtime shows offline (last snapshot kept, greyed) and online again when it is
  restarted, without restarting the Control Center.
"""
from __future__ import annotations

import time
from pathlib import Path

import yaml
from selenium.webdriver.common.by import By

from orkestra.gvk import GVR
from tests.e2e.control_center import (attr, browser, browser_login, click, count,  # noqa: F401
                                      horizontal_overflow, ork_control, screenshot, screenshot_dir, text, texts,
                                      wait_until)
from tests.e2e.ork_runtime import (E2E_GROUP, create_cr, crd_entry, crd_manifest, free_port, katalog_doc,  # noqa: F401
                                   new_kind, ork_runtime)

CONFIGMAPS = GVR("", "v1", "configmaps")
XSS_ERROR = 'payment backend refused <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'

SWITCHABLE_HOOK = f'''
def make_hooks():
    def on_reconcile(ctx, obj):
        if (obj.get("spec") or {{}}).get("fail"):
            raise RuntimeError({XSS_ERROR!r})
    return {{"on_reconcile": on_reconcile}}
'''


def _shop(tmp_path: Path, apply_crd) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A Katalog `shop`: `cache`, and `website` (after cache) whose hook fails when spec.fail is set."""
    kinds = {"cache": new_kind("Cache"), "website": new_kind("Website")}
    for kind, plural in kinds.values():
        apply_crd(crd_manifest(kind, plural))
    website = crd_entry(*kinds["website"], workers=2, threshold=2,
                        hooks={"module": "shop_hooks", "function": "make_hooks"})
    website["dependsOn"] = ["cache"]
    doc = katalog_doc("shop", {"cache": crd_entry(*kinds["cache"], workers=1), "website": website})
    (tmp_path / "shop_hooks.py").write_text(SWITCHABLE_HOOK)
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path, kinds


def _billing(tmp_path: Path, apply_crd) -> tuple[Path, tuple[str, str]]:
    kind = new_kind("Invoice")
    apply_crd(crd_manifest(*kind))
    path = tmp_path / "billing.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("billing", {"invoice": crd_entry(*kind, workers=3)}), sort_keys=False))
    return path, kind


def _reconciled(kube, name: str, namespace: str) -> bool:
    return kube.get(CONFIGMAPS, f"{name}-config", namespace) is not None


def _rid(url: str) -> str:
    return "127.0.0.1-" + url.rsplit(":", 1)[1]


def _runtime(rid: str) -> str:
    return f'[data-runtime="{rid}"]'


def test_login_both_katalogs_and_drill_down_to_a_cr(ork_runtime, ork_control, apply_crd, kube, namespace, tmp_path,
                                                    browser, screenshot_dir):
    shop_path, shop = _shop(tmp_path, apply_crd)
    billing_path, invoice = _billing(tmp_path, apply_crd)
    env = {"WATCH_NAMESPACE": namespace}
    shop_rt, billing_rt = ork_runtime(shop_path, env=env), ork_runtime(billing_path, env=env)
    create_cr(kube, *shop["cache"], "edge-cache", namespace, {"value": "v1"})
    create_cr(kube, *shop["website"], "site-a", namespace, {"value": "hello"})
    create_cr(kube, *invoice, "inv-1", namespace, {"value": "42"})
    for name in ("edge-cache", "site-a", "inv-1"):
        shop_rt.wait_for(lambda n=name: _reconciled(kube, n, namespace), message=f"{name} reconciled")
    cc = ork_control([shop_rt.url, billing_rt.url])
    shop_id, billing_id = _rid(shop_rt.url), _rid(billing_rt.url)

    # log in: the form posts with its CSRF token and lands on the Control Center
    browser.delete_all_cookies()
    browser.get(cc.url + "/")
    assert browser.current_url == cc.url + "/login?next=/"
    screenshot(browser, screenshot_dir, "login")
    browser_login(browser, cc.url)
    wait_until(lambda: browser.current_url == cc.url + "/", message="redirect to / after login")
    wait_until(lambda: attr(browser, _runtime(shop_id), "data-status") == "online"
               and attr(browser, _runtime(billing_id), "data-status") == "online", message="both online")
    assert "shop" in text(browser, _runtime(shop_id)) and "billing" in text(browser, _runtime(billing_id))
    stats = text(browser, ".stats")
    assert "2\nKatalogs" in stats and "3\nCRDs" in stats, stats
    screenshot(browser, screenshot_dir, "control-center")
    screenshot(browser, screenshot_dir, "control-center-1920", width=1920)

    # Control Panel: CRD cards, health cards, the dependency graph and sparklines
    click(browser, By.LINK_TEXT, "shop", within=_runtime(shop_id))
    wait_until(lambda: count(browser, '[data-crd="website"]'), message="panel")
    assert set(texts(browser, "svg.depgraph g.node text")) == {"cache", "website"}
    assert count(browser, "svg.depgraph path.edge") == 1
    assert attr(browser, '[data-crd="website"]', "data-state") == "healthy"
    assert "needs cache" in text(browser, '[data-crd="website"]')
    assert count(browser, '[data-crd="website"] .spark') == 3
    # some work for the sparklines while we drill down
    kube.patch(GVR(E2E_GROUP, "v1", shop["website"][1]), "site-a",
               {"metadata": {"labels": {"team": "web", "tier": "frontend"}}}, namespace)
    for i in range(4):
        create_cr(kube, *shop["website"], f"site-extra-{i}", namespace, {"value": str(i)})

    # CRD Detail: workers and the queue
    click(browser, By.LINK_TEXT, "website")
    wait_until(lambda: count(browser, "ul.workers li.worker") == 2, message="two worker cards")
    assert "Queue" in text(browser, 'section[aria-label="Workers"]') and count(browser, "div.queue") == 1
    assert "configMaps" in text(browser, 'section[aria-label="Reconciler"]')
    crd_detail_url = browser.current_url

    # Resources: the CR table
    click(browser, By.PARTIAL_LINK_TEXT, "Resources (")
    wait_until(lambda: browser.find_elements(By.LINK_TEXT, "site-a"), message="CR table")
    assert namespace in text(browser, "tr[data-search]") and "Ready" in text(browser, "tr[data-search]")
    screenshot(browser, screenshot_dir, "resources")
    # the client-side filter; it survives the live re-renders of the table
    visible = "return Array.from(document.querySelectorAll('tr[data-search]')).filter(r => !r.hidden).length"
    wait_until(lambda: browser.execute_script(visible) == 5, message="five website CRs listed")
    browser.find_element(By.ID, "text-filter").send_keys("extra-1")
    wait_until(lambda: browser.execute_script(visible) == 1, message="filtered to one row")
    time.sleep(2.5)     # at least two live updates
    assert browser.execute_script(visible) == 1
    assert browser.execute_script("return document.getElementById('text-filter').value") == "extra-1"
    browser.execute_script("const f = document.getElementById('text-filter'); f.value = '';"
                           "f.dispatchEvent(new Event('input', {bubbles: true}))")
    wait_until(lambda: browser.execute_script(visible) == 5, message="filter cleared")

    # CR Detail: children grouped by kind and recent Events
    click(browser, By.LINK_TEXT, "site-a")

    def cr_page_complete() -> bool:
        if "site-a-config" in text(browser, 'section[aria-label="Children"]') \
                and "Reconciled" in text(browser, 'section[aria-label="Events"]'):
            return True
        browser.refresh()
        return False
    wait_until(cr_page_complete, timeout=30, interval=1, message="children and Events on the CR page")
    assert "ConfigMap" in text(browser, 'section[aria-label="Children"]')
    assert "team=web" in text(browser, ".tags-labels")
    screenshot(browser, screenshot_dir, "cr-detail")
    cr_detail_url = browser.current_url

    # back up: by now the 30-minute history has a few samples, so the sparklines draw lines
    browser.get(crd_detail_url)
    wait_until(lambda: count(browser, "svg.spark polyline") == 3, timeout=20, interval=0.5,
               message="sparklines on the CRD Detail page (live region updates)")
    screenshot(browser, screenshot_dir, "crd-detail")
    browser.get(cc.url + f"/k/{shop_id}")
    screenshot(browser, screenshot_dir, "control-panel")
    screenshot(browser, screenshot_dir, "control-panel-phone", width=390)

    # every view fits a phone-width and a laptop screen: wide tables scroll inside their card
    for url in (cc.url + "/", cc.url + f"/k/{shop_id}", crd_detail_url, crd_detail_url + "/cr", cr_detail_url):
        browser.get(url)
        for width in (390, 1366):
            assert horizontal_overflow(browser, width) == 0, (url, width)
    screenshot(browser, screenshot_dir, "cr-detail-phone", width=390)

    # the second Katalog drills down the same way
    browser.get(cc.url + f"/k/{billing_id}")
    assert attr(browser, '[data-crd="invoice"]', "data-state") == "healthy"
    # and nothing on any page needed what the Content-Security-Policy forbids
    blocked = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not blocked, blocked


def test_failing_hook_degrades_live_and_a_stopped_runtime_goes_offline_and_back(
        ork_runtime, ork_control, apply_crd, kube, namespace, tmp_path, browser, screenshot_dir):
    shop_path, shop = _shop(tmp_path, apply_crd)
    port = free_port()
    env = {"WATCH_NAMESPACE": namespace}
    runtime = ork_runtime(shop_path, env=env, port=port)
    create_cr(kube, *shop["cache"], "edge-cache", namespace, {"value": "v1"})
    create_cr(kube, *shop["website"], "site-b", namespace, {"value": "hello"})
    runtime.wait_for(lambda: _reconciled(kube, "site-b", namespace), message="site-b reconciled")
    cc = ork_control([runtime.url])
    rid = _rid(runtime.url)

    browser_login(browser, cc.url)
    card = '[data-crd="website"]'
    # The starting point, not the behaviour under test: a page rendered before the first poll saw the
    # CRD healthy may be reloaded here. Live updates without a reload are checked from __samePage on.
    def healthy_page() -> bool:
        browser.get(cc.url + f"/k/{rid}")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if attr(browser, card, "data-state") == "healthy":
                return True
            time.sleep(0.1)
        return False
    wait_until(healthy_page, timeout=45, interval=0.5, message="website healthy")
    browser.execute_script("window.__samePage = 'yes'")

    # the hook starts failing: degraded on the runtime, then on the open page without a reload
    kube.patch(GVR(E2E_GROUP, "v1", shop["website"][1]), "site-b", {"spec": {"fail": True}}, namespace)
    runtime.wait_for(lambda: runtime.get("/katalog/website/health")[0] == 503, timeout=60, interval=0.05,
                     message="website degraded on the runtime")
    degraded_at = time.monotonic()
    wait_until(lambda: attr(browser, card, "data-state") == "degraded", timeout=10, interval=0.05,
               message="website degraded in the browser")
    # within one refresh (1s): the next poll cycle, its SSE event and the region fetch; the
    # bound leaves room for a loaded CI machine, a reload-based page would need a manual reload
    assert time.monotonic() - degraded_at < 4.0
    assert browser.execute_script("return window.__samePage") == "yes", "the page was reloaded"
    assert int(attr(browser, "body", "data-refreshes")) > 0
    assert count(browser, "svg.depgraph g.node.state-degraded") == 1

    # the error text holds markup: shown as text everywhere, never run
    assert "<script>window.__xss = 1</script>" in text(browser, f"{card} .last-error")
    browser.get(cc.url + f"/k/{rid}/crd/website")
    assert "<img src=x onerror=" in text(browser, '[data-field="last-error"]')
    browser.get(cc.url + f"/k/{rid}/crd/website/cr/{namespace}/site-b")
    wait_until(lambda: "<script>" in text(browser, "main") or browser.refresh(), timeout=20, interval=1,
               message="the error on the CR page")
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    assert count(browser, 'main img[src="x"], main script') == 0
    browser.get(cc.url + f"/k/{rid}")
    wait_until(lambda: count(browser, f"{card} svg.spark polyline") == 3, timeout=20, interval=0.5,
               message="the website sparklines drawn")
    screenshot(browser, screenshot_dir, "control-panel-degraded")

    # the runtime stops: offline, last snapshot kept; it comes back by itself
    browser.get(cc.url + "/")
    runtime.stop()
    wait_until(lambda: attr(browser, _runtime(rid), "data-status") == "offline", timeout=15, message="runtime offline")
    assert "stale" in attr(browser, _runtime(rid), "class")
    assert "Offline since" in text(browser, _runtime(rid)) and "shop" in text(browser, _runtime(rid)), \
        "offline, with the last snapshot kept"
    screenshot(browser, screenshot_dir, "control-center-offline")
    ork_runtime(shop_path, env=env, port=port)
    wait_until(lambda: attr(browser, _runtime(rid), "data-status") == "online", timeout=60,
               message="runtime online again")
    assert cc.proc.poll() is None
