// Verifying a finalized round's proof in the browser, without trusting any server: the proof file (by CID) must
// be the one the chain accepted, then the deployed verifier's code (eth_getCode) runs on it in an in-page EVM
// (evm.js, its own chunk, loaded only here), next to a tampered copy that the same code must reject.
import { bytesToHex, encodePacked, hexToBytes, keccak256 } from 'viem';
import { CALLS, RULE_VERIFIER } from './contract-calls.js';
import { fetchJson } from './content.js';
import { esc } from './format.js';
import { AggregationRule } from './generated/contracts.js';

/* global __EVM_VERSION__ */
export const EVM_VERSION = typeof __EVM_VERSION__ === 'string' ? __EVM_VERSION__ : 'unknown';
const FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

// ezkl writes field elements as 32-byte little-endian hex (as zkfl_dapp/quantization.py felt_from_hex reads them).
export function feltFromHex(text) {
  const bytes = hexToBytes(String(text).startsWith('0x') ? text : `0x${text}`);
  if (bytes.length !== 32) throw new Error(`instance ${text} is not 32 bytes`);
  const value = BigInt(bytesToHex(bytes.reverse()));
  if (value >= FIELD_MODULUS) throw new Error(`instance ${text} is not below the BN254 modulus`);
  return value;
}

/** Whether the published proof file's `hex_proof` hashes to the on-chain proofHash. */
export function proofHashMatches(proof, proofHash) {
  const hex = proof.hex_proof?.startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
  return keccak256(hex) === proofHash;
}

// What ties the proof file to the round the chain finalized; each entry is [what, holds].
export function chainBindings(r, proofHex, instances, slots, modelSize) {
  const f = r.finalized.args;
  const checks = [[`keccak256 of the proof is the on-chain proofHash <code>${esc(f.proofHash)}</code>`, keccak256(proofHex) === f.proofHash]];
  if (instances.length < slots + 1 + modelSize) {
    checks.push([`the proof has ${instances.length} instances, fewer than the ${slots + 1 + modelSize} of the circuit layout`, false]);
    return checks;
  }
  const model = instances.slice(slots + 1, slots + 1 + modelSize);
  const modelHash = BigInt(keccak256(encodePacked(model.map(() => 'uint256'), model)));
  checks.push([`keccak256 of its ${modelSize} model instances is the round's new model commitment`, modelHash === BigInt(f.newModelCommitment)]);
  const excluded = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const included = r.submissions.filter((s) => !excluded.has(Number(s.args.slot)));
  const mismatched = included.filter((s) => instances[Number(s.args.slot)] !== BigInt(s.args.commitment)).map((s) => Number(s.args.slot));
  checks.push([mismatched.length ? `instances ${mismatched.join(', ')} differ from those slots' on-chain commitments`
    : `its instances 0..${slots - 1} carry the ${included.length} included updates' on-chain commitments`, mismatched.length === 0]);
  return checks;
}

/**
 * Verifies finalized round `r` (whose getRound is `info`) in this page. Calls `onExecute({ruleName, code})` just
 * before the verifier's code runs. Returns `{state: 'malformed', error}` for a file that is not an ezkl proof,
 * `{state: 'mismatch', bindings}` for a proof the chain did not accept, otherwise `{state}` 'verified',
 * 'rejected' or 'control-failed' with what ran. Throws ContentError or ChainUnreachable when it cannot get
 * the proof or the code.
 */
export async function verifyRound(chain, r, info, onExecute) {
  const f = r.finalized;
  const rule = Number(info.rule);
  const ruleName = AggregationRule[rule];
  const getter = RULE_VERIFIER[ruleName];
  if (!getter) throw new Error(`round ${r.id} has an aggregation rule (${info.rule}) this page does not know`);
  const [address, slots, modelSize] = await Promise.all([
    chain.read('RoundManager', getter), chain.read('RoundManager', CALLS.RoundManager.slots), chain.read('RoundManager', CALLS.RoundManager.modelSize),
  ]);
  const code = await chain.rpc((c) => c.getCode({ address }));
  if (!code || code === '0x') throw new Error(`no contract code at the ${ruleName} verifier address ${address}`);
  const proof = await fetchJson(f.args.proofCid);
  let proofHex; let instances;
  try {
    proofHex = String(proof.hex_proof).startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
    hexToBytes(proofHex);
    instances = proof.instances[0].map(feltFromHex);
  } catch (e) {
    return { state: 'malformed', error: e };
  }
  const bindings = chainBindings(r, proofHex, instances, Number(slots), Number(modelSize));
  if (bindings.some(([, ok]) => !ok)) return { state: 'mismatch', bindings };
  onExecute({ ruleName, code });
  const { runVerifier } = await import('./evm.js');
  const genuine = await runVerifier(code, proofHex, instances);
  const tampered = hexToBytes(proofHex);
  const flipped = tampered.length >> 1;
  tampered[flipped] ^= 0x01;
  const control = await runVerifier(code, bytesToHex(tampered), instances);
  const state = !genuine.accepted ? 'rejected' : control.accepted ? 'control-failed' : 'verified';
  return { state, ruleName, address, code, instances, bindings, genuine, control, flipped, proofBytes: tampered.length };
}
