// Content by CID through the loopback gateway, checked in this page whatever the gateway says. Each CID is fetched
// once per page load, block by block (GET ipfs/<cid>?format=raw, Kubo's gateway convention):
// - a raw-codec CID (every file under Kubo's 256 KiB chunk: the JSON files the pages read) is one block, hashed here;
// - a dag-pb CID (a larger file: SRS, verifying keys, a large model) is a UnixFS file DAG: its root block is hashed
//   here and decoded (@ipld/dag-pb, ipfs-unixfs), every block it links is fetched and hashed the same way, each child's
//   length must be the size its parent declares (blockSizes), and the file is the concatenation, in link order.
// Only sha2-256 CIDs are accepted (what the stores make). A block that does not hash to its CID, a node whose links or
// sizes do not add up, or a DAG beyond the limits below is an `integrity` ContentError. An artifact link shows the
// outcome as an integrity badge.
import * as dagPb from '@ipld/dag-pb';
import { sha256 } from '@noble/hashes/sha2';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import { esc, tid } from './format.js';

/** Why content could not be had: `kind` is 'unreachable', 'missing', 'integrity' or 'error'. */
export class ContentError extends Error {
  constructor(kind, cid, message) { super(message); this.kind = kind; this.cid = cid; }
}

const RAW = 0x55;
const SHA2_256 = 0x12;
/** What the page assembles at most (the embedded store's own caps are of the same order). */
export const LIMITS = { bytes: 256 * 1024 * 1024, blocks: 4096, depth: 16 };

const cache = new Map();
const blockCounts = new Map();

/** The parsed CID, or an 'error' ContentError for text that is not one. */
function parseCid(text) {
  try {
    return CID.parse(String(text));
  } catch (e) {
    throw new ContentError('error', text, `not a CID: ${text} (${e.message})`);
  }
}

/** Whether `bytes` hash to `cid` (sha2-256 computed here); throws for another hash function. */
function hashesTo(cid, bytes) {
  if (cid.multihash.code !== SHA2_256) throw new ContentError('error', String(cid), `${cid}: only sha2-256 CIDs are checked here`);
  const want = cid.multihash.digest;
  const got = sha256(bytes);
  return want.length === got.length && got.every((x, i) => x === want[i]);
}

/** Whether `bytes` hash to the single raw-block CID `cid`; null when the CID is not a raw block (a DAG). */
export function matchesCid(cid, bytes) {
  const parsed = parseCid(cid);
  return parsed.code === RAW ? hashesTo(parsed, bytes) : null;
}

/** One block from the gateway, hashed here against `cid`. */
async function fetchBlock(cid, root) {
  const text = cid.toString();
  let res;
  try {
    res = await fetch(`ipfs/${encodeURIComponent(text)}?format=raw`, { headers: { Accept: 'application/vnd.ipld.raw' } });
  } catch (e) {
    throw new ContentError('unreachable', root, `gateway unreachable: ${e.message}`);
  }
  const of = text === root ? '' : ` (a block of ${root})`;
  if (!res.ok) {
    let detail = '';
    try { detail = (await res.json()).message; } catch { /* not JSON */ }
    if (res.status === 404) throw new ContentError('missing', root, `CID missing: no content stored under ${text}${of}`);
    if (res.status === 502) throw new ContentError('integrity', root, `integrity error: the stored content does not match CID ${text}${of} (${detail})`);
    throw new ContentError('error', root, `HTTP ${res.status} for ${text}${of}: ${detail}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!hashesTo(cid, bytes)) {
    throw new ContentError('integrity', root, `integrity error: the content served for ${text}${of} does not hash to its CID (sha2-256 computed in this page)`);
  }
  return bytes;
}

/** The file bytes under `cid` (a raw block or a UnixFS file DAG), every block checked; `walk` counts blocks. */
async function assemble(cid, root, walk, depth) {
  const bad = (why) => new ContentError('integrity', root, `integrity error: ${cid}${String(cid) === root ? '' : ` (in ${root})`} ${why}`);
  if (depth > LIMITS.depth) throw bad(`nests deeper than ${LIMITS.depth} levels`);
  walk.blocks += 1;
  if (walk.blocks > LIMITS.blocks) throw bad(`has more than ${LIMITS.blocks} blocks`);
  const block = await fetchBlock(cid, root);
  if (cid.code === RAW) return [block];
  if (cid.code !== dagPb.code) throw new ContentError('error', root, `${cid}: codec 0x${cid.code.toString(16)} is neither raw nor dag-pb`);
  let node; let file;
  try {
    node = dagPb.decode(block);
    file = UnixFS.unmarshal(node.Data ?? new Uint8Array());
  } catch (e) {
    throw bad(`is not a UnixFS dag-pb node (${e.message})`);
  }
  if (file.type !== 'file' && file.type !== 'raw') throw bad(`is a UnixFS ${file.type}, not a file`);
  if (node.Links.length !== file.blockSizes.length) throw bad(`has ${node.Links.length} links but ${file.blockSizes.length} block sizes`);
  const declared = Number(file.fileSize());
  if (depth === 0 && declared > LIMITS.bytes) throw bad(`declares ${declared} bytes, more than this page assembles (${LIMITS.bytes})`);
  const children = await Promise.all(node.Links.map((link) => assemble(link.Hash, root, walk, depth + 1)));
  const parts = file.data?.length ? [file.data] : [];
  children.forEach((child, i) => {
    const length = child.reduce((n, b) => n + b.length, 0);
    if (length !== Number(file.blockSizes[i])) throw bad(`declares ${file.blockSizes[i]} bytes for link ${i}, which holds ${length}`);
    parts.push(...child);
  });
  return parts;
}

/**
 * The bytes stored under `cid`, every block hashed and every dag-pb link checked in this page (an `integrity`
 * ContentError when anything does not match, whatever the gateway said). Resolves to a Uint8Array; `blocksOf(cid)`
 * then says how many blocks it was checked in.
 */
export function fetchCid(cid) {
  if (!cache.has(cid)) {
    cache.set(cid, (async () => {
      const walk = { blocks: 0 };
      const parts = await assemble(parseCid(cid), String(cid), walk, 0);
      const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const p of parts) { out.set(p, at); at += p.length; }
      blockCounts.set(cid, walk.blocks);
      return out;
    })());
  }
  return cache.get(cid);
}

/** How many blocks `cid`'s content was checked in (after fetchCid resolved). */
export const blocksOf = (cid) => blockCounts.get(cid) ?? 0;

/** What a check of `cid` covered, in words: one block, or N blocks and their links. */
export const howChecked = (cid) => (blocksOf(cid) > 1
  ? `${blocksOf(cid)} blocks, each hashed here (sha2-256), dag-pb links and sizes checked`
  : 'sha2-256 computed here');

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
        const blocks = blocksOf(el.dataset.cid);
        el.dataset.blocks = String(blocks);
        badge.textContent = blocks > 1 ? `✓ content matches CID (${blocks} blocks hashed here)` : '✓ content matches CID';
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
