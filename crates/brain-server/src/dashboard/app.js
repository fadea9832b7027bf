// BRAiN EventStream dashboard: the Overview gauges and rates, the Catalog page, the live tail, the key
// and the hash router. Vanilla JS, no dependencies; loaded last (core.js, proof.js, charts.js and the
// page scripts audit.js, analytics.js, overview.js, events.js, consumers.js, modules.js come first).
//
// The page calls the JSON API with the key the user gave (Authorization: Bearer). The live tail uses
// EventSource, which cannot send headers, so it passes the key as ?access_token= (accepted on
// /api/events/stream only). Every value that comes from the API is rendered as text (text nodes,
// textContent), never parsed as HTML.
//
// Routing: the fragment is `#<page>[/<options>]` or `#<page>?<options>`, options as URL parameters
// (`#audit/event=ID`, `#events?type=task.*`); `#event/ID` is an event's page. The legacy forms
// `#events/event=ID` and `#key=K&live=off&event=ID` (no page) still work. `key=` is stored and removed
// from the address bar; `live=off` skips the live tails.
//
// The key lives in sessionStorage (this tab, until it closes) unless "Remember" is ticked (localStorage);
// "Forget key" and any 401 remove it from both.
"use strict";

(function () {
  const KEY_STORAGE = "brain.apiKey";
  const REFRESH_MS = 3000;
  const RATE_WINDOW_MS = 60000;

  const PAGES = ["overview", "events", "event", "consumers", "modules", "audit", "analytics", "catalog"];

  const state = {
    source: null, // the EventSource
    listened: new Set(), // event types the EventSource has a listener for
    arrivals: [], // [{at: ms, type}] in the rate window
    serverRates: null, // {total, perType} of the last minute from the analytics module, when it runs
    seen: {}, // type -> count since the server started (admins)
    catalog: [],
    timer: null,
    live: true, // false with #live=off: no EventSource (headless snapshots wait for open requests)
    page: null, // the page shown
    started: false, // the first loads are done
  };

  const D = window.BrainDash;
  const { $, el, replaceRows, num, formatAge, notice, ApiError, api, query } = D;
  D.currentPage = () => state.page;

  // ---- the fragment: page, options, key ----

  /** Splits the fragment into the page and its options (URL parameters); `#event/ID` gives `id`. */
  function parseHash() {
    const hash = window.location.hash.replace(/^#/, "");
    const cut = hash.search(/[/?]/);
    let page = "";
    let rest = "";
    if (cut >= 0) {
      page = hash.slice(0, cut);
      rest = hash.slice(cut + 1);
    } else if (hash.includes("=")) {
      rest = hash;
    } else {
      page = hash;
    }
    let params;
    if (page === "event") {
      // `#event/ID[&key=..]`: the id is the first part; options may follow it.
      const amp = rest.indexOf("&");
      params = new URLSearchParams(amp >= 0 ? rest.slice(amp + 1) : "");
      params.set("id", decodeURIComponent(amp >= 0 ? rest.slice(0, amp) : rest));
    } else {
      params = new URLSearchParams(rest);
    }
    if (page === "events" && params.get("event")) {
      page = "event";
      params.set("id", params.get("event"));
    }
    if (!PAGES.includes(page)) {
      if (params.get("event")) {
        params.set("id", params.get("event"));
        page = "event";
      } else {
        page = "overview";
      }
    }
    return { page, params };
  }

  /** Reads `key=KEY` (and `live=off`) from the URL fragment, which the browser never sends. */
  function keyFromFragment() {
    const { page, params } = parseHash();
    if (params.get("live") === "off") state.live = false;
    const key = params.get("key");
    if (key) {
      // Keep the key out of the address bar and history; keep the page and its other options.
      params.delete("key");
      let tail;
      if (page === "event") {
        const id = params.get("id");
        params.delete("id");
        const more = params.toString();
        tail = `/${encodeURIComponent(id)}${more ? "&" + more : ""}`;
      } else {
        const rest = params.toString();
        tail = rest ? "/" + rest : "";
      }
      history.replaceState(null, "", window.location.pathname + window.location.search + `#${page}${tail}`);
    }
    return key;
  }

  /** Shows the page the fragment names and hands it its options. */
  async function route() {
    const { page, params } = parseHash();
    state.page = page;
    for (const section of document.querySelectorAll("[data-page]")) section.hidden = section.dataset.page !== page;
    const tab = page === "event" ? "events" : page;
    for (const a of document.querySelectorAll(".top nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${tab}`);
    if (!state.started || !D.key) return;
    const p = D.pages[page];
    if (p) {
      try {
        await p.show(params);
      } catch (e) {
        notice(`Cannot show the ${page} page: ${e.message}`);
      }
    }
  }

  function askForKey(message) {
    stopLive();
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
    $("key-form").hidden = false;
    document.querySelector("main").hidden = true;
    notice(message || "");
    $("key-input").focus();
  }

  /**
   * Keeps the key for this tab's session (sessionStorage: gone when the tab closes) or, when the user
   * asked to be remembered, in this browser (localStorage). Only one of the two holds it.
   */
  function saveKey(key, remember) {
    D.key = key;
    try {
      if (remember) {
        localStorage.setItem(KEY_STORAGE, key);
        sessionStorage.removeItem(KEY_STORAGE);
      } else {
        sessionStorage.setItem(KEY_STORAGE, key);
        localStorage.removeItem(KEY_STORAGE);
      }
    } catch (_) {
      // Storage disabled: keep it for this page only.
    }
  }

  /** The stored key: this tab's session first, then the browser's. */
  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORAGE) || localStorage.getItem(KEY_STORAGE);
    } catch (_) {
      return null;
    }
  }

  /** Removes the key from memory and from both storages (the "Forget key" button, and any 401). */
  function forgetKey() {
    D.key = null;
    try {
      sessionStorage.removeItem(KEY_STORAGE);
      localStorage.removeItem(KEY_STORAGE);
    } catch (_) {
      // Storage disabled: nothing was stored.
    }
  }

  // ---- panels ----

  async function loadStats() {
    const s = await api("/api/stats");
    $("backend").textContent = `${s.backend} · ${s.stream}`;
    const open = s.dead_letters ? s.dead_letters.open : null;
    $("g-dlq").textContent = num(open);
    $("g-dlq").classList.toggle("bad", open > 0);
    $("g-outbox").textContent = s.outbox ? num(s.outbox.depth) : "n/a";
    $("g-outbox-age").textContent = s.outbox ? formatAge(s.outbox.oldest_age_seconds) : "n/a";
    if (s.subscribers) {
      $("g-lag").textContent = num(s.subscribers.reduce((a, g) => a + (g.lag || 0), 0));
      $("g-subs").textContent = num(s.subscribers.length);
    } else {
      $("g-lag").textContent = "n/a";
      $("g-subs").textContent = "n/a";
    }
    state.seen = s.events_seen_by_type || {};
    for (const t of Object.keys(state.seen)) listenFor(t);
    renderRates();
  }

  // ---- rates ----

  function countArrival(type, at) {
    state.arrivals.push({ at, type });
    listenFor(type);
  }

  function renderRates() {
    const now = Date.now();
    state.arrivals = state.arrivals.filter((a) => now - a.at <= RATE_WINDOW_MS);
    // The analytics module's count of the last minute when it runs (exact at any rate); otherwise what
    // this page saw arrive (seeded with at most 1,000 events of the last minute).
    let perType = {};
    if (state.serverRates) perType = { ...state.serverRates.perType };
    else for (const a of state.arrivals) perType[a.type] = (perType[a.type] || 0) + 1;
    const types = new Set([...Object.keys(perType), ...Object.keys(state.seen)]);
    const list = [...types].map((t) => ({ type: t, rate: perType[t] || 0, seen: state.seen[t] }));
    list.sort((a, b) => b.rate - a.rate || (b.seen || 0) - (a.seen || 0) || a.type.localeCompare(b.type));
    const max = Math.max(1, ...list.map((r) => r.rate));
    const rows = list.slice(0, 15).map((r) => {
      const bar = el("div", { class: "bar" });
      bar.style.width = `${(100 * r.rate) / max}%`;
      if (r.rate === 0) bar.style.opacity = "0.15";
      return el(
        "tr",
        { "data-type": r.type },
        el("td", { class: "mono" }, r.type),
        el("td", { class: "num" }, num(r.rate)),
        el("td", {}, bar),
        el("td", { class: "num" }, num(r.seen)),
      );
    });
    replaceRows($("rates-body"), rows, "No events yet", 4);
    $("g-rate").textContent = num(state.serverRates ? state.serverRates.total : state.arrivals.length);
  }

  async function loadRates() {
    try {
      const r = await api(`/api/analytics/rates${query({ window: "1m" })}`);
      state.serverRates = { total: r.total, perType: Object.fromEntries((r.types || []).map((t) => [t.key, t.count])) };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) state.serverRates = null; // no analytics module
      else throw e;
    }
  }

  async function seedRates() {
    // The events of the last minute, so the rates are right before the live tail has seen any.
    const body = await api(`/api/events${query({ since: "60s", limit: 1000 })}`);
    const now = Date.now();
    for (const ev of body.events) {
      const at = Date.parse(ev.timestamp);
      countArrival(ev.type, isNaN(at) ? now : Math.min(at, now));
    }
    renderRates();
  }

  // ---- the live tail ----

  function listenFor(type) {
    if (!state.source || state.listened.has(type)) return;
    state.listened.add(type);
    state.source.addEventListener(type, onLiveEvent);
  }

  function onLiveEvent(msg) {
    let ev;
    try {
      ev = JSON.parse(msg.data);
    } catch (_) {
      return;
    }
    countArrival(ev.type || msg.type, Date.now());
    state.seen[ev.type] = (state.seen[ev.type] || 0) + 1;
  }

  function startLive() {
    stopLive();
    // SSE messages are named after the event type; EventSource only delivers named events to listeners
    // of that name, so the page listens for every type it knows (catalog, counters, seen events).
    const source = new EventSource(`/api/events/stream?access_token=${encodeURIComponent(D.key)}`);
    state.source = source;
    state.listened = new Set();
    source.addEventListener("message", onLiveEvent);
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    for (const t of state.catalog.map((c) => c.event_type)) listenFor(t);
    for (const t of Object.keys(state.seen)) listenFor(t);
    for (const a of state.arrivals) listenFor(a.type);
    D.seriesLive.start();
  }

  function stopLive() {
    D.seriesLive.stop();
    if (state.source) state.source.close();
    state.source = null;
    setLive(false);
  }

  function setLive(on) {
    const pill = $("live");
    pill.textContent = on ? "live" : "live: off";
    pill.className = on ? "pill on" : "pill off";
  }

  // ---- the catalog ----

  async function loadCatalog() {
    const body = await api("/api/catalog");
    state.catalog = body.types || [];
    $("catalog-meta").textContent = `${body.count} types · validation ${body.validation}`;
    renderCatalog();
    for (const c of state.catalog) listenFor(c.event_type);
  }

  function renderCatalog() {
    const needle = $("catalog-filter").value.trim().toLowerCase();
    const rows = state.catalog
      .filter((c) => !needle || [c.event_type, c.module, c.source, c.description].join(" ").toLowerCase().includes(needle))
      .map((c) =>
        el(
          "tr",
          { "data-catalog-type": c.event_type },
          el("td", { class: "mono" }, c.event_type),
          el("td", {}, c.module),
          el("td", {}, c.source),
          el("td", { class: "num" }, c.schema_version),
          el("td", {}, c.criticality),
          el("td", { class: "mono" }, (c.consumers || []).join(", ")),
          el("td", {}, c.description),
        ),
      );
    replaceRows($("catalog-body"), rows, "No types match", 7);
  }

  // ---- wiring ----

  async function refresh() {
    const results = await Promise.allSettled([loadStats(), loadRates()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed && !(failed.reason instanceof ApiError && failed.reason.status === 401)) {
      notice(`Refresh failed: ${failed.reason.message}`);
    }
    renderRates();
  }

  /** Every few seconds: the overview (its gauges also feed the header) and the page shown. */
  function tick() {
    refresh();
    const p = D.pages[state.page];
    if (p && p.refresh) p.refresh();
  }

  async function start() {
    $("key-form").hidden = true;
    document.querySelector("main").hidden = false;
    notice("");
    await Promise.allSettled([loadCatalog(), refresh(), seedRates()]);
    if (!D.key) return; // a 401 asked for a new key
    state.started = true;
    await route();
    if (state.live) startLive();
    if (state.timer) clearInterval(state.timer);
    state.timer = setInterval(tick, REFRESH_MS);
  }

  function init() {
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      $("key-input").value = "";
      saveKey(key, $("key-remember").checked);
      start();
    });
    $("change-key").addEventListener("click", () => askForKey(""));
    $("forget-key").addEventListener("click", () => {
      forgetKey();
      askForKey("The API key was removed from this browser.");
    });
    $("catalog-filter").addEventListener("input", renderCatalog);
    window.addEventListener("hashchange", route);
    D.onUnauthorized = (message) => {
      forgetKey();
      askForKey(message);
    };

    // A `#key=` link replaces a different stored key only when the user agrees: a link from someone
    // else would otherwise switch this browser to their tenant silently.
    const fromFragment = keyFromFragment();
    const stored = storedKey();
    if (fromFragment && (!stored || stored === fromFragment || window.confirm("This link carries a different API key. Use it instead of yours?"))) {
      saveKey(fromFragment, false);
    } else {
      D.key = stored;
    }
    route();
    if (D.key) start();
    else askForKey("");
  }

  init();
})();
