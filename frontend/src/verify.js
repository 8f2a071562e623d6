// Checking a finalized round in the browser, without trusting any server.
// - checkModel: the round's model file (by CID, hashed here) opens the on-chain commitment: C(S) = K + sum_j S_j L_j
//   computed here (kzg.js) from the circuit manifest's published basis, against the RoundFinalized event's point and
//   getRound(r).newModelHash; for a FedAvg round the same point is also re-derived from the hospitals' on-chain
//   commitments and the contract's expectedWeights (per chunk for a chunked model). A model committed in chunks
//   (RoundManager.chunks() > 1, ~114k values) is NOT opened here: its manifest publishes no Lagrange file (by design)
//   and the multi-scalar multiplication would be too large for a page; that check says so ("not checked in the
//   browser: checked by the auditor") instead of passing.
// - verifyRound (median rounds, the only ones with a proof): the proof file must be the one the chain accepted,
//   then the deployed verifier runs on it in an in-page EVM (evm.js, its own chunk, loaded only here) over the
//   chain's state at the current block (the verifier and every contract it calls: KzgMedianVerifier calls the shared
//   Halo2VerifierReusable), next to a tampered copy that the same code must reject.
import { bytesToHex, hexToBytes, keccak256 } from 'viem';
import { CALLS, RULE_VERIFIER } from './contract-calls.js';
import { fetchCid, fetchJson, howChecked } from './content.js';
import { esc } from './format.js';
import { AggregationRule } from './generated/contracts.js';
import { combineChunks, commit, commitmentHash, sameCommitment, samePoint } from './kzg.js';

/* global __EVM_VERSION__ */
export const EVM_VERSION = typeof __EVM_VERSION__ === 'string' ? __EVM_VERSION__ : 'unknown';
const RM = CALLS.RoundManager;
const short = (h) => `${String(h).slice(0, 10)}…`;

// ezkl writes field elements as 32-byte little-endian hex (as zkfl_dapp/core/fixedpoint.py felt_from_hex reads them).
export function feltFromHex(text) {
  const bytes = hexToBytes(String(text).startsWith('0x') ? text : `0x${text}`);
  if (bytes.length !== 32) throw new Error(`instance ${text} is not 32 bytes`);
  return BigInt(bytesToHex(bytes.reverse()));
}

/** Whether the published proof file's `hex_proof` hashes to the on-chain proofHash. */
export function proofHashMatches(proof, proofHash) {
  const hex = proof.hex_proof?.startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
  return keccak256(hex) === proofHash;
}

/** The excluded-slot mask of round `r` (bit i: slot i left out), from its UpdateExcluded events. */
export const excludedMask = (r) => r.excluded.reduce((m, e) => m | (1n << BigInt(e.args.slot)), 0n);

/**
 * The circuit manifest (zkfl-circuit/v2) the chain names, with its Lagrange points (null for a chunked model, whose
 * manifest has none by design); both hashed to their CIDs here.
 */
export async function loadBasis(chain) {
  const manifestCid = await chain.read('RoundManager', RM.circuitCid);
  const manifest = await fetchJson(manifestCid);
  if (manifest.format !== 'zkfl-circuit/v2') throw new Error(`the circuit manifest ${manifestCid} is ${manifest.format}, not zkfl-circuit/v2`);
  const lagrange = manifest.basis.lagrange ? await fetchJson(manifest.basis.lagrange.cid) : null;
  return { manifestCid, manifest, lagrange };
}

/** What the model check says for a chunked model instead of opening it (shown as "not checked", never a pass). */
export const NOT_OPENED_IN_BROWSER = 'not checked in the browser: checked by the auditor';

/**
 * Checks finalized round `r` (getRound = `info`) in this page. Returns `{checks, model, chunks}` where each check
 * is `{id, what, ok}` (ok: true, false, or null for "not checked here") and `chunks` the points per commitment.
 * Throws ChainUnreachable when the chain does not answer; a content problem becomes a failed check.
 */
export async function checkModel(chain, r, info) {
  const f = r.finalized.args;
  const event = f.newModelCommitment;
  const checks = [];
  const add = (id, ok, what) => checks.push({ id, ok, what });
  const [zero, digest, modelSize, padRows, chunkCount] = await Promise.all([
    chain.read('RoundManager', RM.zeroCommitment), chain.read('RoundManager', RM.kzgBasisDigest),
    chain.read('RoundManager', RM.modelSize), chain.read('RoundManager', RM.padRows), chain.read('RoundManager', RM.chunks),
  ]);
  const chunks = Number(chunkCount);
  const hashed = chunks > 1 ? 'keccak256(x_0 || y_0 || …) of the RoundFinalized event\'s points' : 'keccak256(x || y) of the RoundFinalized event\'s point';
  add('event-hash', event.length === chunks && commitmentHash(event) === info.newModelHash,
    `${hashed} is getRound(${r.id}).newModelHash <code>${short(info.newModelHash)}</code>${chunks > 1 ? ` (${event.length} of ${chunks} chunk points)` : ''}`);

  // The model file opens the commitment: C(S) from the published basis (one-vector models only).
  let basis = null;
  let rows = Number(modelSize) + Number(padRows);
  try {
    basis = await loadBasis(chain);
    const b = basis.manifest.basis;
    const kOk = samePoint(b.zero_commitment, zero);
    const dOk = BigInt(`0x${String(b.digest).replace(/^0x/, '')}`) === BigInt(digest);
    if (chunks > 1) {
      const chunk = Number(basis.manifest.chunk ?? 0);
      const cOk = chunk > 0 && Math.ceil(Number(modelSize) / chunk) === chunks;
      rows = chunks * (chunk + Number(padRows));
      add('basis', kOk && dOk && cOk,
        `the circuit manifest's basis is the chain's: K = zeroCommitment() ${kOk ? '✓' : '✗'}, digest = kzgBasisDigest() ${dOk ? '✓' : '✗'}, `
        + `${chunks} chunks of ${chunk} model + ${padRows} pad rows = chunks() ${cOk ? '✓' : '✗'}`);
    } else {
      add('basis', kOk && dOk && basis.lagrange?.length === rows,
        `the circuit manifest's basis is the chain's: K = zeroCommitment() ${kOk ? '✓' : '✗'}, digest = kzgBasisDigest() ${dOk ? '✓' : '✗'}, `
        + `${basis.lagrange?.length ?? 'no'} Lagrange points for d + P = ${rows} rows ${basis.lagrange?.length === rows ? '✓' : '✗'}`);
    }
  } catch (e) {
    add('basis', false, `the circuit manifest's basis could not be had: ${esc(e.message || e)}`);
  }
  let model = null;
  try {
    // A file that does not hash to its CID is still opened here (the CID check and the commitment check are
    // separate verdicts): its bytes are then fetched unchecked.
    const { bytes, cidOk, why } = await fetchChecked(f.newModelCid);
    add('model-cid', cidOk, cidOk ? `the model file hashes to its CID <code>${esc(f.newModelCid)}</code> (${howChecked(f.newModelCid)})`
      : `the model file does NOT hash to its CID <code>${esc(f.newModelCid)}</code>: ${esc(why)}`);
    model = JSON.parse(new TextDecoder().decode(bytes));
    if (model.format !== 'zkfl-model/v2') throw new Error(`format ${model.format}, not zkfl-model/v2`);
    if ((chunks === 1 || basis) && model.values.length !== rows) throw new Error(`${model.values.length} values, not ${chunks > 1 ? `${chunks} chunks of chunk + P` : 'd + P'} = ${rows}`);
    if (chunks > 1) {
      add('model-opens', null, `model file against the on-chain commitment: ${NOT_OPENED_IN_BROWSER} (a model of ${fmtRows(model.values.length)} values `
        + `committed in ${chunks} chunks: its circuit manifest has no Lagrange file, by design, and the multi-scalar multiplication is too large `
        + 'for this page; the auditor (<code>ape run audit</code>) opens it with ezkl, one commitment per chunk, and hospitals do before training on it)');
    } else {
      const values = model.values.map((v) => BigInt(v));
      if (!basis?.lagrange) throw new Error('no basis to commit with');
      const c = commit(values, basis.manifest.basis.zero_commitment, basis.lagrange);
      const ok = sameCommitment([c], event) && commitmentHash([c]) === info.newModelHash;
      add('model-opens', ok, ok ? `model file opens the on-chain commitment: C(S) = K + Σ S_j L_j over its ${rows} values, computed here, is the finalized point`
        : `the model file does NOT open the on-chain commitment: C(S) computed here is (<code>${short(`0x${c[0].toString(16)}`)}</code>, …), not the finalized point`);
    }
  } catch (e) {
    add('model-opens', false, `the model file does NOT open the on-chain commitment: ${esc(e.message || e)}`);
  }

  // FedAvg: the same points from the hospitals' commitments and the contract's weights (chunk by chunk).
  if (AggregationRule[Number(info.rule)] === 'FedAvg') {
    const mask = excludedMask(r);
    const weights = await chain.read('RoundManager', RM.expectedWeights, [BigInt(r.id), mask]);
    const bySlot = new Map(r.submissions.map((s) => [Number(s.args.slot), s.args.commitment]));
    const used = weights.map((w, i) => [i, w]).filter(([i, w]) => w !== 0n && bySlot.has(i));
    let ok = false; let why = '';
    try {
      const c = combineChunks(used.map(([i]) => bySlot.get(i)), used.map(([, w]) => w), zero);
      ok = sameCommitment(c, event) && commitmentHash(c) === info.newModelHash;
    } catch (e) {
      why = ` (${esc(e.message || e)})`;
    }
    const perChunk = chunks > 1 ? `, for each of the ${chunks} chunks,` : '';
    add('fedavg-derived', ok, `${ok ? 'commitment re-derived from the hospitals\' commitments' : 'the commitment does NOT follow from the hospitals\' commitments'}${why}: `
      + `K + Σ w_i (C_i − K)${perChunk} over slots ${used.map(([i]) => i).join(', ')} with expectedWeights(${r.id}, mask 0b${mask.toString(2)}) = [${weights.join(', ')}]`);
  }
  return { checks, model, chunks };
}

const fmtRows = (n) => Number(n).toLocaleString('en-US');

/**
 * `{bytes, cidOk: true}` when every block of `cid` checked out here; otherwise (an integrity error) the bytes the
 * gateway serves for it, unchecked, with `cidOk: false` and why.
 */
async function fetchChecked(cid) {
  try {
    return { bytes: await fetchCid(cid), cidOk: true };
  } catch (e) {
    if (e.kind !== 'integrity') throw e;
    const res = await fetch(`ipfs/${encodeURIComponent(cid)}`);
    if (!res.ok) throw e;
    return { bytes: new Uint8Array(await res.arrayBuffer()), cidOk: false, why: e.message };
  }
}

/** The `index`-th 64-byte committed point at the start of an ezkl proof (RoundManager._point). */
function proofPoint(proofHex, index) {
  const b = hexToBytes(proofHex).slice(64 * index, 64 * index + 64);
  if (b.length < 64) return [0n, 0n];
  return [BigInt(bytesToHex(b.slice(0, 32))), BigInt(bytesToHex(b.slice(32)))];
}

// What ties a median proof file to the round the chain finalized; each entry is [what, holds].
export function chainBindings(r, proofHex, slots) {
  const f = r.finalized.args;
  return [
    [`keccak256 of the proof is the on-chain proofHash <code>${esc(f.proofHash)}</code>`, keccak256(proofHex) === f.proofHash],
    [`its committed point ${slots} (the median) is the round's new model commitment`, f.newModelCommitment.length === 1 && samePoint(proofPoint(proofHex, slots), f.newModelCommitment[0])],
  ];
}

/**
 * Verifies median round `r` (whose getRound is `info`) in this page. Calls `onExecute({ruleName, code})` just
 * before the verifier's code runs. Returns `{state: 'malformed', error}` for a file that is not an ezkl proof,
 * `{state: 'mismatch', bindings}` for a proof the chain did not accept, otherwise `{state}` 'verified',
 * 'rejected' or 'control-failed' with what ran. Throws ContentError or ChainUnreachable when it cannot get
 * the proof or the code.
 */
export async function verifyRound(chain, r, info, onExecute) {
  const f = r.finalized;
  const ruleName = AggregationRule[Number(info.rule)];
  const getter = RULE_VERIFIER[ruleName];
  if (!getter) throw new Error(`round ${r.id} (${ruleName ?? info.rule}) was finalized without a proof`);
  const [address, slots, blockNumber] = await Promise.all([
    chain.read('RoundManager', getter), chain.read('RoundManager', RM.slots), chain.rpc((c) => c.getBlockNumber()),
  ]);
  const code = await chain.rpc((c) => c.getCode({ address, blockNumber }));
  if (!code || code === '0x') throw new Error(`no contract code at the ${ruleName} verifier address ${address}`);
  const proof = await fetchJson(f.args.proofCid);
  let proofHex; let instances;
  try {
    proofHex = String(proof.hex_proof).startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
    hexToBytes(proofHex);
    instances = (proof.instances?.[0] ?? []).map(feltFromHex);
  } catch (e) {
    return { state: 'malformed', error: e };
  }
  const bindings = chainBindings(r, proofHex, Number(slots));
  if (bindings.some(([, ok]) => !ok)) return { state: 'mismatch', bindings };
  onExecute({ ruleName, code });
  const { runVerifier } = await import('./evm.js');
  const where = { rpcUrl: chain.config.rpcUrl, blockNumber, address };
  const genuine = await runVerifier(where, proofHex, instances);
  const tampered = hexToBytes(proofHex);
  const flipped = tampered.length >> 1;
  tampered[flipped] ^= 0x01;
  const control = await runVerifier(where, bytesToHex(tampered), instances);
  const state = !genuine.accepted ? 'rejected' : control.accepted ? 'control-failed' : 'verified';
  return { state, ruleName, address, code, blockNumber, instances, bindings, genuine, control, flipped, proofBytes: tampered.length };
}
