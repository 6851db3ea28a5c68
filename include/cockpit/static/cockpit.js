// 法治驾驶舱 charts: Apache ECharts (served by the cockpit from the set-up's offline copy), SVG
// renderer, no animation (the pages are also screenshotted and printed). The data is the page's
// own JSON (#chart-data), the same numbers as the tables.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var opts = { renderer: "svg" };
  function round(v) { return v === null || v === undefined ? "" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, "")); }

  function tiles(el) {
    var cells = data.tiles.filter(function (t) { return t.value !== null; });
    var values = cells.map(function (t) { return t.value; });
    var lo = values.length ? Math.min.apply(null, values) : 0, hi = values.length ? Math.max.apply(null, values) : 1;
    var chart = echarts.init(el, null, opts);
    chart.setOption({
      animation: false,
      tooltip: { formatter: function (p) { var t = p.data.town; return t.name + "<br>" + (t.value === null ? "无数据" : t.text + " " + data.unit) + (t.rank ? "<br>第" + t.rank + "名" : ""); } },
      grid: { left: 10, right: 10, top: 10, bottom: 60 },
      xAxis: { type: "category", data: [0, 1, 2, 3, 4], show: false },
      yAxis: { type: "category", data: [3, 2, 1, 0], show: false },
      visualMap: { seriesIndex: 0, min: lo, max: hi === lo ? lo + 1 : hi, calculable: true, orient: "horizontal", left: "center", bottom: 5,
                   inRange: { color: data.direction === "higher" ? ["#d7301f", "#fee08b", "#1a9850"] : ["#1a9850", "#fee08b", "#d7301f"] } },
      series: [{ type: "heatmap", itemStyle: { borderColor: "#fff", borderWidth: 3 },
                 label: { show: true, formatter: function (p) { return p.data.town.name + "\n" + p.data.town.text; } },
                 data: cells.map(function (t) { return { value: [t.x, 3 - t.y, t.value], town: t }; }) },
               // 镇街 without a value (no cases: denominator 0): grey, outside the colour scale.
               { type: "heatmap", itemStyle: { color: "#e3e7ec", borderColor: "#fff", borderWidth: 3 },
                 label: { show: true, color: "#6b7785", formatter: function (p) { return p.data.town.name + "\n无数据"; } },
                 data: data.tiles.filter(function (t) { return t.value === null; })
                   .map(function (t) { return { value: [t.x, 3 - t.y, 0], town: t }; }) }]
    });
    return chart;
  }

  function trend(el) {
    var chart = echarts.init(el, null, opts);
    function show(key) {
      var points = data.series[key] || [];
      var series = [{ name: data.name, type: key === "month" || key === "ytd" ? "line" : "bar",
                      data: points.map(function (p) {
                        return { value: p.value, itemStyle: p.completeness === "partial" ? { color: "#b8c0c8" } : undefined };
                      }),
                      label: { show: points.length <= 12, position: "top", formatter: function (p) { return round(p.value); } } }];
      if (data.target !== null) {
        series[0].markLine = { symbol: "none", data: [{ yAxis: data.target, name: "目标" }], lineStyle: { color: "#d7301f", type: "dashed" } };
      }
      chart.setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 50, right: 20, top: 30, bottom: 30 },
                        xAxis: { type: "category", data: points.map(function (p) { return p.label; }) },
                        yAxis: { type: "value", name: data.unit }, series: series }, true);
      document.querySelectorAll("#trend-tabs button").forEach(function (b) { b.classList.toggle("on", b.dataset.series === key); });
    }
    document.querySelectorAll("#trend-tabs button").forEach(function (b) {
      b.addEventListener("click", function () { show(b.dataset.series); });
    });
    show(data.grain);
    return chart;
  }

  var builders = { tiles: tiles, trend: trend };
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) { charts.push(builders[el.dataset.chart](el)); });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.documentElement.dataset.chartsReady = String(charts.length);
})();
