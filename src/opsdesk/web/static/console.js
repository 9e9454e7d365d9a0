// The console's only script of its own: CSRF header for htmx, Plotly charts from JSON blocks, no inline code.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) { event.detail.headers["X-CSRF-Token"] = token.getAttribute("content"); }
  });
  // A refused htmx request: the error page's message (DOMParser runs no script) where the element asks for it
  // (`data-error-target`, so a list of results is not wiped), else in its target.
  document.addEventListener("htmx:responseError", function (event) {
    var elt = event.detail.elt;
    var chosen = elt && elt.getAttribute && elt.getAttribute("data-error-target");
    var target = chosen ? document.querySelector(chosen) : event.detail.target;
    if (target) { target.textContent = ""; }
    var box = document.createElement("p");
    box.className = "flash error";
    box.setAttribute("role", "alert");
    var xhr = event.detail.xhr;
    var id = xhr.getResponseHeader("x-request-id") || "";
    var message = "That did not work";
    try {  // the API's JSON error (a body over the size limit is refused before any page runs) or the error page
      if ((xhr.getResponseHeader("content-type") || "").indexOf("application/json") === 0) {
        message = JSON.parse(xhr.responseText).error.message || message;
      } else {
        var found = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector("[role=alert] p");
        if (found && found.textContent) { message = found.textContent; }
      }
    } catch (ignored) { /* keep the plain message */ }
    box.textContent = message + " (error " + xhr.status + "). Request id: " + id;
    if (target) { target.appendChild(box); }
  });

  function band(x, lo, hi, name, color) {
    return {x: x.concat(x.slice().reverse()), y: hi.concat(lo.slice().reverse()), fill: "toself", fillcolor: color, mode: "lines",
            line: {width: 0}, name: name, hoverinfo: "skip", type: "scatter"};
  }

  function plot(element) {
    var source = document.getElementById(element.getAttribute("data-plot"));
    if (!source || !window.Plotly) { return; }
    var d = JSON.parse(source.textContent);
    var traces = [
      band(d.x, d.lo95, d.hi95, "95 % interval", "rgba(31, 94, 168, 0.15)"),
      band(d.x, d.lo80, d.hi80, "80 % interval", "rgba(31, 94, 168, 0.30)"),
      {x: d.x, y: d.mean, name: "forecast", type: "scatter", mode: "lines+markers", line: {color: "#1f5ea8"}}
    ];
    window.Plotly.newPlot(element, traces, {
      title: {text: d.title}, margin: {t: 40, r: 10, b: 40, l: 50}, legend: {orientation: "h"},
      xaxis: {type: "date"}, yaxis: {rangemode: "tozero"}
    }, {responsive: true, displaylogo: false});
    element.setAttribute("data-plotted", "true");
  }

  function start() {
    document.querySelectorAll("[data-plot]").forEach(plot);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }
  // Plotly is loaded with `defer` after this file: run once every deferred script has.
  window.addEventListener("DOMContentLoaded", start);
})();

// Chat playground: a model's tokens, a knowledge base's cited answer or a solution's reply, streamed over fetch
// (server-sent events read from the response body: EventSource cannot POST or send the CSRF header).
(function () {
  "use strict";
  var form = document.querySelector("form[data-chat]");
  if (!form) { return; }
  var log = document.getElementById("chat-log");
  var input = document.getElementById("chat-text");
  var status = document.getElementById("chat-status");
  var send = document.getElementById("chat-send");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var history = [];  // model mode: the conversation so far (the page keeps it, the server does not)
  var sessionId = null;  // solution mode: the conversation runtime's session

  function mode() { return form.querySelector('input[name="mode"]:checked').value; }
  function value(name) { var field = form.elements.namedItem(name); return field ? field.value : ""; }

  function showMode() {
    form.querySelectorAll("[data-for-mode]").forEach(function (part) {
      part.hidden = part.getAttribute("data-for-mode") !== mode();
    });
  }

  function reset() {
    history = [];
    sessionId = null;
    log.textContent = "";
    var empty = document.createElement("li");
    empty.id = "chat-empty";
    empty.className = "empty";
    empty.textContent = "No messages yet — write one below.";
    log.appendChild(empty);
    log.setAttribute("data-state", "idle");
    status.textContent = "";
  }

  function bubble(role, label) {
    var empty = document.getElementById("chat-empty");
    if (empty) { empty.remove(); }
    var item = document.createElement("li");
    item.className = "msg " + role;
    var who = document.createElement("span");
    who.className = "said-by";
    who.textContent = label;
    var body = document.createElement("div");
    body.className = "msg-text";
    item.appendChild(who);
    item.appendChild(body);
    log.appendChild(item);
    return body;
  }

  function note(target, text) {
    var line = document.createElement("p");
    line.className = "muted msg-note";
    line.textContent = text;
    target.parentNode.appendChild(line);
  }

  function citations(target, cited) {
    if (!cited || !cited.length) { return; }
    var list = document.createElement("ol");
    list.className = "citations";
    list.setAttribute("aria-label", "Citations");
    cited.forEach(function (c) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "/chat/passages/" + encodeURIComponent(c.document_id) + "/" + encodeURIComponent(c.version_id) +
        "?chunk=" + encodeURIComponent(c.chunk_id) + "#chunk-" + encodeURIComponent(c.chunk_id);
      link.textContent = "[" + c.number + "] " + (c.document_title || c.source_key) + (c.section ? " — " + c.section : "");
      item.appendChild(link);
      list.appendChild(item);
    });
    target.parentNode.appendChild(list);
  }

  async function failure(response) {
    var id = response.headers.get("x-request-id") || "";
    var message = "That did not work (error " + response.status + ").";
    try {  // the console's error page: take its message (DOMParser runs no script)
      var page = new DOMParser().parseFromString(await response.text(), "text/html");
      var found = page.querySelector("[role=alert] p");
      if (found) { message = found.textContent + " (error " + response.status + ")"; }
    } catch (ignored) { /* keep the plain message */ }
    return message + " Request id: " + id;
  }

  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var step = await reader.read();
      if (step.done) { break; }
      buffer = (buffer + decoder.decode(step.value, {stream: true})).replace(/\r\n/g, "\n");
      var cut = buffer.indexOf("\n\n");
      while (cut >= 0) {
        var block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var name = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) { name = line.slice(6).trim(); }
          else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
        });
        if (data.length) { onEvent(name, data.join("\n")); }
        cut = buffer.indexOf("\n\n");
      }
    }
  }

  function request(chosen, text) {
    if (chosen === "ask") { return {url: "/chat/ask", body: {kb: value("kb"), question: text}}; }
    if (chosen === "solution") {
      return {url: "/chat/solution",
              body: {solution: value("solution"), sender: value("sender"), text: text, session_id: sessionId}};
    }
    var turns = history.concat([{role: "user", content: text}]);
    return {url: "/chat/stream",
            body: {model: value("model"), system: value("system"), max_tokens: parseInt(value("max_tokens"), 10) || 256,
                   messages: turns}};
  }

  function handler(chosen, out, done) {
    return function (name, data) {
      if (data === "[DONE]") { return; }
      var d = JSON.parse(data);
      if (name === "error" || d.error) {
        var problem = d.error || d;
        done.error = problem.message || "The reply failed.";
        return;
      }
      if (chosen === "model") {
        var choice = d.choices && d.choices[0];
        if (choice && choice.delta && choice.delta.content) { out.textContent += choice.delta.content; }
        if (d.usage) { done.note = d.usage.prompt_tokens + " tokens in, " + d.usage.completion_tokens + " out"; }
        return;
      }
      if (name === "delta") { out.textContent += d.text; }
      else if (name === "received") { sessionId = d.session_id; }
      else if (name === "answer") {  // authoritative: replaces a draft that failed the support check
        out.textContent = d.text;
        done.citations = d.citations;
        done.note = d.known ? d.method + " answer" : "the knowledge base does not know";
      } else if (name === "reply") {
        out.textContent = d.reply;
        sessionId = d.session_id;
        done.note = d.intent ? "intent " + d.intent : "";
      }
    };
  }

  form.querySelectorAll('input[name="mode"]').forEach(function (radio) {
    radio.addEventListener("change", function () { showMode(); reset(); });
  });
  document.getElementById("chat-new").addEventListener("click", reset);
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { form.requestSubmit(); }
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || send.disabled) { return; }
    var chosen = mode();
    var call = request(chosen, text);
    bubble("user", "You").textContent = text;
    input.value = "";
    var label = chosen === "model" ? value("model") : (chosen === "ask" ? "Knowledge base " + value("kb") : value("solution"));
    var out = bubble("assistant", label);
    var done = {error: null, note: "", citations: null};
    send.disabled = true;
    log.setAttribute("data-state", "streaming");
    status.textContent = "Replying…";
    try {
      var response = await fetch(call.url, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "text/event-stream",
                  "X-CSRF-Token": meta ? meta.getAttribute("content") : ""},
        body: JSON.stringify(call.body)
      });
      if (!response.ok) { done.error = await failure(response); }
      else { await readEvents(response, handler(chosen, out, done)); }
    } catch (problem) {
      done.error = "The connection failed: " + problem;
    }
    send.disabled = false;
    if (done.error) {
      out.classList.add("flash", "error");
      out.setAttribute("role", "alert");
      out.textContent = done.error;
      log.setAttribute("data-state", "error");
      status.textContent = "";
      return;
    }
    if (chosen === "model") {
      history.push({role: "user", content: text}, {role: "assistant", content: out.textContent});
    }
    citations(out, done.citations);
    if (done.note) { note(out, done.note); }
    log.setAttribute("data-state", "done");
    status.textContent = "Done.";
    input.focus();
  });
  showMode();
})();

// Stacked bar charts (admin usage): one trace per series from a JSON block, drawn once Plotly has loaded.
(function () {
  "use strict";
  function bars(element) {
    var source = document.getElementById(element.getAttribute("data-bar-plot"));
    if (!source || !window.Plotly) { return; }
    var d = JSON.parse(source.textContent);
    var traces = d.series.map(function (s) { return {x: d.days, y: s.y, name: s.name, type: "bar"}; });
    window.Plotly.newPlot(element, traces, {
      title: {text: d.title}, barmode: "stack", margin: {t: 40, r: 10, b: 40, l: 60}, legend: {orientation: "h"},
      xaxis: {type: "date"}, yaxis: {title: {text: d.y_title}, rangemode: "tozero"}
    }, {responsive: true, displaylogo: false});
    element.setAttribute("data-plotted", "true");
  }
  window.addEventListener("DOMContentLoaded", function () { document.querySelectorAll("[data-bar-plot]").forEach(bars); });
})();

// Knowledge uploads: a drop zone that hands dropped files to the form (the file input stays for keyboards), the
// bytes' sending progress, and each ingestion job's bar fed by its server-sent events (EventSource on the console's
// own stream, signed in by the session cookie). Everything is found by attribute, so content htmx swaps in works too.
(function () {
  "use strict";
  var following = new Map();  // job element -> its EventSource
  var refusals = new Map();  // job id -> streams refused so far (a job that keeps refusing is not asked forever)
  var MAX_REFUSALS = 3;

  function setField(box, name, text) {
    var field = box.querySelector('[data-job-field="' + name + '"]');
    if (field) { field.textContent = text; }
  }

  function show(box, job) {
    var bar = box.querySelector("progress");
    var percent = Math.round((job.progress || 0) * 100);
    if (bar) { bar.value = percent; bar.textContent = percent + " %"; }
    box.setAttribute("data-job-status", job.status);
    setField(box, "status", job.status);
    setField(box, "done", String(job.done_items + job.skipped_items));
    setField(box, "total", String(job.total_items));
    setField(box, "failed", job.failed_items ? ", " + job.failed_items + " failed" : "");
  }

  function stop(box) {
    var source = following.get(box);
    if (source) { source.close(); following.delete(box); }
  }

  function finish(box) {
    // The finished job as the server renders it (its report, failures), then the page's lists refresh.
    stop(box);
    var url = box.getAttribute("data-job-url");
    window.htmx.ajax("GET", url, {target: box, swap: "outerHTML"}).then(function () {
      window.htmx.trigger(document.body, "job-finished");
    });
  }

  function follow(box) {
    if (following.has(box) || !box.isConnected) { return; }
    if (!window.EventSource) { finish(box); return; }  // no stream: show where the job stands
    var source = new EventSource(box.getAttribute("data-job-events"));
    following.set(box, source);
    source.addEventListener("progress", function (event) { show(box, JSON.parse(event.data)); });
    ["done", "failed"].forEach(function (name) {
      source.addEventListener(name, function (event) { show(box, JSON.parse(event.data)); finish(box); });
    });
    source.addEventListener("error", function (event) {
      if (event.data) {  // the stream's own `error` event: the job is gone (deleted with its knowledge base)
        stop(box);
        var line = document.createElement("p");
        line.className = "flash error";
        line.setAttribute("role", "alert");
        line.textContent = JSON.parse(event.data).message;
        box.appendChild(line);
        box.setAttribute("data-job-status", "gone");
      } else if (source.readyState === EventSource.CLOSED) {  // refused (signed out, 404, 429)
        var count = (refusals.get(box.id) || 0) + 1;
        refusals.set(box.id, count);
        if (count < MAX_REFUSALS) { finish(box); return; }  // show where the job stands; a running one follows again
        stop(box);
        var note = document.createElement("p");
        note.className = "muted";
        note.textContent = "Live progress stopped; reload the page to see where the job stands.";
        box.appendChild(note);
      }  // otherwise the connection dropped and EventSource reconnects by itself
    });
  }

  function scan(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("[data-job-events]")) { follow(root); }
    root.querySelectorAll("[data-job-events]").forEach(follow);
  }

  document.addEventListener("htmx:load", function (event) { scan(event.detail.elt); });
  document.addEventListener("htmx:beforeCleanupElement", function (event) { stop(event.detail.elt); });
  window.addEventListener("DOMContentLoaded", function () { scan(document.body); });

  function zoneOf(event) { return event.target.closest ? event.target.closest("[data-drop-zone]") : null; }
  document.addEventListener("dragover", function (event) {
    var zone = zoneOf(event);
    if (!zone) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) { zone.classList.remove("dragging"); }
  });
  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event);
    if (!zone) { return; }
    event.preventDefault();
    zone.classList.remove("dragging");
    var files = event.dataTransfer && event.dataTransfer.files;
    var input = zone.querySelector('input[type="file"]');
    if (!files || !files.length || !input) { return; }
    input.files = files;
    input.form.requestSubmit();
  });

  function sending(form) { return form && form.matches && form.matches("form[data-upload]") ? form.querySelector(".sending") : null; }
  function tooLarge(form) {
    // The API's own check, said the API's way, before the bytes travel (the server checks again).
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    var input = form.querySelector('input[type="file"]');
    var files = input && input.files ? Array.prototype.slice.call(input.files) : [];
    var big = files.filter(function (file) { return limit && file.size > limit; })[0];
    if (!big) { return ""; }
    return "'" + big.name + "' is " + big.size.toLocaleString("en-US") + " bytes, more than the upload limit of " +
      limit.toLocaleString("en-US") + " bytes.";
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    var line = sending(form);
    if (!line) { return; }
    var error = document.querySelector(form.getAttribute("data-error-target"));
    if (error) { error.textContent = ""; }
    var refusal = tooLarge(form);
    if (refusal) {
      event.preventDefault();
      var box = document.createElement("p");
      box.className = "flash error";
      box.setAttribute("role", "alert");
      box.textContent = refusal;
      if (error) { error.appendChild(box); }
      return;
    }
    line.hidden = false;
    line.textContent = "Sending the files…";
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var line = sending(event.target);
    if (line && event.detail.lengthComputable && event.detail.total) {
      line.textContent = "Sending the files… " + Math.round(event.detail.loaded * 100 / event.detail.total) + " %";
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    var line = sending(form);
    if (!line) { return; }
    line.hidden = true;
    if (event.detail.successful) { form.reset(); }
  });
})();
