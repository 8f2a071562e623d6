// #/predictions: the proven predictions the PredictionRegistry recorded (round, requester, risk, proof hash).
import { CALLS } from '../contract-calls.js';
import { esc, tid } from '../format.js';

export async function render({ app, config, chain }) {
  const address = config.contracts.PredictionRegistry;
  if (!address) {
    app.innerHTML = `<h2>Proven predictions</h2><p class="state empty" data-testid="empty">No PredictionRegistry is deployed for this consortium yet: \`ape run predict --patient FILE\` deploys it and records the first proven prediction.</p>`;
    return;
  }
  const [logs, scaleBits] = await Promise.all([
    chain.logs('PredictionRegistry'),
    chain.read('PredictionRegistry', CALLS.PredictionRegistry.riskScaleBits),
  ]);
  const scale = 2 ** Number(scaleBits);
  const intro = `<h2>Proven predictions</h2>
    <p class="muted">Each receipt was accepted by <code>${esc(address)}</code> only because its proof verified and its model
    instances hash to the named round's on-chain model commitment; the patient's features never left the prover.
    The circuit outputs P(y = 1), which in this data set means <em>benign</em>; the malignancy risk is 1 − P.</p>`;
  if (!logs.length) {
    app.innerHTML = intro + '<p class="state empty" data-testid="empty">No prediction has been recorded yet.</p>';
    return;
  }
  app.innerHTML = intro + `<table><thead><tr><th>Round</th><th>Requester</th><th>P(y = 1)</th><th>Malignancy risk</th><th>Proof hash</th><th>Tx</th></tr></thead><tbody>
    ${logs.map((l) => {
      const p = Number(l.args.risk) / scale;
      return `<tr ${tid('prediction')} data-round="${l.args.roundId}" data-risk="${l.args.risk}">
        <td><a href="#/round/${l.args.roundId}">Round ${l.args.roundId}</a></td><td><code>${esc(l.args.requester)}</code></td>
        <td ${tid('probability')}>${p.toFixed(4)}</td><td>${(1 - p).toFixed(4)}</td>
        <td><code ${tid('proof-hash')}>${esc(l.args.proofHash)}</code></td><td><code>${esc(l.transactionHash)}</code> (block ${l.blockNumber})</td></tr>`;
    }).join('')}
    </tbody></table>`;
}
