// Content by CID through the loopback gateway (GET ipfs/<cid>), which refuses content that does not match its
// CID; each CID is fetched once per page load. The page does not take the gateway's word for it where the CID
// is a single raw block (CIDv1, raw codec, sha2-256: every file under Kubo's 256 KiB chunk, which is all the
// JSON files the pages read: model files, Lagrange points, manifests, reports): it hashes the bytes itself.
// Larger files (dag-pb: SRS, verifying keys) stay checked by the gateway only, and their badge says so.
// An artifact link shows the outcome as an integrity badge.
import { sha256 } from '@noble/hashes/sha2';
import { esc, tid } from './format.js';

/** Why content could not be had: `kind` is 'unreachable', 'missing', 'integrity' or 'error'. */
export class ContentError extends Error {
  constructor(kind, cid, message) { super(message); this.kind = kind; this.cid = cid; }
}

const cache = new Map();

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** The bytes of an RFC 4648 base32 string (lower case, no padding). */
function base32(text) {
  const out = [];
  let bits = 0; let value = 0;
  for (const ch of text) {
    const v = BASE32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v; bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >> bits) & 0xff); }
  }
  return Uint8Array.from(out);
}

/**
 * The sha2-256 digest a CIDv1 raw-block CID (`b` + base32 of 0x01 0x55 0x12 0x20 digest) names, or null for any
 * other CID (dag-pb files, CIDv0), which this page cannot check without the whole DAG.
 */
export function rawDigest(cid) {
  if (!/^b[a-z2-7]+$/.test(cid)) return null;
  const b = base32(cid.slice(1));
  if (b.length !== 36 || b[0] !== 0x01 || b[1] !== 0x55 || b[2] !== 0x12 || b[3] !== 0x20) return null;
  return b.slice(4);
}

/** Whether `bytes` hash to raw-block CID `cid` (checked here); null when the CID is not a raw block. */
export function matchesCid(cid, bytes) {
  const digest = rawDigest(cid);
  if (!digest) return null;
  const h = sha256(bytes);
  return h.length === digest.length && h.every((x, i) => x === digest[i]);
}

/**
 * The bytes stored under `cid`, as the gateway checked them and, for a raw-block CID, as this page checked them
 * (an `integrity` ContentError when they do not hash to the CID, whatever the gateway said).
 */
export function fetchCid(cid) {
  if (!cache.has(cid)) {
    cache.set(cid, (async () => {
      let res;
      try {
        res = await fetch(`ipfs/${encodeURIComponent(cid)}`);
      } catch (e) {
        throw new ContentError('unreachable', cid, `gateway unreachable: ${e.message}`);
      }
      if (res.ok) {
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (matchesCid(cid, bytes) === false) {
          throw new ContentError('integrity', cid, `integrity error: the content served for ${cid} does not hash to its CID (sha2-256 computed in this page)`);
        }
        return bytes;
      }
      let detail = '';
      try { detail = (await res.json()).message; } catch { /* not JSON */ }
      if (res.status === 404) throw new ContentError('missing', cid, `CID missing: no content stored under ${cid}`);
      if (res.status === 502) throw new ContentError('integrity', cid, `integrity error: the stored content does not match CID ${cid} (${detail})`);
      throw new ContentError('error', cid, `HTTP ${res.status} for ${cid}: ${detail}`);
    })());
  }
  return cache.get(cid);
}

export const fetchJson = async (cid) => JSON.parse(new TextDecoder().decode(await fetchCid(cid)));

/** An artifact: a download link plus its integrity, filled in by checkArtifacts once the gateway answers. */
export function artifact(cid, filename, role) {
  if (!cid) return '<span class="muted">—</span>';
  const href = `ipfs/${encodeURIComponent(cid)}?filename=${encodeURIComponent(filename)}`;
  return `<span class="artifact" data-cid="${esc(cid)}" ${tid('artifact-' + role)}><a href="${href}" download="${esc(filename)}"><code>${esc(cid)}</code></a>`
    + `<span class="integrity pending" ${tid('integrity')}>checking…</span></span>`;
}

/** Fetches every artifact under `root` and sets its badge. */
export function checkArtifacts(root) {
  for (const el of root.querySelectorAll('.artifact[data-cid]')) {
    const badge = el.querySelector('.integrity');
    fetchCid(el.dataset.cid).then(
      () => {
        badge.className = 'integrity ok';
        badge.textContent = rawDigest(el.dataset.cid) ? '✓ content matches CID' : '✓ content matches CID (checked by the gateway)';
      },
      (e) => {
        badge.className = 'integrity ' + (e.kind === 'missing' ? 'missing' : 'bad');
        badge.textContent = e.kind === 'integrity' ? '✗ INTEGRITY ERROR: content does not match its CID'
          : e.kind === 'missing' ? '⚠ CID missing from the store' : `✗ ${e.message}`;
        badge.title = e.message;
        el.dataset.state = e.kind;
      },
    );
  }
}
