/* Charts for the console and the live pages: uPlot (npm, served from our static files). Amounts
   arrive as integers in base units; the axis shows whole collateral units. */
(function (global) {
  "use strict";

  function units(value, decimals) {
    return value / Math.pow(10, decimals);  // display only: the page shows exact figures elsewhere
  }

  function width(el) { return Math.max(320, Math.min(960, (el.clientWidth || 800) - 16)); }

  // A single instant (or all points in one second) would make uPlot span years: pad it.
  function timeRange(u, min, max) { return min === max ? [min - 60, max + 60] : [min, max]; }

  function balanceChart(el, data, opts) {
    if (!el || !data || !data.t || data.t.length === 0 || typeof uPlot === "undefined") return null;
    const decimals = data.decimals || 6;
    const series = [{}, { label: "total " + (data.symbol || ""), stroke: "#417690", width: 2, fill: "rgba(65,118,144,0.08)" }];
    const columns = [data.t, data.total.map((v) => units(v, decimals))];
    if (data.locked) {
      series.push({ label: "locked", stroke: "#ba2121", width: 1.5 });
      columns.push(data.locked.map((v) => units(v, decimals)));
    }
    el.innerHTML = "";
    const chart = new uPlot({ width: width(el), height: (opts && opts.height) || 260, series: series,
                              axes: [{}, { size: 80 }], scales: { x: { time: true, range: timeRange } } }, columns, el);
    return {
      chart: chart,
      push: function (t, total, locked) {
        columns[0].push(t); columns[1].push(units(total, decimals));
        if (columns[2]) columns[2].push(units(locked || 0, decimals));
        chart.setData(columns);
      },
    };
  }

  global.consoleCharts = { balanceChart: balanceChart };
})(window);
