// BRAiN EventStream dashboard: the Events page (a filtered list, one server-side page at a time) and an
// event's page (envelope, payload, its correlation chain as a timeline with causation links, and its
// audit inclusion checked in this browser with proof.js).
//
// Fragments: `#events?type=task.*&source=..&correlation_id=..&since=1h` fills the filters and searches;
// `#event/ID` opens an event's page (the legacy `#events/event=ID` too).
"use strict";

(function () {
  const D = window.BrainDash;
  const { $, el, replaceRows, shortId, formatTime, notice, ApiError, api, query } = D;
  const PAGE_SIZE = 100;
  /** The correlation chain shows at most this many events (one page of the API). */
  const CHAIN_MAX = 500;
  const FILTERS = ["type", "source", "correlation_id", "since"];
  const RETRY_MS = 1500;
  const MAX_RETRIES = 20;

  const state = { filters: null, nextCursor: null, shown: 0, current: null, vkey: null, retry: null };

  // ---- the list ----

  function eventRow(ev) {
    return el(
      "tr",
      { "data-event-id": ev.id, onclick: () => (window.location.hash = `#event/${encodeURIComponent(ev.id)}`) },
      el("td", { title: ev.timestamp }, formatTime(ev.timestamp)),
      el("td", { class: "mono" }, ev.type),
      el("td", {}, ev.source),
      el("td", {}, ev.tenant_id || "–"),
      el("td", { class: "mono", title: ev.correlation_id }, shortId(ev.correlation_id) || "–"),
      el("td", { class: "mono", title: ev.id }, shortId(ev.id)),
    );
  }

  function readForm() {
    const data = new FormData($("event-filters"));
    const f = {};
    for (const k of FILTERS) f[k] = data.get(k);
    return f;
  }

  function fillForm(params) {
    const form = $("event-filters");
    for (const k of FILTERS) if (params.has(k)) form.elements[k].value = params.get(k);
  }

  async function loadEvents(append) {
    if (!append) {
      state.filters = readForm();
      state.nextCursor = null;
      state.shown = 0;
    }
    const params = Object.assign({ limit: PAGE_SIZE }, state.filters, append ? { cursor: state.nextCursor } : {});
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
    state.shown += body.events.length;
    $("events-more").hidden = !state.nextCursor;
    $("events-meta").textContent = `${D.num(state.shown)} shown${state.nextCursor ? ", more on the next page" : ""}`;
    const rows = body.events.map(eventRow);
    const tbody = $("events-body");
    if (append) {
      tbody.querySelectorAll("tr.empty").forEach((r) => r.remove());
      tbody.append(...rows);
    } else {
      replaceRows(tbody, rows, "No events match", 6);
    }
  }

  // ---- an event's page ----

  function field(name, value, mono) {
    return [el("dt", {}, name), el("dd", { class: mono ? "mono" : null }, value === null || value === undefined || value === "" ? "–" : String(value))];
  }

  function showEnvelope(ev) {
    $("event-title").textContent = ev.id;
    const rows = [
      field("type", ev.type, true),
      field("source", ev.source),
      field("target", ev.target),
      field("time", ev.timestamp),
      field("tenant", ev.tenant_id),
      field("correlation", ev.correlation_id, true),
      field("causation", ev.causation_id, true),
      field("mission / task", [ev.mission_id, ev.task_id].filter(Boolean).join(" / ")),
      field("actor", ev.actor_id),
      field("severity", ev.severity),
      field("position", ev.position, true),
      field("meta", JSON.stringify(ev.meta || {}), true),
    ];
    $("event-envelope-fields").replaceChildren(...rows.flat());
    $("event-payload").textContent = JSON.stringify(ev.payload, null, 2);
  }

  /** The events sharing `ev`'s correlation id (one page), plus its cause when that is outside it. */
  async function chainOf(ev) {
    let events = [ev];
    if (ev.correlation_id) {
      const body = await api(`/api/events${query({ correlation_id: ev.correlation_id, limit: CHAIN_MAX })}`);
      if (body.events.length) events = body.events;
      if (!events.some((e) => e.id === ev.id)) events.push(ev);
    }
    if (ev.causation_id && !events.some((e) => e.id === ev.causation_id)) {
      try {
        events.unshift(await api(`/api/events/${encodeURIComponent(ev.causation_id)}`));
      } catch (_) {
        // The cause is not visible to this key or not indexed: the link is shown without it.
      }
    }
    events.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    return events;
  }

  /** A horizontal timeline: one dot per event at its time, arrows from cause to effect. */
  function timeline(events, current) {
    const W = 640;
    const rowH = 18;
    const H = 24 + events.length * rowH;
    const t0 = Date.parse(events[0].timestamp);
    const t1 = Date.parse(events[events.length - 1].timestamp);
    const span = Math.max(1, t1 - t0);
    const x = (e) => 12 + ((W - 200) * (Date.parse(e.timestamp) - t0)) / span;
    const y = (i) => 14 + i * rowH;
    const index = new Map(events.map((e, i) => [e.id, i]));
    const chart = D.svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": "correlation chain over time", "data-chart": "timeline" });
    events.forEach((e, i) => {
      const ci = e.causation_id !== null && e.causation_id !== undefined ? index.get(e.causation_id) : undefined;
      if (ci !== undefined) {
        chart.append(D.svg("line", { x1: x(events[ci]), y1: y(ci), x2: x(e), y2: y(i), class: "cause-link", "data-cause": events[ci].id, "data-effect": e.id }));
      }
    });
    events.forEach((e, i) => {
      const g = D.svg("g", { class: e.id === current.id ? "tl-item current" : "tl-item", "data-event-id": e.id });
      g.addEventListener("click", () => (window.location.hash = `#event/${encodeURIComponent(e.id)}`));
      const dt = Date.parse(e.timestamp) - t0;
      g.append(
        D.svg("circle", { cx: x(e), cy: y(i), r: e.id === current.id ? 6 : 4 }, D.svg("title", {}, `${e.type} at ${e.timestamp}`)),
        D.svg("text", { x: x(e) + 10, y: y(i) + 4, class: "label" }, `${e.type} +${dt} ms`),
      );
      chart.append(g);
    });
    return chart;
  }

  function chainList(events, current) {
    const byId = new Map(events.map((e) => [e.id, e]));
    return el(
      "ol",
      { class: "chain" },
      events.map((e) => {
        const cause = e.causation_id ? byId.get(e.causation_id) : null;
        return el(
          "li",
          { class: e.id === current.id ? "current" : null, "data-event-id": e.id, onclick: () => (window.location.hash = `#event/${encodeURIComponent(e.id)}`) },
          el("span", { class: "mono" }, e.type),
          " ",
          el("span", { class: "muted" }, formatTime(e.timestamp), " · ", e.source),
          e.causation_id ? el("div", { class: "caused" }, "caused by ", cause ? `${cause.type} ` : "", el("span", { class: "mono" }, shortId(e.causation_id))) : null,
        );
      }),
    );
  }

  function inclusionStatus(kind, headline, ...details) {
    return el(
      "div",
      { id: "event-inclusion", class: `inclusion ${kind}`, "data-status": kind },
      el("p", { class: "headline" }, headline),
      details.filter(Boolean).map((d) => el("p", { class: "muted" }, d)),
    );
  }

  async function checkInclusion(id, attempt) {
    if (state.current !== id) return;
    const show = (node) => $("event-inclusion").replaceWith(node);
    let proof;
    try {
      proof = await api(`/api/audit/proof/inclusion${query({ event_id: id })}`);
    } catch (e) {
      if (state.current !== id) return;
      if (e.status === 409) {
        show(inclusionStatus("pending", "not yet checkpointed", "Checkpoints are signed every second; asking again…"));
        if (attempt < MAX_RETRIES) state.retry = setTimeout(() => checkInclusion(id, attempt + 1), RETRY_MS);
      } else if (e.status === 410) {
        show(inclusionStatus("pruned", "pruned", "The payload bytes were pruned; the leaf hash stays in the tree."));
      } else {
        show(inclusionStatus("failed", e.status === 404 ? "not in the audit log" : "cannot load the proof", e.message));
      }
      return;
    }
    if (!state.vkey) state.vkey = (await D.apiText("/api/audit/key")).trim();
    const r = await D.proof.checkInclusion(proof, id, state.vkey);
    if (state.current !== id) return;
    if (r.included) {
      const sig = r.signature && r.signature.ok === true ? `checkpoint signature ✓ (${r.signature.name})` : r.signature && r.signature.reason;
      show(inclusionStatus("included", `included ✓ at index ${r.index} of ${r.size}`, "root recomputed in this browser matches the signed checkpoint", sig));
    } else {
      show(inclusionStatus("failed", `NOT verified: ${r.reason}`));
    }
  }

  async function openEvent(id) {
    if (state.retry) clearTimeout(state.retry);
    state.current = id;
    $("event-error").textContent = "";
    $("event-inclusion").replaceWith(el("div", { id: "event-inclusion", "data-status": "checking" }, el("p", { class: "muted" }, "Checking…")));
    $("event-chain").replaceChildren(el("p", { class: "muted" }, "Loading…"));
    $("event-timeline").replaceChildren();
    let ev;
    try {
      ev = await api(`/api/events/${encodeURIComponent(id)}`);
    } catch (e) {
      $("event-error").textContent = `Cannot open event ${id}: ${e.message}`;
      $("event-chain").replaceChildren();
      return;
    }
    if (state.current !== id) return;
    showEnvelope(ev);
    checkInclusion(id, 0).catch((e) => $("event-inclusion").replaceWith(inclusionStatus("failed", "cannot check", e.message)));
    try {
      const events = await chainOf(ev);
      if (state.current !== id) return;
      const caption = ev.correlation_id
        ? el("p", { class: "muted" }, `${events.length} event(s) with correlation id `, el("span", { class: "mono" }, ev.correlation_id))
        : el("p", { class: "muted" }, "This event has no correlation id.");
      $("event-timeline").replaceChildren(timeline(events, ev));
      $("event-chain").replaceChildren(caption, chainList(events, ev));
    } catch (e) {
      $("event-chain").replaceChildren(el("p", { class: "bad" }, `Cannot load the chain: ${e.message}`));
    }
  }

  D.pages.events = {
    async show(params) {
      const searched = FILTERS.some((k) => params.has(k));
      if (searched) fillForm(params);
      if (searched || !state.filters) await loadEvents(false);
    },
  };

  D.pages.event = {
    async show(params) {
      const id = params.get("id");
      if (id && id !== state.current) await openEvent(id);
    },
  };

  $("event-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(readForm())) if (v && String(v).trim()) q.set(k, String(v).trim());
    const hash = `#events?${q.toString()}`;
    if (window.location.hash === hash) loadEvents(false);
    else window.location.hash = hash;
  });
  $("events-more").addEventListener("click", () => loadEvents(true));
})();
