// BRAiN EventStream dashboard: the Overview page's charts over time, fed by the server's sampler
// (GET /api/stats/series?window=15m|1h|24h, then each new sample from the SSE route
// /api/stats/series/stream, or a reload every refresh when the live tail is off).
//
// Four line charts: events/s by module, lag per subscriber, open dead letters, outbox depth. The window
// buttons (15 min / 1 h / 24 h) reload the window; the fragment option `#overview/window=15m` picks one.
// The series span every tenant, so they need an admin key: other keys see a note instead.
"use strict";

(function () {
  const D = window.BrainDash;
  const { $ } = D;
  const WINDOWS = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3 };
  /** Lines drawn per chart, the largest first. */
  const MAX_LINES = 8;

  const page = { window: "15m", samples: [], interval: 5, loaded: false, source: null, busy: false, forbidden: false };

  /** One line per key of `pick(sample)` (an object of numbers), the largest peaks first. */
  function keyedSeries(samples, pick) {
    const peak = {};
    for (const s of samples) for (const [k, v] of Object.entries(pick(s) || {})) peak[k] = Math.max(peak[k] || 0, v);
    const names = Object.keys(peak)
      .sort((a, b) => peak[b] - peak[a] || a.localeCompare(b))
      .slice(0, MAX_LINES);
    return names.map((name) => ({ name, points: samples.map((s) => [s.t, (pick(s) || {})[name] || 0]) }));
  }

  function singleSeries(name, samples, pick) {
    return [{ name, points: samples.filter((s) => pick(s) !== null && pick(s) !== undefined).map((s) => [s.t, pick(s)]) }];
  }

  function draw() {
    const now = Date.now();
    const from = now - WINDOWS[page.window];
    const shown = page.samples.filter((s) => s.t >= from);
    const opts = (label, unit, emptyText) => ({ from, to: now, label, unit, emptyText });
    const waiting = "No samples yet: the server records one every few seconds.";
    D.charts.lines($("chart-series-rates"), keyedSeries(shown, (s) => s.rates), opts("events per second by module", "events/s", waiting));
    D.charts.lines($("chart-series-lag"), keyedSeries(shown, (s) => s.lag), opts("lag per subscriber", "events", waiting));
    D.charts.lines($("chart-series-dlq"), singleSeries("open", shown, (s) => s.dead_letters_open), opts("open dead letters", "letters", waiting));
    D.charts.lines($("chart-series-outbox"), singleSeries("depth", shown, (s) => s.outbox_depth), opts("outbox depth", "events", waiting));
    $("series-meta").textContent = `${shown.length} samples · one every ${D.rate(page.interval)} s${page.window === "24h" ? ", one-minute buckets" : ""}`;
  }

  async function load() {
    if (page.busy) return;
    page.busy = true;
    try {
      const body = await D.api(`/api/stats/series${D.query({ window: page.window })}`);
      page.samples = body.samples || [];
      page.interval = body.interval_seconds;
      page.forbidden = false;
      $("series-error").textContent = "";
      draw();
    } catch (e) {
      page.forbidden = e.status === 403;
      $("series-error").textContent = page.forbidden ? "The charts over time span every tenant: they need an admin key." : `Cannot load the series: ${e.message}`;
    } finally {
      page.busy = false;
    }
  }

  function onSample(msg) {
    let s;
    try {
      s = JSON.parse(msg.data);
    } catch (_) {
      return;
    }
    // The 24 h window shows minute buckets: a fine sample is added only after the last bucket.
    const last = page.samples[page.samples.length - 1];
    if (last && s.t <= last.t) return;
    page.samples.push(s);
    const from = Date.now() - WINDOWS[page.window];
    while (page.samples.length && page.samples[0].t < from) page.samples.shift();
    if (D.currentPage && D.currentPage() === "overview") draw();
  }

  function setWindow(w) {
    if (!WINDOWS[w]) return false;
    const changed = w !== page.window;
    page.window = w;
    for (const b of document.querySelectorAll("#series-window button")) b.classList.toggle("active", b.dataset.window === w);
    return changed;
  }

  D.seriesLive = {
    start() {
      this.stop();
      if (page.forbidden) return;
      const source = new EventSource(`/api/stats/series/stream?access_token=${encodeURIComponent(D.key)}`);
      source.addEventListener("sample", onSample);
      page.source = source;
    },
    stop() {
      if (page.source) page.source.close();
      page.source = null;
    },
  };

  D.pages.overview = {
    async show(params) {
      const changed = setWindow(params.get("window"));
      if (changed || !page.loaded || page.forbidden) {
        page.loaded = true;
        await load();
      } else {
        draw();
      }
    },
    refresh() {
      // With the live stream open, samples arrive by themselves; without it, reload the window. A key
      // that may not read the series is not asked again on every refresh.
      if (page.forbidden) return null;
      if (!page.source || page.source.readyState === 2) return load();
      return null;
    },
  };

  for (const b of document.querySelectorAll("#series-window button")) {
    b.addEventListener("click", () => {
      history.replaceState(null, "", `#overview/window=${b.dataset.window}`);
      if (setWindow(b.dataset.window)) load();
    });
  }
  setWindow(page.window);
})();
