// The UI's configuration: the chain's RPC endpoint and the RoundManager the pages read, and where each came from.
// The gateway that serves this page suggests them in /config.json (zkfl_dapp/apps/gateway.py ui_config); a user pins
// them in the page's URL instead, which wins: ?rpc=<RPC URL>&rounds=<RoundManager>&registry=<ConsortiumRegistry>.
// Every other address comes from the chain, never from the server: the ConsortiumRegistry is RoundManager.registry()
// (a pinned registry must equal it), the PredictionRegistry is ConsortiumRegistry.predictionRegistry(), the
// verifiers are RoundManager.normVerifier() / medianVerifier(). Loaded once, by the router; the header shows it all.
import { ChainUnreachable } from './chain.js';
import { CALLS, RULE_VERIFIER } from './contract-calls.js';

/** URL parameter -> what it pins. */
export const PINS = { rpc: 'rpcUrl', rounds: 'RoundManager', registry: 'ConsortiumRegistry' };

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const ZERO = /^0x0{40}$/i;

/** Where a value came from: 'url' (pinned by the user), 'server' (the gateway's config.json) or 'chain' (read there). */
export const SOURCE = { url: 'url', server: 'server', chain: 'chain' };

/**
 * The configuration: config.json with the URL's pins applied. `sources` says, per value, where it came from.
 * @param {string} search the page's query string (location.search)
 * @returns {Promise<{rpcUrl: string, chainId: number, contracts: Record<string, `0x${string}`>,
 *   sources: Record<string, string>, notes: Record<string, string>, pins: Record<string, string>}>}
 */
export async function loadConfig(search = location.search) {
  const params = new URLSearchParams(search);
  const pins = {};
  for (const [param, what] of Object.entries(PINS)) {
    const value = params.get(param);
    if (value === null || value === '') continue;
    if (what === 'rpcUrl' ? !/^https?:\/\/[^\s]+$/.test(value) : !ADDRESS.test(value)) {
      throw new Error(`URL parameter ${param}=${value}: not ${what === 'rpcUrl' ? 'an http(s) URL' : 'a 0x-prefixed 20-byte address'}`);
    }
    pins[param] = value;
  }
  let server = null;
  try {
    const res = await fetch('config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    server = await res.json();
  } catch (e) {
    if (!(pins.rpc && pins.rounds)) throw new Error(`cannot load config.json from the gateway (${e.message}): pin the chain in the URL instead, ?rpc=<RPC URL>&rounds=<RoundManager address>`);
  }
  const config = { rpcUrl: server?.rpcUrl, chainId: Number(server?.chainId ?? 0), contracts: {}, sources: {}, notes: {}, pins };
  config.sources.rpcUrl = SOURCE.server;
  if (server?.contracts?.RoundManager) {
    config.contracts.RoundManager = server.contracts.RoundManager;
    config.sources.RoundManager = SOURCE.server;
  }
  if (server?.contracts?.ConsortiumRegistry) config.serverRegistry = server.contracts.ConsortiumRegistry;
  for (const [param, what] of Object.entries(PINS)) {
    if (!pins[param]) continue;
    if (what === 'rpcUrl') config.rpcUrl = pins[param];
    else config.contracts[what] = pins[param];
    config.sources[what] = SOURCE.url;
  }
  if (!config.rpcUrl) throw new Error('no RPC URL: config.json names none; pin one in the URL, ?rpc=<RPC URL>');
  if (!config.contracts.RoundManager) throw new Error('no RoundManager: config.json names none; pin one in the URL, ?rounds=<address>');
  return config;
}

/**
 * Fills in every other contract from the chain (see the module comment) and the chain id from the node.
 * Throws when a pinned registry is not the RoundManager's, or when the RoundManager address is not one.
 */
export async function resolveContracts(config, chain) {
  const RM = CALLS.RoundManager;
  const c = config.contracts;
  config.chainId = Number(await chain.rpc((x) => x.getChainId()));
  let registry;
  try {
    registry = await chain.read('RoundManager', RM.registry);
  } catch (e) {
    if (e instanceof ChainUnreachable) throw e;
    throw new Error(`the contract at ${c.RoundManager} (${config.sources.RoundManager === SOURCE.url ? 'pinned in the URL' : 'named by the server\'s config.json'}) is not a RoundManager on chain ${config.chainId}: ${String(e?.shortMessage || e?.message || e).split('\n')[0]}`);
  }
  if (config.sources.ConsortiumRegistry === SOURCE.url) {
    if (registry.toLowerCase() !== c.ConsortiumRegistry.toLowerCase()) {
      throw new Error(`the pinned registry ${c.ConsortiumRegistry} is not the registry of RoundManager ${c.RoundManager} (RoundManager.registry() is ${registry})`);
    }
  } else {
    c.ConsortiumRegistry = registry;
    config.sources.ConsortiumRegistry = SOURCE.chain;
    config.notes.ConsortiumRegistry = 'RoundManager.registry()';
    if (config.serverRegistry && config.serverRegistry.toLowerCase() !== registry.toLowerCase()) {
      config.notes.ConsortiumRegistry += `; the server's config.json named ${config.serverRegistry}, which is NOT it`;
    }
  }
  const [predictions, norm, median] = await Promise.all([
    chain.read('ConsortiumRegistry', CALLS.ConsortiumRegistry.predictionRegistry).catch((e) => {
      if (e instanceof ChainUnreachable) throw e;
      config.notes.predictionsError = `ConsortiumRegistry.predictionRegistry() failed: ${String(e?.shortMessage || e?.message || e).split('\n')[0]}`;
      return `0x${'0'.repeat(40)}`;
    }),
    chain.read('RoundManager', RM.normVerifier), chain.read('RoundManager', RULE_VERIFIER.Median),
  ]);
  const fromChain = (name, address, note) => {
    if (ZERO.test(address)) return;
    c[name] = address;
    config.sources[name] = SOURCE.chain;
    config.notes[name] = note;
  };
  fromChain('PredictionRegistry', predictions, 'ConsortiumRegistry.predictionRegistry()');
  fromChain('NormVerifier', norm, 'RoundManager.normVerifier()');
  fromChain('MedianVerifier', median, 'RoundManager.medianVerifier()');
  if (!c.PredictionRegistry) config.notes.PredictionRegistry = config.notes.predictionsError ?? 'none recorded: ConsortiumRegistry.predictionRegistry() is zero';
  return config;
}

/** The page's URL with every value pinned: the RPC URL, the RoundManager and the ConsortiumRegistry in use. */
export function pinnedUrl(config, loc = location) {
  const params = new URLSearchParams({ rpc: config.rpcUrl, rounds: config.contracts.RoundManager, registry: config.contracts.ConsortiumRegistry });
  return `${loc.pathname}?${params}${loc.hash}`;
}
