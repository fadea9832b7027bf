// BRAiN EventStream dashboard: the Analytics page, fed by the analytics module
// (GET /api/analytics/rates?window=1m|1h|24h and GET /api/analytics/modules?window=...).
//
// The line chart is the server's history of events/s by module (GET /api/stats/series, sampled every 5 s
// whether or not a page is open; 15 min of it for the 1m window). The series span every tenant, so for a
// key that is not an admin the page draws samples it takes itself instead: every refresh, each module's
// events/s over the last minute. The bar charts show the window as the analytics module counts it.
//
// Fragment option: `#analytics/window=1m|1h|24h`.
"use strict";

(function () {
  const D = window.BrainDash;
  const { $, el } = D;
  const WINDOWS = { "1m": 60e3, "1h": 3600e3, "24h": 86400e3 };
  /** The server series shown for each window (the shortest series is 15 min). */
  const SERIES = { "1m": "15m", "1h": "1h", "24h": "24h" };
  /** Samples kept for the line chart (24 h at one sample every few seconds would be far more: keep the newest). */
  const MAX_SAMPLES = 5000;
  /** Modules drawn as lines, the busiest first. */
  const MAX_LINES = 8;
  const OUTCOMES = [
    { key: "created", label: "created", color: "#2f6fdf" },
    { key: "completed", label: "completed", color: "#1f8a4c" },
    { key: "failed", label: "failed", color: "#c8372d" },
  ];

  const page = { loaded: false, window: "1h", samples: [], busy: false, noSeries: false };

  function perSecond(rates) {
    const out = {};
    for (const m of rates.modules || []) out[m.key] = m.count / rates.window_seconds;
    return out;
  }

  /** The series of the window from the server, or `null` for a key that may not read it. */
  async function loadSeries(w) {
    if (page.noSeries) return null;
    try {
      return await D.api(`/api/stats/series${D.query({ window: SERIES[w] })}`);
    } catch (e) {
      if (e.status !== 403) throw e;
      page.noSeries = true;
      return null;
    }
  }

  function drawLines(history) {
    const now = Date.now();
    const from = history ? history.from : now - WINDOWS[page.window];
    const samples = history ? history.samples.map((s) => ({ t: s.t, modules: s.rates || {} })) : page.samples;
    const shown = samples.filter((s) => s.t >= from);
    const peak = {};
    for (const s of shown) for (const [k, v] of Object.entries(s.modules)) peak[k] = Math.max(peak[k] || 0, v);
    const names = Object.keys(peak)
      .sort((a, b) => peak[b] - peak[a] || a.localeCompare(b))
      .slice(0, MAX_LINES);
    const series = names.map((name) => ({ name, points: shown.map((s) => [s.t, s.modules[name] || 0]) }));
    D.charts.lines($("chart-rate-line"), series, {
      from: shown.length ? shown[0].t : from,
      to: now,
      unit: "events/s",
      label: "events per second by module over time",
      emptyText: "No events in the last minute yet.",
    });
  }

  function drawBars(rates) {
    const items = (rates.modules || []).map((m) => ({ key: m.key, value: m.count / rates.window_seconds }));
    D.charts.bars($("chart-rate-bars"), items, {
      format: (v) => `${D.rate(v)}/s`,
      label: `events per second by module over ${rates.window}`,
      emptyText: `No events in the last ${rates.window}.`,
    });
    $("analytics-total").textContent = `${D.num(rates.total)} events · ${D.rate(rates.per_second)}/s over ${rates.window}`;
  }

  function ratio(r) {
    return r === null || r === undefined ? "–" : `${(100 * r).toFixed(1)} %`;
  }

  function drawModules(report) {
    const mods = report.modules || [];
    const finished = mods.filter((m) => m.created + m.completed + m.failed > 0);
    D.charts.grouped(
      $("chart-outcomes"),
      finished.map((m) => ({ key: m.module, values: m })),
      OUTCOMES,
      { label: `created, completed and failed per module over ${report.window}`, emptyText: `No created/completed/failed events in ${report.window}.` },
    );
    const rows = mods.map((m) =>
      el(
        "tr",
        { "data-module": m.module },
        el("td", { class: "mono" }, m.module),
        el("td", { class: "num" }, D.num(m.events)),
        el("td", { class: "num" }, D.num(m.created)),
        el("td", { class: "num" }, D.num(m.completed)),
        el("td", { class: "num" + (m.failed > 0 ? " bad" : "") }, D.num(m.failed)),
        el("td", { class: "num" + (m.failure_ratio > 0 ? " bad" : "") }, ratio(m.failure_ratio)),
      ),
    );
    D.replaceRows($("analytics-modules-body"), rows, "No events counted", 6);
  }

  async function refresh() {
    if (page.busy) return;
    page.busy = true;
    try {
      const w = page.window;
      const [minute, rates, modules, series] = await Promise.all([
        D.api("/api/analytics/rates?window=1m"),
        w === "1m" ? null : D.api(`/api/analytics/rates${D.query({ window: w })}`),
        D.api(`/api/analytics/modules${D.query({ window: w })}`),
        loadSeries(w),
      ]);
      page.samples.push({ t: Date.now(), modules: perSecond(minute) });
      if (page.samples.length > MAX_SAMPLES) page.samples.splice(0, page.samples.length - MAX_SAMPLES);
      drawLines(series);
      drawBars(rates || minute);
      drawModules(modules);
      $("analytics-error").textContent = "";
    } catch (e) {
      $("analytics-error").textContent = e.status === 404 ? "The analytics module is not enabled on this server." : `Analytics failed: ${e.message}`;
    } finally {
      page.busy = false;
    }
  }

  function setWindow(w) {
    if (!WINDOWS[w]) return false;
    page.window = w;
    $("analytics-window").value = w;
    for (const node of document.querySelectorAll("[data-window-label]")) node.textContent = `last ${w}`;
    return true;
  }

  D.pages.analytics = {
    async show(params) {
      const changed = setWindow(params.get("window")) || !page.loaded;
      page.loaded = true;
      if (changed) await refresh();
    },
    refresh,
  };

  $("analytics-window").addEventListener("change", (e) => {
    setWindow(e.target.value);
    refresh();
  });
  setWindow(page.window);
})();
