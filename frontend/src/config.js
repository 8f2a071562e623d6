// The UI's configuration: the chain's RPC endpoint, its id and the contract addresses, served by the
// gateway as /config.json (zkfl_dapp/gateway.py ui_config). Loaded once, by the router.

/**
 * @returns {Promise<{rpcUrl: string, chainId: number, contracts: Record<string, `0x${string}`>}>}
 */
export async function loadConfig() {
  let res;
  try {
    res = await fetch('config.json', { cache: 'no-store' });
  } catch (e) {
    throw new Error(`cannot load config.json from the gateway: ${e.message}`);
  }
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  return res.json();
}
