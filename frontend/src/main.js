// zkFL consortium explorer: every value on these pages comes from the chain's RPC endpoint (chain.js, viem)
// or from content fetched by CID through the loopback gateway (content.js), which refuses content not
// matching its CID. This module is the router: #/<page>[/<arg>] -> pages/<page>.js.
import { ChainUnreachable, connect } from './chain.js';
import { loadConfig } from './config.js';
import { ContentError } from './content.js';
import { esc } from './format.js';
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
      ctx = { app, config, chain: connect(config) };
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
