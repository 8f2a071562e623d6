// In-browser proof verification: the deployed verifier contract executed in an in-memory EVM (@ethereumjs/evm;
// the BN254 ecAdd/ecMul/ecPairing precompiles run in JavaScript) against the chain's state at one pinned block.
// A verifier may call others (KzgMedianVerifier calls the shared Halo2VerifierReusable, whose registered VKAs
// are in its storage): every account the call touches (code, storage, balance) is read from the chain node at
// that block (@ethereumjs/statemanager's RPCStateManager: eth_getProof, eth_getCode, eth_getStorageAt), so the
// page runs the same code on the same state the chain did, and lists each contract that ran.
// Loaded on demand (its own chunk), never by the pages themselves.
import { createEVM } from '@ethereumjs/evm';
import { RPCStateManager } from '@ethereumjs/statemanager';
import { createAddressFromString } from '@ethereumjs/util';
import { bytesToHex, decodeFunctionResult, encodeFunctionData, hexToBytes, keccak256 } from 'viem';
import { CALLS } from './contract-calls.js';
import { abis } from './generated/contracts.js';

const VERIFIER_ABI = abis.IHalo2Verifier;
const VERIFY = CALLS.IHalo2Verifier.verifyProof;
// Far above what a Halo2 verification needs (about 0.7 M gas; 1.7 M through the reusable verifier): running out
// would be reported, not hidden.
const GAS_LIMIT = 30_000_000n;

/**
 * Runs `verifyProof(proof, instances)` on the verifier at `address` as a static call, in a fresh EVM whose state is
 * the chain's at `blockNumber` (read through `rpcUrl` as the call needs it).
 * @param {{rpcUrl: string, blockNumber: bigint, address: `0x${string}`}} where the chain, its block, the verifier
 * @param {`0x${string}`} proof the proof bytes
 * @param {bigint[]} instances the public instances, as uint256
 * @returns {Promise<{accepted: boolean, outcome: string, gasUsed: bigint, ms: number,
 *   contracts: {address: string, bytes: number, codeHash: string}[]}>} `accepted` only when the call returned
 *   without an exception and its ABI-decoded result is `true` (`outcome` says why not); `contracts`: every contract
 *   whose code ran, in call order.
 */
export async function runVerifier({ rpcUrl, blockNumber, address }, proof, instances) {
  const stateManager = new RPCStateManager({ provider: rpcUrl, blockTag: blockNumber });
  const evm = await createEVM({ stateManager });
  const called = [];
  evm.events.on('beforeMessage', (msg) => {
    const to = msg.codeAddress?.toString() ?? msg.to?.toString();
    if (to && !called.includes(to)) called.push(to);
  });
  const data = encodeFunctionData({ abi: VERIFIER_ABI, functionName: VERIFY, args: [proof, instances] });
  const t0 = performance.now();
  const res = await evm.runCall({ to: createAddressFromString(address), data: hexToBytes(data), gasLimit: GAS_LIMIT, isStatic: true });
  const ms = performance.now() - t0;
  const contracts = [];
  for (const a of called) {
    const code = await stateManager.getCode(createAddressFromString(a));
    if (code.length) contracts.push({ address: a, bytes: code.length, codeHash: keccak256(code) });
  }
  const exec = res.execResult;
  const gasUsed = exec.executionGasUsed;
  if (exec.exceptionError) return { accepted: false, outcome: `reverted (${exec.exceptionError.error})`, gasUsed, ms, contracts };
  let value;
  try {
    value = decodeFunctionResult({ abi: VERIFIER_ABI, functionName: VERIFY, data: bytesToHex(exec.returnValue) });
  } catch {
    return { accepted: false, outcome: `returned ${exec.returnValue.length} bytes that are not an ABI-encoded bool`, gasUsed, ms, contracts };
  }
  return { accepted: value === true, outcome: value === true ? 'returned true' : 'returned false', gasUsed, ms, contracts };
}

