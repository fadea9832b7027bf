// BRAiN EventStream dashboard: what every page shares. Vanilla JS, no dependencies.
//
// Loaded first; exposes `window.BrainDash` (the other scripts add their pages to it). Every value that
// comes from the API is rendered as text (text nodes, textContent), never parsed as HTML.
"use strict";

(function () {
  const D = (window.BrainDash = {
    key: null, // the API key (Authorization: Bearer)
    pages: {}, // page name -> {show(params), refresh()} for pages with their own loaders
    onUnauthorized: null, // set by app.js: asks for a new key
  });

  const SVG_NS = "http://www.w3.org/2000/svg";

  D.$ = function (id) {
    return document.getElementById(id);
  };

  function fill(node, props, children, setProp) {
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "onclick") node.addEventListener("click", v);
      else setProp(k, v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** Creates an HTML element; string/number children become text nodes. */
  D.el = function (tag, props, ...children) {
    const node = document.createElement(tag);
    return fill(node, props, children, (k, v) => {
      if (k === "class") node.className = v;
      else if (k === "title") node.title = String(v);
      else if (k === "colspan") node.colSpan = v;
      else node.setAttribute(k, String(v));
    });
  };

  /** Creates an SVG element; attributes are set as given, string children become text nodes. */
  D.svg = function (tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    return fill(node, attrs, children, (k, v) => node.setAttribute(k, String(v)));
  };

  D.replaceRows = function (tbody, rows, emptyText, columns) {
    if (rows.length === 0) {
      rows = [D.el("tr", { class: "empty" }, D.el("td", { colspan: columns }, emptyText))];
    }
    tbody.replaceChildren(...rows);
  };

  D.num = function (v) {
    return v === undefined || v === null ? "–" : Number(v).toLocaleString("en-US");
  };

  /** A rate with a few significant digits: 0.0167 -> "0.017", 12.345 -> "12.3". */
  D.rate = function (v) {
    if (v === undefined || v === null || isNaN(v)) return "–";
    if (v === 0) return "0";
    if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
    return Number(v.toPrecision(3)).toString();
  };

  D.shortId = function (id) {
    return typeof id === "string" && id.length > 13 ? id.slice(0, 8) + "…" + id.slice(-4) : id || "";
  };

  D.formatTime = function (ts) {
    const d = new Date(ts);
    if (isNaN(d.getTime())) return String(ts || "");
    const pad = (n) => String(n).padStart(2, "0");
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return time;
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
  };

  D.formatAge = function (seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return "0 s";
    if (seconds < 120) return `${Math.round(seconds)} s`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
    return `${Math.round(seconds / 3600)} h`;
  };

  D.notice = function (text) {
    const n = D.$("notice");
    n.textContent = text || "";
    n.hidden = !text;
  };

  // ---- the API ----

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
    }
  }
  D.ApiError = ApiError;

  async function request(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    opts.headers = Object.assign({ Authorization: `Bearer ${D.key}`, Accept: "application/json" }, opts.headers || {});
    const resp = await fetch(path, opts);
    const text = await resp.text();
    if (resp.status === 401) {
      D.key = null;
      if (D.onUnauthorized) D.onUnauthorized("The API key was refused. Enter a valid key.");
    }
    return { resp, text };
  }

  function parse(text) {
    try {
      return text ? JSON.parse(text) : null;
    } catch (_) {
      return { message: text };
    }
  }

  /** Calls a JSON route; throws an ApiError (with status and code) on a non-2xx answer. */
  D.api = async function (path, options) {
    const { resp, text } = await request(path, options);
    const body = parse(text);
    if (!resp.ok) throw new ApiError(resp.status, body && body.error ? body.error : body);
    return body;
  };

  /** Calls a text/plain route; returns the text. */
  D.apiText = async function (path) {
    const { resp, text } = await request(path, { headers: { Accept: "text/plain, application/json" } });
    if (!resp.ok) throw new ApiError(resp.status, parse(text));
    return text;
  };

  D.query = function (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && String(v).trim() !== "") q.set(k, String(v).trim());
    }
    const s = q.toString();
    return s ? `?${s}` : "";
  };
})();
