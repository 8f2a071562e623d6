// #/lineage: each global model, from the genesis model on: the round it was made in, the model it started from
// (prevModelRound), its commitment (one point, or one per chunk; keccak256 of its points is checked here against
// modelOf(round)),
// its file, and its reported accuracy. Rolled-back rounds are shown, marked; the current model is currentModel()'s.
import { CALLS } from '../contract-calls.js';
import { artifact, checkArtifacts } from '../content.js';
import { esc, felt, pct, tid } from '../format.js';
import { latestReport, loadHistory, modelRecord } from '../history.js';
import { commitmentHash } from '../kzg.js';

const RM = CALLS.RoundManager;

export async function render({ app, chain }) {
  const data = await loadHistory(chain);
  const [, currentRound] = await chain.read('RoundManager', RM.currentModel);
  const genesis = await modelRecord(chain, data, 0);
  const nodes = [{ label: 'genesis', round: 0, cid: genesis.cid, points: genesis.commitment }];
  for (const r of data.rounds.filter((x) => x.finalized)) {
    const [report, info] = await Promise.all([latestReport(r), chain.read('RoundManager', RM.getRound, [BigInt(r.id)])]);
    nodes.push({ label: `round ${r.id}`, round: r.id, cid: r.finalized.args.newModelCid, points: r.finalized.args.newModelCommitment,
      parent: Number(info.prevModelRound), rolledBack: Boolean(r.rolledBack), proofCid: r.finalized.args.proofCid, accuracy: report?.data?.accuracy });
  }
  const hashes = await Promise.all(nodes.map((n) => (n.rolledBack ? null : chain.read('RoundManager', RM.modelOf, [BigInt(n.round)]))));
  const rows = nodes.map((n, i) => {
    const bound = hashes[i] === null ? null : commitmentHash(n.points) === hashes[i];
    const hashed = n.points.length > 1 ? 'keccak256(x_0 || y_0 || …)' : 'keccak256(x || y)';
    const more = n.points.length > 1 ? `<br><span class="muted" ${tid('chunk-points')} data-points="${n.points.length}">… (${n.points.length} chunk points)</span>` : '';
    return `<tr ${tid('lineage-node')} data-cid="${esc(n.cid)}" data-round="${n.round}" data-bound="${bound}">
      <td>${n.round ? `<a href="#/round/${n.round}">${esc(n.label)}</a>` : esc(n.label)}${BigInt(n.round) === BigInt(currentRound) ? ' <span class="badge ok">current</span>' : ''}${n.rolledBack ? ' <span class="badge bad">rolled back</span>' : ''}</td>
      <td>${artifact(n.cid, `model-${n.label.replace(' ', '-')}.json`, 'model')}<br><code class="muted">(${felt(n.points[0][0])},<br>${felt(n.points[0][1])})</code>${more}
        <br><span class="integrity ${bound === null ? 'missing' : bound ? 'ok' : 'bad'}" ${tid('model-of')}>${bound === null ? '⚠ rolled back: no modelOf'
          : bound ? `✓ ${hashed} = modelOf(${n.round})` : `✗ ${hashed} ≠ modelOf(${n.round})`}</span></td>
      <td>${n.parent !== undefined ? (n.parent === 0 ? 'genesis' : `<a href="#/round/${n.parent}">round ${n.parent}</a>`) : '—'}</td>
      <td>${n.proofCid ? artifact(n.proofCid, `proof-${n.label.replace(' ', '-')}.json`, 'proof') : n.round ? '<span class="muted">derived on-chain (FedAvg)</span>' : '—'}</td>
      <td>${n.accuracy != null ? `${pct(n.accuracy)} <span class="muted">(reported, not proven)</span>` : '—'}</td></tr>`;
  }).join('');
  app.innerHTML = `<h2>Model lineage</h2>
    <p class="muted">Each global model is derived from the one before it: a FedAvg model's commitment is computed by the contract
    from the hospitals' commitments, a median model's is proven. The chain stores keccak256(x || y) of each commitment (modelOf;
    keccak256(x_0 || y_0 || …) over the chunk points of a model committed in chunks).</p>
    <table><thead><tr><th>Model</th><th>CID / commitment</th><th>Started from</th><th>Proof</th><th>Accuracy</th></tr></thead><tbody>${rows}</tbody></table>`;
  checkArtifacts(app);
}
