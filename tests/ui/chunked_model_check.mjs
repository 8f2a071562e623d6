// Runs the round page's in-browser model check (frontend/src/verify.js checkModel) and the commitment formatting on a
// fixture describing a round of a CHUNKED deployment (tests/ui/test_ui_chunked.py writes it): a stub chain answers the
// RoundManager reads, a stub `fetch` serves the circuit manifest and the model file by CID. Prints the verdicts as JSON.
// Usage: node tests/ui/chunked_model_check.mjs FIXTURE.json
import { readFileSync } from 'node:fs';
import { commitment } from '../../frontend/src/format.js';
import { checkModel } from '../../frontend/src/verify.js';

const fx = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const points = (c) => c.map(([x, y]) => [BigInt(x), BigInt(y)]);
const store = new Map(Object.entries(fx.store).map(([cid, text]) => [cid, new TextEncoder().encode(text)]));
globalThis.fetch = async (url) => {
  const cid = decodeURIComponent(String(url).replace(/^ipfs\//, '').split('?')[0]);
  const body = store.get(cid);
  return body ? new Response(body, { status: 200 }) : new Response(JSON.stringify({ message: 'missing' }), { status: 404 });
};
const answers = {
  zeroCommitment: fx.zero.map(BigInt),
  kzgBasisDigest: fx.digest,
  modelSize: BigInt(fx.modelSize),
  padRows: BigInt(fx.padRows),
  chunks: BigInt(fx.chunks),
  circuitCid: fx.manifestCid,
  expectedWeights: fx.weights.map(BigInt),
};
const chain = {
  read: async (_contract, fn) => {
    if (!(fn in answers)) throw new Error(`unexpected read ${fn}`);
    return answers[fn];
  },
};
const r = {
  id: 1,
  excluded: [],
  finalized: { args: { newModelCommitment: points(fx.event), newModelCid: fx.modelCid } },
  submissions: fx.submissions.map((c, slot) => ({ args: { slot: BigInt(slot), commitment: points(c) } })),
};
const info = { rule: 0n, newModelHash: fx.newModelHash };
const { checks, chunks } = await checkModel(chain, r, info);
console.log(JSON.stringify({ checks, chunks, html: commitment(points(fx.event)) }));
