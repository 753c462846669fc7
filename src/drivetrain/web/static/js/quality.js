// The quality dashboard's charts, drawn by ECharts from the JSON the page carries (#quality-charts):
// stacked bars of distinct cars per component for the most affected series, and a weekly trend line
// per component. A chart with nothing to show says so instead.
(function () {
  "use strict";

  var source = document.getElementById("quality-charts");
  if (!source || !window.echarts) return;
  var charts = JSON.parse(source.textContent);
  var drawn = [];
  var legend = { type: "scroll", bottom: 0 };
  var grid = { left: 8, right: 16, top: 16, bottom: 40, containLabel: true };

  function draw(id, option, hasData) {
    var element = document.getElementById(id);
    if (!element) return;
    if (!hasData) {
      element.classList.add("chart-empty");
      element.textContent = element.dataset.empty || "";
      return;
    }
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(option);
    drawn.push(chart);
  }

  var components = charts.components;
  draw("chart-components", {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: legend,
    grid: grid,
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: components.categories },
    series: components.stacks.map(function (stack) {
      return { name: stack.name, type: "bar", stack: "cars", barMaxWidth: 28, data: stack.data };
    })
  }, components.stacks.length > 0);

  var trend = charts.trend;
  draw("chart-trend", {
    tooltip: { trigger: "axis" },
    legend: legend,
    grid: grid,
    xAxis: { type: "category", boundaryGap: false, data: trend.weeks },
    yAxis: { type: "value", minInterval: 1 },
    series: trend.lines.map(function (line) {
      return { name: line.name, type: "line", data: line.data, symbolSize: 6 };
    })
  }, trend.lines.length > 0);

  window.addEventListener("resize", function () {
    drawn.forEach(function (chart) { chart.resize(); });
  });
})();
