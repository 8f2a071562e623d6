// #/predictions: the proven predictions the PredictionRegistry recorded (round, requester, logit, risk, proof hash).
import { CALLS } from '../contract-calls.js';
import { esc, explain, tid } from '../format.js';

/** P(y = 1) = sigmoid(logit / 2^scaleBits) (zkfl_dapp.prediction.proofs.risk_of_logit), stable for either sign. */
export function riskOfLogit(logit, scaleBits) {
  const z = Number(logit) / 2 ** Number(scaleBits);
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export async function render({ app, config, chain }) {
  const address = config.contracts.PredictionRegistry;
  if (!address) {
    app.innerHTML = `<h2>Proven predictions</h2><p class="state empty" data-testid="empty">No PredictionRegistry is deployed for this consortium yet: \`ape run predict --patient FILE\` deploys it and records the first proven prediction.</p>`;
    return;
  }
  const [logs, scaleBits] = await Promise.all([
    chain.logs('PredictionRegistry'),
    chain.read('PredictionRegistry', CALLS.PredictionRegistry.logitScaleBits),
  ]);
  const intro = `<h2>Proven predictions</h2>
    <p class="muted">Each receipt was accepted by <code>${esc(address)}</code> only because its proof verified and the proof's
    committed model is the named round's on-chain model commitment (modelOf); the patient's features never left the prover.
    The proof fixes the logit (scale 2^${scaleBits}); P(y = 1) = 1 / (1 + exp(−logit / 2^${scaleBits})) is computed here from it.</p>
    ${explain('logit', `The <strong>logit</strong> is the model's raw score w·x + b for the patient, as an integer at scale 2^${scaleBits}
      (the value divided by 2^${scaleBits}, shown in brackets, is the score itself); a negative logit is recorded as a signed
      integer. The proof fixes this number.`, 'what is the logit?')}
    ${explain('risk', `<strong>Risk</strong> = sigmoid(logit / 2^${scaleBits}) = 1 / (1 + exp(−logit / 2^${scaleBits})) = P(y = 1), the model's
      probability of the label y = 1. In the breast-cancer data set (scikit-learn's labels: 0 = malignant, 1 = benign) y = 1 means
      <strong>BENIGN</strong>: the malignancy risk is 1 − P. (It is computed in this page from the proven logit; the
      probability is the model's, not a diagnosis.)`, 'what does the risk mean? (y = 1 is BENIGN for breast cancer)')}`;
  if (!logs.length) {
    app.innerHTML = intro + '<p class="state empty" data-testid="empty">No prediction has been recorded yet.</p>';
    return;
  }
  app.innerHTML = intro + `<table><thead><tr><th>Round</th><th>Requester</th><th>Logit (proven)</th><th>Risk P(y = 1) <span class="muted">(breast cancer: P(benign); malignancy 1 − P)</span></th><th>Proof hash</th><th>Tx</th></tr></thead><tbody>
    ${logs.map((l) => {
      const p = riskOfLogit(l.args.logit, scaleBits);
      return `<tr ${tid('prediction')} data-round="${l.args.roundId}" data-logit="${l.args.logit}">
        <td><a href="#/round/${l.args.roundId}">Round ${l.args.roundId}</a></td><td><code>${esc(l.args.requester)}</code></td>
        <td ${tid('logit')}>${l.args.logit} <span class="muted">(${(Number(l.args.logit) / 2 ** Number(scaleBits)).toFixed(4)})</span></td>
        <td ${tid('probability')}>${p.toFixed(4)}</td>
        <td><code ${tid('proof-hash')}>${esc(l.args.proofHash)}</code></td><td><code>${esc(l.transactionHash)}</code> (block ${l.blockNumber})</td></tr>`;
    }).join('')}
    </tbody></table>`;
}
