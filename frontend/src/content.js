// Content by CID through the loopback gateway (GET ipfs/<cid>), which refuses content that does not match its
// CID; each CID is fetched once per page load. An artifact link shows the outcome as an integrity badge.
import { esc, tid } from './format.js';

/** Why content could not be had: `kind` is 'unreachable', 'missing', 'integrity' or 'error'. */
export class ContentError extends Error {
  constructor(kind, cid, message) { super(message); this.kind = kind; this.cid = cid; }
}

const cache = new Map();

/** The bytes stored under `cid`, as the gateway checked them. */
export function fetchCid(cid) {
  if (!cache.has(cid)) {
    cache.set(cid, (async () => {
      let res;
      try {
        res = await fetch(`ipfs/${encodeURIComponent(cid)}`);
      } catch (e) {
        throw new ContentError('unreachable', cid, `gateway unreachable: ${e.message}`);
      }
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
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
      () => { badge.className = 'integrity ok'; badge.textContent = '✓ content matches CID'; },
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
