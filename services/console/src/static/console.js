// The console's only script: draws the search histogram and the timeline strip with uPlot (served
// from node_modules by the console itself), and turns a range brushed on the histogram into a
// search narrowed to it. Everything else is server-rendered and works without it.
(function () {
  'use strict';
  var hist = document.getElementById('histogram');
  if (hist && window.uPlot) {
    var spec = JSON.parse(hist.getAttribute('data-chart'));
    var xs = spec.buckets.map(function (b) {
      return b[0] / 1000;
    });
    var ys = spec.buckets.map(function (b) {
      return b[1];
    });
    var width = Math.max(300, hist.clientWidth || 900);
    var plot = new uPlot(
      {
        width: width,
        height: 160,
        cursor: { drag: { x: true, y: false, setScale: false } },
        select: { show: true },
        legend: { show: false },
        scales: { x: { time: true } },
        axes: [{}, { size: 50 }],
        series: [
          {},
          { label: 'events', fill: 'rgba(40,110,200,0.45)', stroke: 'rgb(40,110,200)', paths: uPlot.paths.bars({ size: [0.9, 100] }), points: { show: false } },
        ],
        hooks: {
          setSelect: [
            function (u) {
              if (u.select.width < 3) return;
              var from = Math.floor(u.posToVal(u.select.left, 'x') * 1000);
              var to = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x') * 1000) + spec.intervalMs - 1;
              var url = new URL(spec.href, window.location.origin);
              url.searchParams.set('from', new Date(from).toISOString());
              url.searchParams.set('to', new Date(to).toISOString());
              window.location.assign(url.pathname + url.search);
            },
          ],
        },
      },
      [xs, ys],
      hist,
    );
    hist.setAttribute('data-ready', '1');
    window.__consoleHistogram = plot;
  }
  var strip = document.getElementById('timeline-chart');
  if (strip && window.uPlot) {
    var pts = JSON.parse(strip.getAttribute('data-points'));
    if (pts.length > 0) {
      var colors = { 1: 'rgb(40,110,200)', 2: 'rgb(220,120,0)', 3: 'rgb(200,30,30)' };
      var lanes = [1, 2, 3].map(function (lane) {
        return pts.map(function (p) {
          return p[1] === lane ? lane : null;
        });
      });
      new uPlot(
        {
          width: Math.max(300, strip.clientWidth || 900),
          height: 120,
          legend: { show: true },
          scales: { x: { time: true }, y: { range: [0.5, 3.5] } },
          axes: [{}, { show: false }],
          series: [{}].concat(
            ['exchange', 'rejection / reuse', 'alert'].map(function (label, i) {
              return {
                label: label,
                stroke: colors[i + 1],
                paths: function () {
                  return null;
                },
                points: { show: true, size: 8, fill: colors[i + 1] },
              };
            }),
          ),
        },
        [
          pts.map(function (p) {
            return p[0] / 1000;
          }),
        ].concat(lanes),
        strip,
      );
      strip.setAttribute('data-ready', '1');
    }
  }
})();
