// The console's only script of its own: CSRF header for htmx, Plotly charts from JSON blocks, no inline code.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) { event.detail.headers["X-CSRF-Token"] = token.getAttribute("content"); }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var target = event.detail.target;
    if (target) { target.textContent = ""; }
    var box = document.createElement("p");
    box.className = "flash error";
    box.setAttribute("role", "alert");
    var id = event.detail.xhr.getResponseHeader("x-request-id") || "";
    box.textContent = "That did not work (error " + event.detail.xhr.status + "). Request id: " + id;
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
