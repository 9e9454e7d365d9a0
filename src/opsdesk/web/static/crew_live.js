// A crew run's page: its progress part follows the run's server-sent events (GET /crew/runs/{id}/events, the API's
// generator signed in by the session cookie) and has htmx fetch it again on each (one request at a time); the part's
// response reloads the whole page when a gate opens or closes. Without EventSource, or when the stream is refused,
// the part is fetched every `data-poll-ms` instead, as it was before the stream.
(function () {
  "use strict";
  var FINAL = ["completed", "failed", "stopped"];
  var source = null;
  var poller = null;
  var fetching = false;  // the part's request is out
  var again = false;     // something changed meanwhile: fetch once more when it is back
  var reloading = false;  // the part's answer said to reload the page: ask for nothing more (a second reload
                          // could cancel a form the user sends from the reloaded page)

  function part() { return document.getElementById("run-live"); }

  // One request at a time, and never a change dropped: events come as fast as the run changes, and htmx drops a
  // trigger while the element's request is out, so a gate opening just after a step could be lost (then the page,
  // showing a running run, would never reload).
  function refresh() {
    var live = part();
    if (reloading || !live || !live.hasAttribute("hx-get") || !window.htmx) { return; }
    if (fetching) { again = true; return; }
    fetching = true;
    var done = function () {
      fetching = false;
      if (again) { again = false; refresh(); }
    };
    window.htmx.ajax("GET", live.getAttribute("hx-get"), {source: live, target: live, swap: "outerHTML"})
      .then(done, done);
  }

  function progress(event) {
    // The stream's first event (and the first after a reconnect) may say what the part already shows: skip it then.
    var live = part();
    var shown = live ? Date.parse(live.getAttribute("data-updated") || "") : NaN;
    var said = Date.parse(JSON.parse(event.data).updated_at || "");
    if (!isNaN(shown) && shown === said) { return; }
    refresh();
  }

  function poll(live) {
    if (poller) { return; }
    poller = window.setInterval(function () {
      if (!part() || !part().hasAttribute("hx-get")) { window.clearInterval(poller); poller = null; return; }
      refresh();
    }, parseInt(live.getAttribute("data-poll-ms"), 10) || 2000);
  }

  function follow() {
    var live = part();
    var url = live && live.getAttribute("data-run-events");
    if (!url) { return; }  // the run does not work now: nothing to follow
    if (!window.EventSource) { poll(live); return; }
    source = new EventSource(url);
    source.addEventListener("progress", progress);
    FINAL.forEach(function (name) {
      source.addEventListener(name, function () { source.close(); refresh(); });
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {  // refused (signed out, 404, 429): fall back to asking
        var current = part();
        if (current) { poll(current); }
      }  // otherwise the connection dropped and EventSource reconnects by itself
    });
  }

  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Refresh") === "true") {
      reloading = true;
      if (source) { source.close(); }
    }
  });
  window.addEventListener("DOMContentLoaded", follow);
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
})();
