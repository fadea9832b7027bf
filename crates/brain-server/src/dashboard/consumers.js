// BRAiN EventStream dashboard: the Consumers & dead letters page.
//
// Consumers (GET /api/consumers) with lag, pending and counters; dead letters one server-side page at a
// time (GET /api/dlq?status=..&limit=..&cursor=..), each with its error chain (the causes the handler's
// error carried, outermost first) and its event; retry or discard one (POST /api/dlq/{id}/retry|discard)
// or the ticked ones at once (POST /api/dlq/retry|discard with {"ids": [...]}).
//
// Fragment options: `#consumers?status=open|retried|discarded&subscriber=NAME&type=TYPE`.
"use strict";

(function () {
  const D = window.BrainDash;
  const { $, el, replaceRows, num, formatTime, notice, api, query } = D;
  const PAGE_SIZE = 50;

  const state = { filters: null, nextCursor: null, letters: new Map(), selected: new Set(), open: null, loaded: false, signature: null };

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

  /** The causes of an error as the runtime writes them (`outer: cause: root cause`). */
  function errorChain(text) {
    return String(text || "")
      .split(": ")
      .map((s) => s.trim())
      .filter(Boolean);
  }

  function updateBulkButtons() {
    const n = state.selected.size;
    const open = state.filters && state.filters.status === "open";
    $("dlq-retry-selected").disabled = n === 0 || !open;
    $("dlq-discard-selected").disabled = n === 0 || !open;
    $("dlq-retry-selected").textContent = n ? `Retry selected (${n})` : "Retry selected";
    $("dlq-discard-selected").textContent = n ? `Discard selected (${n})` : "Discard selected";
  }

  function letterRow(d) {
    const box = el("input", { type: "checkbox", class: "dlq-select", "data-id": d.id, title: `Select dead letter ${d.id}` });
    box.checked = state.selected.has(d.id);
    box.disabled = d.status !== "open";
    box.addEventListener("click", (e) => e.stopPropagation());
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(d.id);
      else state.selected.delete(d.id);
      updateBulkButtons();
    });
    const chain = errorChain(d.error);
    const actions =
      d.status === "open"
        ? [
            el("button", { type: "button", class: "dlq-retry", onclick: (e) => (e.stopPropagation(), act([d.id], "retry")) }, "Retry"),
            " ",
            el("button", { type: "button", class: "danger dlq-discard", onclick: (e) => (e.stopPropagation(), act([d.id], "discard")) }, "Discard"),
          ]
        : [el("span", { class: "muted" }, d.status)];
    return el(
      "tr",
      { "data-dead-letter": d.id, class: state.open === d.id ? "selected" : null, onclick: () => showLetter(d.id) },
      el("td", {}, box),
      el("td", { class: "num" }, d.id),
      el("td", { class: "mono" }, d.subscriber),
      el("td", { class: "mono" }, d.event_type || "?"),
      el("td", { class: "error-text", title: d.error }, chain[chain.length - 1] || d.error),
      el("td", { class: "num" }, d.attempts),
      el("td", {}, formatTime(d.last_failed_at)),
      el("td", { class: "actions" }, actions),
    );
  }

  function showLetter(id) {
    const d = state.letters.get(id);
    if (!d) return;
    state.open = id;
    for (const tr of $("dlq-body").querySelectorAll("tr")) tr.classList.toggle("selected", Number(tr.dataset.deadLetter) === id);
    const eventId = d.event && d.event.id ? d.event.id : d.event_id;
    $("dlq-detail").replaceChildren(
      el("h3", {}, `Dead letter #${d.id} `, el("span", { class: "muted" }, d.status)),
      el(
        "p",
        { class: "muted" },
        `${d.kind} · ${d.attempts} attempt(s) · first failed ${formatTime(d.first_failed_at)} · last failed ${formatTime(d.last_failed_at)}`,
      ),
      el("h3", {}, "Error chain"),
      el(
        "ol",
        { class: "error-chain", id: "dlq-error-chain" },
        errorChain(d.error).map((c, i) => el("li", {}, i === 0 ? c : `caused by: ${c}`)),
      ),
      el("h3", {}, "Event ", el("a", { href: `#event/${encodeURIComponent(eventId)}`, class: "mono" }, D.shortId(eventId))),
      el("pre", {}, typeof d.event === "string" ? d.event : JSON.stringify(d.event, null, 2)),
    );
  }

  async function loadLetters(append) {
    if (!append) {
      const data = new FormData($("dlq-filters"));
      state.filters = { status: data.get("status") || "open", subscriber: data.get("subscriber"), type: data.get("type") };
      state.nextCursor = null;
    }
    const params = Object.assign({ limit: PAGE_SIZE }, state.filters, append ? { cursor: state.nextCursor } : {});
    const body = await api(`/api/dlq${query(params)}`);
    // A refresh that finds the same letters leaves the rows alone (a click in progress keeps its target).
    const signature = JSON.stringify([state.filters, body.next_cursor, body.dead_letters.map((d) => [d.id, d.status, d.attempts])]);
    if (!append && signature === state.signature) return;
    state.signature = append ? null : signature;
    state.nextCursor = body.next_cursor;
    if (!append) state.letters = new Map();
    for (const d of body.dead_letters) state.letters.set(d.id, d);
    // Selections of letters no longer listed (retried elsewhere) are dropped.
    for (const id of [...state.selected]) if (!state.letters.has(id)) state.selected.delete(id);
    const rows = [...state.letters.values()].map(letterRow);
    replaceRows($("dlq-body"), rows, `No ${state.filters.status} dead letters`, 8);
    $("dlq-more").hidden = !state.nextCursor;
    $("dlq-meta").textContent = `${state.filters.status} · ${num(state.letters.size)} shown${state.nextCursor ? ", more on the next page" : ""}`;
    $("dlq-select-all").checked = false;
    updateBulkButtons();
  }

  async function act(ids, action) {
    if (ids.length === 0) return;
    if (action === "discard" && !window.confirm(`Discard ${ids.length} dead letter(s)? Their events will not be handled.`)) return;
    const out = $("dlq-result");
    try {
      if (ids.length === 1) {
        await api(`/api/dlq/${encodeURIComponent(ids[0])}/${action}`, { method: "POST" });
        out.textContent = `Dead letter ${ids[0]}: ${action === "retry" ? "retried" : "discarded"}.`;
      } else {
        const r = await api(`/api/dlq/${action}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ids }) });
        const failed = r.results.filter((x) => x.error).map((x) => `#${x.id} ${x.error.code}`);
        out.textContent = `${r.done} dead letter(s) ${action === "retry" ? "retried" : "discarded"}` + (failed.length ? `; not done: ${failed.join(", ")}` : ".");
      }
      notice("");
    } catch (e) {
      out.textContent = "";
      notice(`Cannot ${action} dead letter(s) ${ids.join(", ")}: ${e.message}`);
    }
    for (const id of ids) state.selected.delete(id);
    await refresh();
  }

  async function refresh() {
    const results = await Promise.allSettled([loadConsumers(), loadLetters(false)]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed && !(failed.reason instanceof D.ApiError && failed.reason.status === 401)) notice(`Refresh failed: ${failed.reason.message}`);
  }

  D.pages.consumers = {
    async show(params) {
      const form = $("dlq-filters");
      for (const k of ["status", "subscriber", "type"]) if (params.has(k)) form.elements[k].value = params.get(k);
      state.loaded = true;
      await refresh();
    },
    refresh() {
      // A page the user is reading (ticks, a later page) is not reloaded under their cursor.
      if (state.selected.size === 0 && !state.nextCursor) return refresh();
      return loadConsumers();
    },
  };

  $("dlq-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    state.selected.clear();
    loadLetters(false).catch((err) => notice(`Dead letters: ${err.message}`));
  });
  $("dlq-more").addEventListener("click", () => loadLetters(true).catch((err) => notice(`Dead letters: ${err.message}`)));
  $("dlq-select-all").addEventListener("change", (e) => {
    for (const box of $("dlq-body").querySelectorAll("input.dlq-select")) {
      if (box.disabled) continue;
      box.checked = e.target.checked;
      const id = Number(box.dataset.id);
      if (box.checked) state.selected.add(id);
      else state.selected.delete(id);
    }
    updateBulkButtons();
  });
  $("dlq-retry-selected").addEventListener("click", () => act([...state.selected], "retry"));
  $("dlq-discard-selected").addEventListener("click", () => act([...state.selected], "discard"));
})();
