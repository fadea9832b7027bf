// BRAiN EventStream dashboard: hand-written SVG charts (a line chart over time, horizontal bars, grouped
// vertical bars). Labels are SVG text nodes (textContent); nothing is parsed as markup.
"use strict";

(function () {
  const D = window.BrainDash;
  const { el, svg } = D;
  const C = (D.charts = {});

  const W = 640;
  const PALETTE = ["#2f6fdf", "#1f8a4c", "#c8372d", "#b7791f", "#7b4fd6", "#0f8b8d", "#d6457f", "#5b6b82"];
  C.color = (i) => PALETTE[i % PALETTE.length];

  /** A round upper bound for an axis: 1, 2, 5 times a power of ten. */
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function frame(height, label) {
    return svg("svg", { viewBox: `0 0 ${W} ${height}`, class: "chart", role: "img", "aria-label": label });
  }

  function empty(container, text) {
    container.replaceChildren(el("p", { class: "muted chart-empty" }, text));
  }

  function clockLabel(ms) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function legend(names) {
    return el(
      "div",
      { class: "legend" },
      names.map((name, i) => {
        const swatch = el("span", { class: "swatch" });
        swatch.style.background = C.color(i);
        return el("span", { class: "legend-item", "data-series": name }, swatch, name);
      }),
    );
  }

  /**
   * A line chart: `series` = [{name, points: [[ms, value], ...]}] drawn between `from` and `to` (ms),
   * with a value axis labelled in `unit`.
   */
  C.lines = function (container, series, opts) {
    const withData = series.filter((s) => s.points.length > 0);
    if (withData.length === 0) return empty(container, opts.emptyText || "No data yet");
    const H = 220;
    const m = { l: 48, r: 12, t: 12, b: 24 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const max = niceMax(Math.max(...withData.flatMap((s) => s.points.map((p) => p[1]))));
    const span = Math.max(1, opts.to - opts.from);
    const x = (t) => m.l + (pw * Math.min(Math.max(t - opts.from, 0), span)) / span;
    const y = (v) => m.t + ph - (ph * v) / max;
    const chart = frame(H, opts.label || "line chart");
    chart.setAttribute("data-chart", "lines");
    for (const f of [0, 0.5, 1]) {
      const v = max * f;
      chart.append(
        svg("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), class: "grid-line" }),
        svg("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, D.rate(v)),
      );
    }
    chart.append(
      svg("text", { x: m.l, y: H - 6, class: "axis" }, clockLabel(opts.from)),
      svg("text", { x: W - m.r, y: H - 6, "text-anchor": "end", class: "axis" }, clockLabel(opts.to)),
      svg("text", { x: m.l + 4, y: m.t + 10, class: "axis unit" }, opts.unit || ""),
    );
    series.forEach((s, i) => {
      if (s.points.length === 0) return;
      const g = svg("g", { "data-series": s.name, "data-points": s.points.length, stroke: C.color(i), fill: C.color(i) });
      if (s.points.length > 1) {
        const pts = s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
        g.append(svg("polyline", { points: pts, fill: "none", "stroke-width": 2 }));
      }
      const last = s.points[s.points.length - 1];
      g.append(
        svg("circle", { cx: x(last[0]), cy: y(last[1]), r: 3, "data-value": last[1] }, svg("title", {}, `${s.name}: ${D.rate(last[1])} ${opts.unit || ""}`)),
      );
      chart.append(g);
    });
    container.replaceChildren(chart, legend(series.map((s) => s.name)));
  };

  /** Horizontal bars: `items` = [{key, value}], with each value printed by `format`. */
  C.bars = function (container, items, opts) {
    if (items.length === 0) return empty(container, opts.emptyText || "No data yet");
    const rowH = 24;
    const labelW = 150;
    const valueW = 70;
    const H = items.length * rowH + 8;
    const max = Math.max(...items.map((it) => it.value), 0) || 1;
    const chart = frame(H, opts.label || "bar chart");
    chart.setAttribute("data-chart", "bars");
    items.forEach((it, i) => {
      const top = 4 + i * rowH;
      const w = Math.max(it.value > 0 ? 2 : 0, ((W - labelW - valueW) * it.value) / max);
      chart.append(
        svg("text", { x: labelW - 8, y: top + 16, "text-anchor": "end", class: "label" }, it.key),
        svg(
          "rect",
          { x: labelW, y: top + 4, width: w.toFixed(1), height: rowH - 8, rx: 3, fill: C.color(0), "data-key": it.key, "data-value": it.value },
          svg("title", {}, `${it.key}: ${opts.format(it.value)}`),
        ),
        svg("text", { x: labelW + w + 6, y: top + 16, class: "value" }, opts.format(it.value)),
      );
    });
    container.replaceChildren(chart);
  };

  /**
   * Grouped vertical bars: `groups` = [{key, values: {seriesKey: number}}], `series` = [{key, label, color}].
   */
  C.grouped = function (container, groups, series, opts) {
    if (groups.length === 0) return empty(container, opts.emptyText || "No data yet");
    const H = 240;
    const m = { l: 48, r: 12, t: 12, b: 40 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const max = niceMax(Math.max(...groups.flatMap((g) => series.map((s) => g.values[s.key] || 0))));
    const y = (v) => m.t + ph - (ph * v) / max;
    const gw = pw / groups.length;
    const bw = Math.max(2, Math.min(28, (gw * 0.8) / series.length));
    const chart = frame(H, opts.label || "grouped bar chart");
    chart.setAttribute("data-chart", "grouped");
    for (const f of [0, 0.5, 1]) {
      chart.append(
        svg("line", { x1: m.l, x2: W - m.r, y1: y(max * f), y2: y(max * f), class: "grid-line" }),
        svg("text", { x: m.l - 6, y: y(max * f) + 4, "text-anchor": "end", class: "axis" }, D.num(max * f)),
      );
    }
    groups.forEach((g, gi) => {
      const left = m.l + gi * gw + (gw - bw * series.length) / 2;
      series.forEach((s, si) => {
        const v = g.values[s.key] || 0;
        chart.append(
          svg(
            "rect",
            { x: (left + si * bw).toFixed(1), y: y(v).toFixed(1), width: (bw - 1).toFixed(1), height: (m.t + ph - y(v)).toFixed(1), fill: s.color, "data-key": g.key, "data-series": s.key, "data-value": v },
            svg("title", {}, `${g.key} ${s.label}: ${D.num(v)}`),
          ),
        );
      });
      const label = g.key.length > 12 ? g.key.slice(0, 11) + "…" : g.key;
      chart.append(svg("text", { x: m.l + gi * gw + gw / 2, y: H - m.b + 16, "text-anchor": "middle", class: "label" }, label));
    });
    container.replaceChildren(chart, legend(series.map((s) => s.label)));
    container.querySelectorAll(".legend .swatch").forEach((sw, i) => (sw.style.background = series[i].color));
  };
})();
