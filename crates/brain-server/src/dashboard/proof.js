// BRAiN EventStream dashboard: checks an audit inclusion proof in the browser (WebCrypto), trusting
// nothing the server says about it.
//
// RFC 6962 hashes: leaf = SHA-256(0x00 || leaf bytes), node = SHA-256(0x01 || left || right). The root is
// recomputed from leaf_index, tree_size and the audit path (RFC 9162 section 2.1.3.2) and compared with the
// root line of the signed checkpoint (C2SP tlog-checkpoint: origin, size, base64 root, blank line,
// signature lines `— <name> <base64(4-byte key id || Ed25519 signature)>`). The checkpoint signature is
// checked against the verifier key (`<name>+<hex key id>+<base64(0x01 || public key)>`) when the browser
// has Ed25519 in WebCrypto.
"use strict";

(function () {
  const D = window.BrainDash;
  const P = (D.proof = {});

  P.b64decode = function (s) {
    const bin = atob(String(s).trim());
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };

  P.b64encode = function (bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  };

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  /** Whether this page may use WebCrypto (a secure context: HTTPS, localhost or 127.0.0.1). */
  P.available = function () {
    return !!(window.crypto && window.crypto.subtle);
  };

  async function sha256(...parts) {
    const len = parts.reduce((n, p) => n + p.length, 0);
    const buf = new Uint8Array(len);
    let at = 0;
    for (const p of parts) {
      buf.set(p, at);
      at += p.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }

  P.leafHash = (leaf) => sha256(Uint8Array.of(0), leaf);
  P.nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  /** The root that `path` proves for the leaf hash at `index` in a tree of `size` (RFC 9162 2.1.3.2). */
  P.rootFromInclusion = async function (index, size, leafHash, path) {
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
      throw new Error(`leaf index ${index} is not inside a tree of size ${size}`);
    }
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of path) {
      if (sn === 0) throw new Error("the audit path is longer than the tree is deep");
      if (fn % 2 === 1 || fn === sn) {
        r = await P.nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await P.nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("the audit path is shorter than the tree is deep");
    return r;
  };

  /** Splits a signed checkpoint into its signed body, origin, size, root and signature lines. */
  P.parseCheckpoint = function (text) {
    const cut = text.indexOf("\n\n");
    if (cut < 0) throw new Error("the checkpoint has no signature block");
    const body = text.slice(0, cut + 1);
    const lines = body.split("\n");
    const size = Number(lines[1]);
    if (lines.length < 4 || !Number.isSafeInteger(size)) throw new Error("the checkpoint has no origin, size and root lines");
    const signatures = text
      .slice(cut + 2)
      .split("\n")
      .filter((l) => l.startsWith("— "))
      .map((l) => {
        const [name, sig] = l.slice(2).split(" ");
        return { name, sig };
      });
    return { body, origin: lines[0], size, root: P.b64decode(lines[2]), signatures };
  };

  /** Parses a C2SP verifier key `<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>`. */
  P.parseVkey = function (text) {
    // The name and the id hold no `+`; the base64 key may.
    const t = String(text).trim();
    const a = t.indexOf("+");
    const b = t.indexOf("+", a + 1);
    if (a <= 0 || b < 0) throw new Error("the verifier key is not name+id+key");
    const parts = [t.slice(0, a), t.slice(a + 1, b), t.slice(b + 1)];
    const raw = P.b64decode(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("the verifier key is not an Ed25519 key");
    return { name: parts[0], id: parts[1].toLowerCase(), publicKey: raw.slice(1), raw };
  };

  /**
   * Checks the checkpoint's signature with the verifier key: `{ok: true}`, `{ok: false, reason}`, or
   * `{ok: null, reason}` when this browser cannot check Ed25519.
   */
  P.checkSignature = async function (cp, vkeyText) {
    const vkey = P.parseVkey(vkeyText);
    const idHash = await sha256(new TextEncoder().encode(vkey.name + "\n"), vkey.raw);
    if (hex(idHash.slice(0, 4)) !== vkey.id) return { ok: false, reason: "the verifier key's id does not match its key" };
    const line = cp.signatures.find((s) => s.name === vkey.name);
    if (!line) return { ok: false, reason: `no signature by ${vkey.name}` };
    const sig = P.b64decode(line.sig);
    if (sig.length !== 68 || hex(sig.slice(0, 4)) !== vkey.id) return { ok: false, reason: "the signature names another key id" };
    let key;
    try {
      key = await crypto.subtle.importKey("raw", vkey.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (_) {
      return { ok: null, reason: "this browser cannot check Ed25519 signatures" };
    }
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), new TextEncoder().encode(cp.body));
    return ok ? { ok: true, name: vkey.name } : { ok: false, reason: "the signature does not verify" };
  };

  /**
   * Checks an inclusion proof (`GET /api/audit/proof/inclusion`) of event `eventId`:
   * `{included, index, size, eventMatches, envelope, signature, reason}`.
   */
  P.checkInclusion = async function (proof, eventId, vkeyText) {
    const out = { included: false, index: proof.leaf_index, size: proof.tree_size, envelope: null, signature: null, reason: null };
    if (!P.available()) {
      out.reason = "this page is not a secure context (HTTPS or localhost), so the browser offers no WebCrypto";
      return out;
    }
    try {
      const leaf = P.b64decode(proof.leaf);
      try {
        out.envelope = JSON.parse(new TextDecoder().decode(leaf));
      } catch (_) {
        out.envelope = null;
      }
      out.eventMatches = !!out.envelope && out.envelope.id === eventId;
      const cp = P.parseCheckpoint(proof.checkpoint);
      if (cp.size !== proof.tree_size) throw new Error(`the checkpoint is of size ${cp.size}, the proof of size ${proof.tree_size}`);
      const path = (proof.hashes || []).map(P.b64decode);
      const root = await P.rootFromInclusion(proof.leaf_index, proof.tree_size, await P.leafHash(leaf), path);
      out.root = P.b64encode(root);
      if (!equal(root, cp.root)) throw new Error("the recomputed root differs from the checkpoint's root");
      if (!out.eventMatches) throw new Error("the proven leaf is not this event's envelope");
      out.included = true;
      if (vkeyText) out.signature = await P.checkSignature(cp, vkeyText);
    } catch (e) {
      out.included = false;
      out.reason = e.message;
    }
    return out;
  };
})();
