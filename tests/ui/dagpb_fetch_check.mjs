// Runs the page's content check (frontend/src/content.js fetchCid) on a multi-block UnixFS file served by a stub
// gateway (tests/ui/test_ui_dagpb.py writes the fixture: every block of the file as the embedded store holds it, and
// what a lying gateway substitutes or drops, per case). Prints, per case, what the page concluded, as JSON.
// Usage: node tests/ui/dagpb_fetch_check.mjs FIXTURE.json
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from 'viem';

const fx = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const hex = (h) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const out = {};
for (const [name, { replace = {}, remove = [] }] of Object.entries(fx.cases)) {
  const blocks = new Map(Object.entries({ ...fx.blocks, ...replace }).map(([cid, h]) => [cid, hex(h)]));
  for (const cid of remove) blocks.delete(cid);
  const requested = [];
  globalThis.fetch = async (url) => {
    const [path, query] = String(url).split('?');
    const cid = decodeURIComponent(path.replace(/^ipfs\//, ''));
    requested.push({ cid, raw: query === 'format=raw' });
    const body = blocks.get(cid);
    return body ? new Response(body, { status: 200 }) : new Response(JSON.stringify({ message: 'missing' }), { status: 404 });
  };
  // A fresh module per case: content.js caches by CID for the page's lifetime.
  const content = await import(`../../frontend/src/content.js?case=${name}`);
  try {
    const bytes = await content.fetchCid(fx.root);
    out[name] = { ok: true, sha256: bytesToHex(sha256(bytes)).slice(2), length: bytes.length, blocks: content.blocksOf(fx.root), how: content.howChecked(fx.root), requested };
  } catch (e) {
    out[name] = { ok: false, kind: e.kind, message: e.message, requested };
  }
}
process.stdout.write(JSON.stringify(out));
