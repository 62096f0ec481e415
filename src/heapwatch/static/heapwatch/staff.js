/* heapwatch staff page: the charts, drawn from the page's JSON data
   (json_script elements); no data is ever interpolated into script. */
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // plotly reads hover texts as a subset of HTML: a view's name
  // ("app.views.<lambda>") is shown as text, never as markup.
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  var COLORS = {
    "leak": "#c0392b", "warm-up": "#d68910", "transient": "#7f8c8d",
    "concurrent": "#8e44ad", "allocator": "#2471a3", "no leak": "#27ae60"
  };
  var CONFIG = {displaylogo: false, responsive: true,
                modeBarButtonsToRemove: ["select2d", "lasso2d"]};
  var FONT = {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12};

  function rssChart() {
    var el = document.getElementById("hw-rss-chart");
    var s = data("hw-rss-data");
    if (!el || !s || !s.time.length) { return; }
    var traces = [{
      x: s.time, y: s.rss, name: "RSS (MiB)", type: "scatter", mode: "lines+markers",
      line: {color: "#34495e", width: 2},
      marker: {size: 7, color: s.verdict.map(function (v) { return COLORS[v] || "#34495e"; })},
      text: s.view.map(function (v, i) { return esc(v) + "<br>" + esc(s.verdict[i]); }),
      hovertemplate: "%{x}<br>RSS %{y:.1f} MiB<br>%{text}<extra></extra>"
    }];
    if (s.objects.some(function (v) { return v !== null; })) {
      traces.push({
        x: s.time, y: s.objects, name: "tracked objects (MiB)", type: "scatter",
        mode: "lines", line: {color: "#16a085", width: 1.5, dash: "dot"},
        hovertemplate: "%{x}<br>tracked objects %{y:.1f} MiB<extra></extra>"
      });
    }
    Plotly.newPlot(el, traces, {
      margin: {l: 60, r: 20, t: 10, b: 40}, height: 300, font: FONT,
      yaxis: {title: {text: "MiB"}, rangemode: "tozero"},
      legend: {orientation: "h", y: -0.2}, hovermode: "closest"
    }, CONFIG);
  }

  function memoryChart() {
    var el = document.getElementById("hw-memory-chart");
    var m = data("hw-memory-data");
    if (!el || !m) { return; }
    var palette = ["#16a085", "#f39c12", "#2980b9", "#95a5a6"];
    var traces = m.names.map(function (name, i) {
      return {x: [m.mib[i]], y: ["RSS"], name: name, type: "bar", orientation: "h",
              marker: {color: palette[i % palette.length]},
              hovertemplate: name + ": %{x:.1f} MiB<extra></extra>"};
    });
    Plotly.newPlot(el, traces, {
      barmode: "stack", height: 170, margin: {l: 40, r: 20, t: 10, b: 30}, font: FONT,
      xaxis: {ticksuffix: " MiB", rangemode: "tozero"},
      legend: {orientation: "h", x: 0, y: 1.25, traceorder: "normal"}
    }, CONFIG);
  }

  function start() {
    if (typeof Plotly === "undefined") { return; }
    rssChart();
    memoryChart();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
