// The chain, through its RPC endpoint (viem): contract reads by contract name with the generated ABIs, and a
// clear "chain unreachable" error when the node does not answer.
import { createPublicClient, http } from 'viem';
import { abis } from './generated/contracts.js';

export class ChainUnreachable extends Error {}

/**
 * A client for the chain `config` names.
 * @param {{rpcUrl: string, chainId: number, contracts: Record<string, `0x${string}`>}} config
 */
export function connect(config) {
  const client = createPublicClient({
    chain: { id: config.chainId, name: `chain ${config.chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [config.rpcUrl] } } },
    transport: http(config.rpcUrl, { timeout: 5000, retryCount: 1, retryDelay: 200 }),
  });

  /** Runs `fn(client)`, turning a network failure into ChainUnreachable. */
  async function rpc(fn) {
    try {
      return await fn(client);
    } catch (e) {
      const msg = String(e?.shortMessage || e?.message || e);
      if (/HTTP request failed|fetch|Failed to fetch|timed out|NetworkError|ECONNREFUSED/i.test(msg) || e?.name === 'HttpRequestError' || e?.name === 'TimeoutError') {
        throw new ChainUnreachable(`Chain unreachable: no answer from the RPC endpoint ${config.rpcUrl} (${msg.split('\n')[0]}). Is the node running? Start it with \`ape run serve\`.`);
      }
      throw e;
    }
  }

  return {
    config,
    rpc,
    /** Calls view function `functionName` (a name from contract-calls.js) of the deployed `contract`. */
    read: (contract, functionName, args = []) => rpc((c) => c.readContract({ address: config.contracts[contract], abi: abis[contract], functionName, args })),
    /** Every log of `contract`'s events that the UI reads, decoded, from the first block. */
    logs: (contract) => rpc((c) => c.getLogs({ address: config.contracts[contract], events: abis[contract].filter((x) => x.type === 'event'), fromBlock: 0n, toBlock: 'latest' })),
  };
}
