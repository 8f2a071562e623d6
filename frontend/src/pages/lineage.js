// #/lineage: each global model, from the genesis model on, with its parent, proof and accuracy.
import { CALLS } from '../contract-calls.js';
import { artifact, checkArtifacts } from '../content.js';
import { esc, felt, pct, tid } from '../format.js';
import { latestReport, loadHistory } from '../history.js';

export async function render({ app, chain }) {
  const data = await loadHistory(chain);
  const current = await chain.read('RoundManager', CALLS.RoundManager.currentModel);
  const finalized = data.rounds.filter((r) => r.finalized);
  const first = data.rounds.find((r) => r.opened);
  const nodes = [];
  if (first) nodes.push({ label: 'genesis', cid: first.opened.args.prevModelCid, commitment: first.opened.args.prevModelCommitment });
  else nodes.push({ label: 'genesis', cid: current[1], commitment: current[0] });
  for (const r of finalized) {
    const report = await latestReport(r);
    nodes.push({ label: `round ${r.id}`, round: r.id, cid: r.finalized.args.newModelCid, commitment: r.finalized.args.newModelCommitment,
      parent: r.opened?.args.prevModelCid, proofCid: r.finalized.args.proofCid, accuracy: report?.data?.accuracy });
  }
  const rows = nodes.map((n) => `<tr ${tid('lineage-node')} data-cid="${esc(n.cid)}">
      <td>${n.round ? `<a href="#/round/${n.round}">${esc(n.label)}</a>` : esc(n.label)}${n.cid === current[1] ? ' <span class="badge ok">current</span>' : ''}</td>
      <td>${artifact(n.cid, `model-${n.label.replace(' ', '-')}.json`, 'model')}<br><code class="muted">${felt(n.commitment)}</code></td>
      <td>${n.parent ? `<code>${esc(n.parent)}</code>` : '—'}</td>
      <td>${n.proofCid ? artifact(n.proofCid, `proof-${n.label.replace(' ', '-')}.json`, 'proof') : '—'}</td>
      <td>${n.accuracy !== undefined ? pct(n.accuracy) : '—'}</td></tr>`).join('');
  app.innerHTML = `<h2>Model lineage</h2>
    <p class="muted">Each global model is derived, by a proven weighted average, from the one before it.</p>
    <table><thead><tr><th>Model</th><th>CID / commitment</th><th>Parent</th><th>Proof</th><th>Accuracy</th></tr></thead><tbody>${rows}</tbody></table>`;
  checkArtifacts(app);
}
