// BRAiN EventStream dashboard: the Modules page, from the modules' own routes (each answers for the key's
// tenant): the mission queue (GET /api/missions/queue?limit=) and the worker pool
// (GET /api/missions/worker/status), pending IR approvals (GET /api/ir/approvals/pending, paged),
// credit balances (GET /api/credits/accounts, paged) and the robots' last state (the robots named by the
// hardware events of the last hour, GET /api/events?type=hardware.*, each read with
// GET /api/hardware/robots/{id}/state; read when the page is shown, not on every refresh). A module that
// is not enabled shows a note in its panel.
"use strict";

(function () {
  const D = window.BrainDash;
  const { $, el, replaceRows, num, formatTime, api, query } = D;
  const QUEUE_SHOWN = 50;
  const PAGE_SIZE = 50;
  /** Robots read per refresh (the newest ones seen in hardware events). */
  const ROBOTS_MAX = 20;

  const state = { creditsCursor: null, approvalsCursor: null, paged: false };

  /** Seconds since the epoch (as the modules answer) or RFC 3339 -> a clock time. */
  function when(v) {
    if (v === null || v === undefined) return "–";
    return formatTime(typeof v === "number" ? v * 1000 : v);
  }

  function failed(tbody, columns, e) {
    const text = e.status === 404 ? "This module is not enabled on this server." : `Cannot load: ${e.message}`;
    replaceRows(tbody, [], text, columns);
  }

  async function loadMissions() {
    const [queue, worker] = await Promise.all([api(`/api/missions/queue${query({ limit: QUEUE_SHOWN })}`), api("/api/missions/worker/status")]);
    $("missions-meta").textContent = `${num(queue.length)} queued`;
    const gauge = (name, value) => el("div", {}, el("dt", {}, name), el("dd", {}, value));
    $("missions-worker").replaceChildren(
      gauge("Workers", num(worker.workers)),
      gauge("Busy", num(worker.busy)),
      gauge("Running", worker.running ? "yes" : "no"),
    );
    const rows = queue.items.map((m) =>
      el(
        "tr",
        { "data-mission": m.id },
        el("td", { class: "mono", title: m.id }, D.shortId(m.id)),
        el("td", { class: "mono" }, m.mission_type),
        el("td", {}, m.priority),
        el("td", {}, m.status),
        el("td", {}, when(m.created_at)),
      ),
    );
    replaceRows($("missions-body"), rows, "The queue is empty", 5);
  }

  async function loadApprovals(append) {
    const body = await api(`/api/ir/approvals/pending${query({ limit: PAGE_SIZE, cursor: append ? state.approvalsCursor : null })}`);
    state.approvalsCursor = body.next_cursor;
    $("approvals-more").hidden = !state.approvalsCursor;
    $("approvals-meta").textContent = body.pending !== undefined ? `${num(body.pending)} pending` : "";
    const rows = body.approvals.map((a) =>
      el(
        "tr",
        { "data-approval": a.approval_id },
        el("td", { class: "mono", title: a.approval_id }, D.shortId(a.approval_id)),
        el("td", { class: "mono", title: a.ir_hash }, String(a.ir_hash || "").slice(0, 12) + "…"),
        el("td", {}, a.created_by || "–"),
        el("td", {}, when(a.created_at)),
        el("td", {}, when(a.expires_at)),
      ),
    );
    const tbody = $("approvals-body");
    if (append) tbody.append(...rows);
    else replaceRows(tbody, rows, "No approvals pending", 5);
  }

  async function loadCredits(append) {
    const body = await api(`/api/credits/accounts${query({ limit: PAGE_SIZE, cursor: append ? state.creditsCursor : null })}`);
    state.creditsCursor = body.next_cursor;
    $("credits-more").hidden = !state.creditsCursor;
    const rows = body.accounts.map((a) =>
      el(
        "tr",
        { "data-agent": a.agent_id },
        el("td", { class: "mono" }, a.agent_id),
        el("td", { class: "num" + (a.balance < 0 ? " bad" : "") }, D.rate(a.balance)),
        el("td", { class: "num" }, D.rate(a.allocated)),
        el("td", { class: "num" }, D.rate(a.consumed)),
        el("td", { class: "num" }, D.rate(a.refunded)),
        el("td", {}, when(a.updated_at)),
      ),
    );
    const tbody = $("credits-body");
    if (append) tbody.append(...rows);
    else replaceRows(tbody, rows, "No credit accounts", 6);
  }

  /** The robot ids of the hardware events of the last hour, the most recently seen first. */
  async function recentRobots() {
    const ids = [];
    let cursor = null;
    // At most a few server-side pages (oldest first): the newest ids seen win.
    for (let i = 0; i < 3; i++) {
      const body = await api(`/api/events${query({ type: "hardware.*", since: "1h", limit: 1000, cursor })}`);
      for (const ev of body.events) {
        const id = ev.payload && (ev.payload.robot_id || ev.payload.robotId);
        if (typeof id !== "string") continue;
        const at = ids.indexOf(id);
        if (at >= 0) ids.splice(at, 1);
        ids.push(id);
      }
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return ids.slice(-ROBOTS_MAX).reverse();
  }

  async function loadRobots() {
    const ids = await recentRobots();
    const states = await Promise.all(
      ids.map((id) => api(`/api/hardware/robots/${encodeURIComponent(id)}/state`).catch((e) => ({ robot_id: id, error: e.message }))),
    );
    const fixed = (v) => (typeof v === "number" ? v.toFixed(2) : "–");
    const rows = states.map((r) =>
      r.error
        ? el("tr", { "data-robot": r.robot_id }, el("td", { class: "mono" }, r.robot_id), el("td", { class: "muted", colspan: 5 }, r.error))
        : el(
            "tr",
            { "data-robot": r.robot_id },
            el("td", { class: "mono" }, r.robot_id),
            el("td", { class: r.status === "moving" ? "ok" : null }, r.status),
            el("td", { class: "mono" }, r.pose ? `${fixed(r.pose.x)}, ${fixed(r.pose.y)}, ${fixed(r.pose.heading)}` : "–"),
            el("td", { class: "mono" }, r.velocity ? `${fixed(r.velocity.linear_x)}, ${fixed(r.velocity.linear_y)}, ${fixed(r.velocity.angular_z)}` : "–"),
            el("td", { class: "num" }, num(r.commands_received)),
            el("td", {}, when(r.last_command_at)),
          ),
    );
    replaceRows($("robots-body"), rows, "No robot commands in the last hour", 6);
  }

  async function refresh(robots) {
    const jobs = [loadMissions().catch((e) => failed($("missions-body"), 5, e))];
    // Later pages the user opened stay until the page is shown again.
    if (!state.paged) {
      jobs.push(loadApprovals(false).catch((e) => failed($("approvals-body"), 5, e)));
      jobs.push(loadCredits(false).catch((e) => failed($("credits-body"), 6, e)));
    }
    if (robots) jobs.push(loadRobots().catch((e) => failed($("robots-body"), 6, e)));
    await Promise.all(jobs);
  }

  D.pages.modules = {
    show() {
      state.paged = false;
      return refresh(true);
    },
    refresh() {
      return refresh(false);
    },
  };

  $("credits-more").addEventListener("click", () => {
    state.paged = true;
    loadCredits(true).catch((e) => failed($("credits-body"), 6, e));
  });
  $("approvals-more").addEventListener("click", () => {
    state.paged = true;
    loadApprovals(true).catch((e) => failed($("approvals-body"), 5, e));
  });
})();
