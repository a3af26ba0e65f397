/* Orkestra Control Center: live updates and the CR table filters.
 *
 * After every poll cycle the server sends `update` on /api/stream. The page then asks its own
 * route for JSON (?regions=1 adds the region rendered as HTML by the server) and swaps the
 * marked region, keeping open <details> and filter values. When that fails it reloads.
 * Without this script every page still works by manual reload.
 */
(function () {
  "use strict";

  var region = document.querySelector('[data-region="main"]');

  function applyFilters() {
    var ns = document.getElementById("ns-filter");
    var text = document.getElementById("text-filter");
    if (!ns || !text) { return; }
    var wantNs = ns.value;
    var needle = text.value.trim().toLowerCase();
    document.querySelectorAll("tr[data-search]").forEach(function (row) {
      var show = (!wantNs || row.getAttribute("data-ns") === wantNs) &&
        (!needle || row.getAttribute("data-search").indexOf(needle) !== -1);
      row.hidden = !show;
    });
  }

  function keepState() {
    var kept = {};
    document.querySelectorAll("[data-keep]").forEach(function (el) {
      kept[el.getAttribute("data-keep")] = el.tagName === "DETAILS" ? el.open : el.value;
    });
    return kept;
  }

  function restoreState(kept) {
    document.querySelectorAll("[data-keep]").forEach(function (el) {
      var value = kept[el.getAttribute("data-keep")];
      if (value === undefined) { return; }
      if (el.tagName === "DETAILS") { el.open = value; } else { el.value = value; }
    });
  }

  var busy = false;
  function refresh() {
    if (busy || !region) { return; }
    busy = true;
    var url = new URL(window.location.href);
    url.searchParams.set("regions", "1");
    fetch(url.toString(), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(function (body) {
        if (body.regions.main !== region.innerHTML) {
          var kept = keepState();
          var focused = document.activeElement && document.activeElement.id;
          var caret = focused && document.activeElement.selectionStart;
          region.innerHTML = body.regions.main;
          restoreState(kept);
          applyFilters();
          var again = focused && document.getElementById(focused);
          if (again) {
            again.focus();
            if (typeof caret === "number" && again.setSelectionRange) { again.setSelectionRange(caret, caret); }
          }
        }
        var count = Number(document.body.getAttribute("data-refreshes") || "0") + 1;
        document.body.setAttribute("data-refreshes", String(count));
      })
      .catch(function () { window.location.reload(); })
      .then(function () { busy = false; });
  }

  document.addEventListener("input", function (ev) {
    if (ev.target && (ev.target.id === "ns-filter" || ev.target.id === "text-filter")) { applyFilters(); }
  });
  document.addEventListener("change", applyFilters);
  document.addEventListener("submit", function (ev) {
    if (ev.target && ev.target.classList.contains("filters")) { ev.preventDefault(); }
  });

  // The stream is closed when the page is left: a browser keeps few connections per host (six
  // over HTTP/1.1), and streams of pages kept in the back/forward cache would use them up.
  var stream = null;
  function connect() {
    if (!region || !window.EventSource || stream) { return; }
    stream = new EventSource("/api/stream");
    stream.addEventListener("update", refresh);
    stream.addEventListener("open", function () { document.body.setAttribute("data-live", "on"); });
    stream.addEventListener("error", function () { document.body.setAttribute("data-live", "off"); });
  }
  function disconnect() {
    if (stream) { stream.close(); stream = null; }
  }
  window.addEventListener("pagehide", disconnect);
  window.addEventListener("pageshow", function (ev) {
    if (ev.persisted) { refresh(); }
    connect();
  });
  connect();
}());
