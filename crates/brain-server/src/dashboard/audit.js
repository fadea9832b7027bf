// BRAiN EventStream dashboard: the Audit page.
//
// Browses the audit log (GET /api/audit, server-side pages with the cursor), shows the latest signed
// checkpoint and the verifier key, checks a selected event's inclusion proof in the browser (proof.js)
// and runs the server's verification (POST /api/audit/verify, admin keys).
//
// Fragment options: `#audit/event=ID` selects that event; `verify=1` (or `verify=full`) presses the
// "Run verification" button once the page has loaded.
"use strict";

(function () {
  const D = window.BrainDash;
  const { $, el } = D;
  /** While an event is not yet checkpointed, ask again after this long (checkpoints come every second). */
  const RETRY_MS = 1500;
  const MAX_RETRIES = 20;

  const page = {
    loaded: false,
    filters: null,
    nextCursor: null,
    selected: null, // the selected event id
    vkey: null, // the verifier key text
    retry: null, // the timer asking again for a proof
  };

  async function loadCheckpoint() {
    const box = $("audit-checkpoint");
    try {
      box.textContent = await D.apiText("/api/audit/checkpoint");
      box.classList.remove("muted");
    } catch (e) {
      box.textContent = e.status === 404 ? "No checkpoint yet: the tree is empty." : `Cannot load the checkpoint: ${e.message}`;
      box.classList.add("muted");
    }
  }

  async function loadKey() {
    try {
      page.vkey = (await D.apiText("/api/audit/key")).trim();
      $("audit-key").textContent = page.vkey;
    } catch (e) {
      $("audit-key").textContent = `Cannot load the verifier key: ${e.message}`;
    }
  }

  // ---- the log ----

  function row(entry) {
    return el(
      "tr",
      {
        "data-audit-index": entry.index,
        "data-audit-event": entry.event_id,
        class: page.selected === entry.event_id ? "selected" : null,
        onclick: () => select(entry.event_id, entry),
      },
      el("td", { class: "num" }, entry.index),
      el("td", { title: entry.timestamp }, D.formatTime(entry.timestamp)),
      el("td", { class: "mono" }, entry.event_type),
      el("td", {}, entry.tenant || "–"),
      el("td", { class: "mono", title: entry.event_id }, D.shortId(entry.event_id)),
      el("td", { class: "mono", title: entry.leaf_hash }, String(entry.leaf_hash || "").slice(0, 10) + "…"),
      el("td", { class: entry.pruned ? "muted" : null }, entry.pruned ? "pruned" : "kept"),
    );
  }

  async function loadLog(append) {
    if (!append) {
      const data = new FormData($("audit-filters"));
      page.filters = { type: data.get("type"), tenant: data.get("tenant"), since: data.get("since"), until: data.get("until") };
      page.nextCursor = null;
    }
    const params = Object.assign({ limit: 200 }, page.filters, append ? { cursor: page.nextCursor } : {});
    let body;
    try {
      body = await D.api(`/api/audit${D.query(params)}`);
      $("audit-error").textContent = "";
    } catch (e) {
      $("audit-error").textContent = `Audit search failed: ${e.message}`;
      return;
    }
    page.nextCursor = body.next_cursor;
    $("audit-more").hidden = !page.nextCursor;
    // Pages come oldest first; show the newest on top.
    const rows = body.entries.slice().reverse().map(row);
    const tbody = $("audit-body");
    if (append) {
      tbody.querySelectorAll("tr.empty").forEach((r) => r.remove());
      tbody.prepend(...rows);
    } else {
      D.replaceRows(tbody, rows, "No audited events match", 7);
    }
  }

  // ---- one event's inclusion ----

  function status(kind, headline, ...details) {
    return el(
      "div",
      { id: "audit-inclusion", class: `inclusion ${kind}`, "data-status": kind },
      el("p", { class: "headline" }, headline),
      details.filter(Boolean).map((d) => el("p", { class: "muted" }, d)),
    );
  }

  function signatureLine(sig) {
    if (!sig) return null;
    if (sig.ok === true) return `checkpoint signature ✓ (${sig.name})`;
    if (sig.ok === null) return `checkpoint signature not checked: ${sig.reason}`;
    return `checkpoint signature ✗: ${sig.reason}`;
  }

  async function select(id, entry) {
    page.selected = id;
    if (page.retry) clearTimeout(page.retry);
    page.retry = null;
    for (const tr of $("audit-body").querySelectorAll("tr")) {
      tr.classList.toggle("selected", tr.dataset.auditEvent === id);
    }
    const envelope = el("pre", { id: "audit-envelope" }, entry && entry.event ? JSON.stringify(entry.event, null, 2) : "…");
    const inclusion = el("div", { id: "audit-inclusion", "data-status": "checking" }, el("p", { class: "muted" }, "Checking…"));
    $("audit-detail").replaceChildren(
      el("h3", {}, "Inclusion ", el("span", { class: "muted mono" }, id)),
      inclusion,
      el("h3", {}, "Stored envelope"),
      envelope,
    );
    if (entry && entry.pruned) envelope.textContent = "The payload bytes of this row were pruned; its leaf hash stays in the tree.";
    await checkInclusion(id, envelope, 0);
  }

  async function checkInclusion(id, envelope, attempt) {
    if (page.selected !== id) return;
    const show = (node) => $("audit-inclusion").replaceWith(node);
    let proof;
    try {
      proof = await D.api(`/api/audit/proof/inclusion${D.query({ event_id: id })}`);
    } catch (e) {
      if (page.selected !== id) return;
      if (e.status === 409) {
        show(status("pending", "not yet checkpointed", "Checkpoints are signed every second; asking again…"));
        if (attempt < MAX_RETRIES) page.retry = setTimeout(() => checkInclusion(id, envelope, attempt + 1), RETRY_MS);
      } else if (e.status === 410) {
        show(status("pruned", "pruned", "The payload bytes were pruned, so no leaf can be shown; the leaf hash stays in the tree."));
      } else if (e.status === 404) {
        show(status("failed", "not in the audit log", e.message));
      } else {
        show(status("failed", "cannot load the proof", e.message));
      }
      return;
    }
    if (!page.vkey) await loadKey();
    const r = await D.proof.checkInclusion(proof, id, page.vkey);
    if (page.selected !== id) return;
    if (r.envelope) envelope.textContent = JSON.stringify(r.envelope, null, 2);
    if (r.included) {
      show(
        status(
          "included",
          `included ✓ at index ${r.index} of ${r.size}`,
          `root ${r.root} recomputed in this browser from ${proof.hashes.length} hash(es) matches the signed checkpoint`,
          signatureLine(r.signature),
        ),
      );
    } else {
      show(status("failed", `NOT verified: ${r.reason}`, `proof for index ${r.index} of ${r.size}`));
    }
  }

  // ---- verification ----

  function finding(f) {
    const other = f.other !== null && f.other !== undefined ? ` (with row ${f.other})` : "";
    return `row ${f.index} of tree ${f.tree} is ${String(f.class).replace("_", " ")}${other}: ${f.detail}`;
  }

  async function runVerification() {
    const button = $("audit-verify");
    const out = $("audit-verify-result");
    const full = $("audit-verify-full").checked;
    button.disabled = true;
    out.dataset.intact = "";
    out.replaceChildren(el("p", { class: "muted" }, full ? "Rehashing every row…" : "Verifying…"));
    try {
      const r = await D.api("/api/audit/verify", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ full }),
      });
      out.dataset.intact = String(r.intact);
      const mode = r.full ? "full" : "incremental";
      out.replaceChildren(
        r.intact
          ? el("p", { class: "headline ok" }, "intact ✓")
          : el("p", { class: "headline bad" }, "NOT INTACT: ", finding(r.finding)),
        el(
          "p",
          { class: "muted" },
          `${D.num(r.rows_checked)} rows checked (${mode}${r.escalated ? ", escalated after the incremental check failed" : ""}), ` +
            `tree size ${D.num(r.tree_size)}, ${D.num(r.checkpoints_checked)} checkpoints, ${D.num(r.pruned_rows)} pruned rows; ` +
            `trusted size ${D.num(r.trusted_size)} · ${D.formatTime(new Date())}`,
        ),
      );
    } catch (e) {
      out.dataset.intact = "error";
      const text = e.status === 403 ? "Only admin keys can run a verification." : `The verification could not run: ${e.message}`;
      out.replaceChildren(el("p", { class: "bad" }, text));
    } finally {
      button.disabled = false;
    }
  }

  // ---- the page ----

  D.pages.audit = {
    async show(params) {
      if (!page.loaded) {
        page.loaded = true;
        await Promise.allSettled([loadCheckpoint(), loadKey(), loadLog(false)]);
      }
      const id = params.get("event");
      if (id && id !== page.selected) await select(id, null);
      const verify = params.get("verify");
      if (verify) {
        $("audit-verify-full").checked = verify === "full";
        $("audit-verify").click();
      }
    },
    refresh() {
      return loadCheckpoint();
    },
  };

  function init() {
    $("audit-filters").addEventListener("submit", (e) => {
      e.preventDefault();
      loadLog(false);
    });
    $("audit-more").addEventListener("click", () => loadLog(true));
    $("audit-verify").addEventListener("click", runVerification);
  }

  init();
})();
