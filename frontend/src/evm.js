// In-browser proof verification: the deployed ezkl Halo2 verifier's runtime bytecode, executed in an
// in-memory EVM (@ethereumjs/evm; the BN254 ecAdd/ecMul/ecPairing precompiles run in JavaScript).
// Loaded on demand (its own chunk), never by the pages themselves.
import { createEVM } from '@ethereumjs/evm';
import { bytesToHex, decodeFunctionResult, encodeFunctionData, hexToBytes } from 'viem';
import { CALLS } from './contract-calls.js';
import { abis } from './generated/contracts.js';

const VERIFIER_ABI = abis.IHalo2Verifier;
const VERIFY = CALLS.IHalo2Verifier.verifyProof;
// Far above what a Halo2 verification needs (about 0.7 M gas): running out would be reported, not hidden.
const GAS_LIMIT = 30_000_000n;

/**
 * Runs `verifyProof(proof, instances)` on `code` (runtime bytecode) in a fresh EVM, as a static call.
 * @param {`0x${string}`} code the verifier's runtime bytecode (eth_getCode)
 * @param {`0x${string}`} proof the proof bytes
 * @param {bigint[]} instances the public instances, as uint256
 * @returns {Promise<{accepted: boolean, outcome: string, gasUsed: bigint, ms: number}>} `accepted` only
 *   when the call returned without an exception and its ABI-decoded result is `true`; `outcome` says why not.
 */
export async function runVerifier(code, proof, instances) {
  const evm = await createEVM();
  const data = encodeFunctionData({ abi: VERIFIER_ABI, functionName: VERIFY, args: [proof, instances] });
  const t0 = performance.now();
  const res = await evm.runCode({ code: hexToBytes(code), data: hexToBytes(data), gasLimit: GAS_LIMIT, isStatic: true });
  const ms = performance.now() - t0;
  const gasUsed = res.executionGasUsed;
  if (res.exceptionError) return { accepted: false, outcome: `reverted (${res.exceptionError.error})`, gasUsed, ms };
  let value;
  try {
    value = decodeFunctionResult({ abi: VERIFIER_ABI, functionName: VERIFY, data: bytesToHex(res.returnValue) });
  } catch {
    return { accepted: false, outcome: `returned ${res.returnValue.length} bytes that are not an ABI-encoded bool`, gasUsed, ms };
  }
  return { accepted: value === true, outcome: value === true ? 'returned true' : 'returned false', gasUsed, ms };
}
