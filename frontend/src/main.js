// zkFL consortium explorer: every value on these pages comes from the chain's RPC endpoint (chain.js, viem)
// or from content fetched by CID through the loopback gateway (content.js) and hashed in this page. The RPC URL
// and the RoundManager come from the URL's pins or the server's config.json, every other address from the chain
// (config.js); the header shows each and where it came from. This module is the router:
// #/<page>[/<arg>] -> pages/<page>.js.
import { ChainUnreachable, connect } from './chain.js';
import { SOURCE, loadConfig, pinnedUrl, resolveContracts } from './config.js';
import { ContentError } from './content.js';
import { esc, tid } from './format.js';
import * as accuracy from './pages/accuracy.js';
import * as consortium from './pages/consortium.js';
import * as lineage from './pages/lineage.js';
import * as predictions from './pages/predictions.js';
import * as round from './pages/round.js';
import * as rounds from './pages/rounds.js';

const PAGES = { consortium, rounds, round, lineage, accuracy, predictions };
const app = document.getElementById('app');
let ctx; // {app, config, chain}, once config.json has loaded

async function chainStatus({ config, chain }) {
  const el = document.getElementById('chain-status');
  try {
    const [id, block] = await Promise.all([chain.rpc((c) => c.getChainId()), chain.rpc((c) => c.getBlockNumber())]);
    el.textContent = `chain ${id} · block ${block} · ${config.rpcUrl}`;
    el.className = 'muted';
  } catch (e) {
    el.textContent = `chain unreachable (${config.rpcUrl})`;
    el.className = 'integrity bad';
  }
}

const SOURCE_MARK = {
  [SOURCE.url]: '<span class="badge ok" data-testid="source-url">pinned in the URL</span>',
  [SOURCE.server]: '<span class="badge warn" data-testid="source-server">from the server\'s config.json: not pinned</span>',
  [SOURCE.chain]: '<span class="badge neutral" data-testid="source-chain">read from the chain</span>',
};

/** The header's connection panel: the RPC URL and every contract address in use, each with where it came from. */
function showConnection(config) {
  const el = document.getElementById('connection');
  const row = (what, id, value, key) => `<span class="conn-item" ${tid(`conn-${id}`)} data-source="${config.sources[key] ?? ''}" data-value="${esc(value ?? '')}">
    ${what} ${value ? `<code>${esc(value)}</code>` : '<span class="muted">none</span>'} ${SOURCE_MARK[config.sources[key]] ?? ''}${config.notes[key] ? ` <span class="muted">${esc(config.notes[key])}</span>` : ''}</span>`;
  const c = config.contracts;
  const fromServer = Object.values(config.sources).includes(SOURCE.server);
  el.innerHTML = `${row('RPC', 'rpc', config.rpcUrl, 'rpcUrl')} <span class="muted">chain ${config.chainId}</span>
    ${row('RoundManager', 'rounds', c.RoundManager, 'RoundManager')}
    ${row('ConsortiumRegistry', 'registry', c.ConsortiumRegistry, 'ConsortiumRegistry')}
    ${row('PredictionRegistry', 'predictions', c.PredictionRegistry, 'PredictionRegistry')}
    ${fromServer ? `<span class="conn-warn" ${tid('conn-server-warning')}>The server that serves this page chose the values marked “from the server”: a lying server could
    point you at another chain or contract. Check them, or pin your own: <code>?rpc=…&amp;rounds=…&amp;registry=…</code>.</span>` : ''}
    <a href="${esc(pinnedUrl(config))}" ${tid('pin-link')}>${fromServer ? 'Pin these values in the URL' : 'Link with these pins'}</a>`;
  el.className = fromServer ? 'from-server' : 'pinned';
}

let renderSeq = 0;
async function route() {
  const seq = ++renderSeq;
  const hash = location.hash.replace(/^#\/?/, '') || 'consortium';
  const [page, arg] = hash.split('/');
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page || (page === 'round' && a.dataset.page === 'rounds'));
  app.innerHTML = '<p class="state loading" data-testid="loading">Loading from the chain…</p>';
  try {
    if (!ctx) {
      const config = await loadConfig();
      const chain = connect(config);
      await resolveContracts(config, chain);
      showConnection(config);
      ctx = { app, config, chain };
    }
    chainStatus(ctx);
    if (Object.hasOwn(PAGES, page)) await PAGES[page].render(ctx, arg);
    else app.innerHTML = `<p class="state empty">No page “${esc(page)}”.</p>`;
  } catch (e) {
    if (seq !== renderSeq) return;
    const kind = e instanceof ChainUnreachable ? 'chain-unreachable' : e instanceof ContentError ? `content-${e.kind}` : 'error';
    app.innerHTML = `<p class="state error" data-testid="error" data-kind="${kind}">${esc(e.message || String(e))}</p>`;
    console.error(e);
  }
}

window.addEventListener('hashchange', route);
route();
