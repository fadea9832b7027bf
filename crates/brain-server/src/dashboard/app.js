// BRAiN EventStream dashboard: the Overview, Events and Catalog pages, the live tail, the key and the
// hash router. Vanilla JS, no dependencies; loaded last (core.js, proof.js, charts.js, audit.js and
// analytics.js come first).
//
// The page calls the JSON API with the key the user gave (Authorization: Bearer). The live tail uses
// EventSource, which cannot send headers, so it passes the key as ?access_token= (accepted on
// /api/events/stream only). Every value that comes from the API is rendered as text (text nodes,
// textContent), never parsed as HTML.
//
// Routing: the fragment is `#<page>[/<options>]`, options as URL parameters (`#audit/event=ID`); the
// legacy form `#key=K&live=off&event=ID` (no page) still works. `key=` is stored and removed from the
// address bar; `live=off` skips the live tail.
//
// The key lives in sessionStorage (this tab, until it closes) unless "Remember" is ticked (localStorage);
// "Forget key" and any 401 remove it from both.
"use strict";

(function () {
  const KEY_STORAGE = "brain.apiKey";
  const REFRESH_MS = 3000;
  const RATE_WINDOW_MS = 60000;

  const PAGES = ["overview", "events", "audit", "analytics", "catalog"];

  const state = {
    source: null, // the EventSource
    listened: new Set(), // event types the EventSource has a listener for
    arrivals: [], // [{at: ms, type}] in the rate window
    seen: {}, // type -> count since the server started (admins)
    nextCursor: null,
    filters: null,
    selected: null,
    catalog: [],
    timer: null,
    live: true, // false with #live=off: no EventSource (headless snapshots wait for open requests)
    page: null, // the page shown
    started: false, // the first loads are done
  };

  const D = window.BrainDash;
  const { $, el, replaceRows, num, shortId, formatTime, formatAge, notice, ApiError, api, query } = D;

  // ---- the fragment: page, options, key ----

  /** Splits the fragment into the page and its options (URL parameters). */
  function parseHash() {
    const hash = window.location.hash.replace(/^#/, "");
    const slash = hash.indexOf("/");
    let page = "";
    let rest = "";
    if (slash >= 0) {
      page = hash.slice(0, slash);
      rest = hash.slice(slash + 1);
    } else if (hash.includes("=")) {
      rest = hash;
    } else {
      page = hash;
    }
    const params = new URLSearchParams(rest);
    if (!PAGES.includes(page)) page = params.get("event") ? "events" : "overview";
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
      const rest = params.toString();
      history.replaceState(null, "", window.location.pathname + window.location.search + `#${page}${rest ? "/" + rest : ""}`);
    }
    return key;
  }

  /** Shows the page the fragment names and hands it its options. */
  async function route() {
    const { page, params } = parseHash();
    state.page = page;
    for (const section of document.querySelectorAll("[data-page]")) section.hidden = section.dataset.page !== page;
    for (const a of document.querySelectorAll(".top nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${page}`);
    if (!state.started || !D.key) return;
    if (page === "events" && params.get("event")) openEvent(params.get("event"));
    const p = D.pages[page];
    if (p) {
      try {
        await p.show(params);
      } catch (e) {
        notice(`Cannot show the ${page} page: ${e.message}`);
      }
    }
  }

  function openEvent(id) {
    if (id === state.selected) return;
    api(`/api/events/${encodeURIComponent(id)}`).then(showEvent, (e) => notice(`Cannot open event ${id}: ${e.message}`));
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

  async function loadConsumers() {
    const body = await api("/api/consumers");
    const rows = body.consumers.map((c) => {
      const st = c.stats || {};
      const dl = c.dead_letters || {};
      return el(
        "tr",
        { "data-consumer": c.name },
        el("td", { class: "mono" }, c.name),
        el("td", { class: c.running_here ? "ok" : "muted" }, c.running_here ? "yes" : "no"),
        el("td", { class: "num" + (c.lag > 0 ? " bad" : "") }, num(c.lag)),
        el("td", { class: "num" }, num(c.pending)),
        el("td", { class: "num" }, num(st.in_flight)),
        el("td", { class: "num" }, num(st.processed)),
        el("td", { class: "num" }, num(st.failures)),
        el("td", { class: "num" + (dl.open > 0 ? " bad" : "") }, num(dl.open)),
      );
    });
    replaceRows($("consumers-body"), rows, "No consumers", 8);
  }

  async function loadDeadLetters() {
    const body = await api("/api/dlq?status=open&limit=100");
    const rows = body.dead_letters.map((d) =>
      el(
        "tr",
        { "data-dead-letter": d.id },
        el("td", { class: "num" }, d.id),
        el("td", { class: "mono" }, d.subscriber),
        el("td", { class: "mono" }, d.event_type || "?"),
        el("td", { class: "error-text", title: d.error }, d.error),
        el("td", { class: "num" }, d.attempts),
        el("td", {}, formatTime(d.last_failed_at)),
        el(
          "td",
          {},
          el("button", { type: "button", onclick: () => actOnDeadLetter(d.id, "retry") }, "Retry"),
          " ",
          el("button", { type: "button", class: "danger", onclick: () => actOnDeadLetter(d.id, "discard") }, "Discard"),
        ),
      ),
    );
    replaceRows($("dlq-body"), rows, "No open dead letters", 7);
  }

  async function actOnDeadLetter(id, action) {
    if (action === "discard" && !window.confirm(`Discard dead letter ${id}? The event will not be handled.`)) return;
    try {
      await api(`/api/dlq/${encodeURIComponent(id)}/${action}`, { method: "POST" });
      notice("");
    } catch (e) {
      notice(`Cannot ${action} dead letter ${id}: ${e.message}`);
    }
    refresh();
  }

  // ---- rates ----

  function countArrival(type, at) {
    state.arrivals.push({ at, type });
    listenFor(type);
  }

  function renderRates() {
    const now = Date.now();
    state.arrivals = state.arrivals.filter((a) => now - a.at <= RATE_WINDOW_MS);
    const perType = {};
    for (const a of state.arrivals) perType[a.type] = (perType[a.type] || 0) + 1;
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
    $("g-rate").textContent = num(state.arrivals.length);
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
  }

  function stopLive() {
    if (state.source) state.source.close();
    state.source = null;
    setLive(false);
  }

  function setLive(on) {
    const pill = $("live");
    pill.textContent = on ? "live" : "live: off";
    pill.className = on ? "pill on" : "pill off";
  }

  // ---- the event browser ----

  function eventRow(ev) {
    return el(
      "tr",
      { "data-event-id": ev.id, class: state.selected === ev.id ? "selected" : null, onclick: () => showEvent(ev) },
      el("td", { title: ev.timestamp }, formatTime(ev.timestamp)),
      el("td", { class: "mono" }, ev.type),
      el("td", {}, ev.source),
      el("td", { class: "mono", title: ev.correlation_id }, shortId(ev.correlation_id) || "–"),
    );
  }

  async function loadEvents(append) {
    const form = $("event-filters");
    if (!append) {
      const data = new FormData(form);
      state.filters = { type: data.get("type"), source: data.get("source"), correlation_id: data.get("correlation_id"), since: data.get("since") };
      state.nextCursor = null;
    }
    const params = Object.assign({ limit: 200 }, state.filters, append ? { cursor: state.nextCursor } : {});
    let body;
    try {
      body = await api(`/api/events${query(params)}`);
      notice("");
    } catch (e) {
      // A 401 has asked for another key and said why already.
      if (!(e instanceof ApiError && e.status === 401)) notice(`Event search failed: ${e.message}`);
      return;
    }
    state.nextCursor = body.next_cursor;
    $("events-more").hidden = !state.nextCursor;
    // Pages come oldest first; show the newest on top.
    const rows = body.events.slice().reverse().map(eventRow);
    const tbody = $("events-body");
    if (append) {
      tbody.querySelectorAll("tr.empty").forEach((r) => r.remove());
      tbody.prepend(...rows);
    } else {
      replaceRows(tbody, rows, "No events match", 4);
    }
  }

  async function showEvent(ev) {
    state.selected = ev.id;
    for (const tr of $("events-body").querySelectorAll("tr")) {
      tr.classList.toggle("selected", tr.dataset.eventId === ev.id);
    }
    const detail = $("event-detail");
    const chainBox = el("div", { id: "correlation-chain" }, el("p", { class: "muted" }, "Loading…"));
    detail.replaceChildren(
      el("h3", {}, "Envelope ", el("span", { class: "muted mono" }, ev.id)),
      el("pre", { id: "event-envelope" }, JSON.stringify(ev, null, 2)),
      el("h3", {}, "Correlation chain"),
      chainBox,
    );
    try {
      chainBox.replaceChildren(await correlationChain(ev));
    } catch (e) {
      chainBox.replaceChildren(el("p", { class: "bad" }, `Cannot load the chain: ${e.message}`));
    }
  }

  /** The events sharing `ev`'s correlation id, as a tree of causation links. */
  async function correlationChain(ev) {
    let events = [ev];
    if (ev.correlation_id) {
      const body = await api(`/api/events${query({ correlation_id: ev.correlation_id, limit: 1000 })}`);
      events = body.events.length ? body.events : [ev];
    } else if (ev.causation_id) {
      try {
        events = [await api(`/api/events/${encodeURIComponent(ev.causation_id)}`), ev];
      } catch (_) {
        // The cause is not visible to this key or not indexed: show the event alone.
      }
    }
    const byId = new Map(events.map((e) => [e.id, e]));
    const children = new Map();
    const roots = [];
    for (const e of events) {
      if (e.causation_id && byId.has(e.causation_id) && e.causation_id !== e.id) {
        if (!children.has(e.causation_id)) children.set(e.causation_id, []);
        children.get(e.causation_id).push(e);
      } else {
        roots.push(e);
      }
    }
    const list = el("ol", { class: "chain" });
    const visited = new Set();
    const walk = (e, depth) => {
      if (visited.has(e.id)) return;
      visited.add(e.id);
      const cause = e.causation_id ? byId.get(e.causation_id) : null;
      const li = el(
        "li",
        { class: e.id === ev.id ? "current" : null, "data-event-id": e.id, onclick: () => showEvent(e) },
        el("span", { class: "mono" }, e.type),
        " ",
        el("span", { class: "muted" }, formatTime(e.timestamp), " · ", e.source),
        e.causation_id
          ? el("div", { class: "caused" }, "caused by ", cause ? `${cause.type} ` : "", el("span", { class: "mono" }, shortId(e.causation_id)))
          : null,
      );
      li.style.marginLeft = `${Math.min(depth, 8) * 18}px`;
      list.append(li);
      for (const c of children.get(e.id) || []) walk(c, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    const caption = ev.correlation_id
      ? el("p", { class: "muted" }, `${events.length} event(s) with correlation id `, el("span", { class: "mono" }, ev.correlation_id))
      : el("p", { class: "muted" }, "This event has no correlation id.");
    return el("div", {}, caption, list);
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
    const results = await Promise.allSettled([loadStats(), loadConsumers(), loadDeadLetters()]);
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
    await Promise.allSettled([loadCatalog(), refresh(), seedRates(), loadEvents(false)]);
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
    $("event-filters").addEventListener("submit", (e) => {
      e.preventDefault();
      loadEvents(false);
    });
    $("events-more").addEventListener("click", () => loadEvents(true));
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
