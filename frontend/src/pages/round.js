// #/round/<id>: one round: its rule and norm bound, each hospital's submission, the finalization and its proof
// (checked against the on-chain proofHash, and verifiable in this page), auditor receipts, the run report.
import { CALLS, RULE_VERIFIER } from '../contract-calls.js';
import { artifact, checkArtifacts, fetchJson } from '../content.js';
import { esc, felt, fmtInt, normBound, pct, tid, time, who } from '../format.js';
import { AggregationRule, Phase } from '../generated/contracts.js';
import { latestReport, loadHistory } from '../history.js';
import { EVM_VERSION, proofHashMatches } from '../verify.js';
import { mountVerify } from './round-verify.js';

const RM = CALLS.RoundManager;

export async function render({ app, chain }, arg) {
  const id = Number(arg);
  const data = await loadHistory(chain);
  const r = data.rounds.find((x) => x.id === id);
  if (!r) {
    app.innerHTML = `<h2>Round ${id}</h2><p class="state empty" data-testid="empty">Round ${id} does not exist on this chain (yet).</p>`;
    return;
  }
  const [info, scaleBits] = await Promise.all([chain.read('RoundManager', RM.getRound, [BigInt(id)]), chain.read('RoundManager', RM.scaleBits)]);
  const normVerifier = BigInt(info.normBoundSq) === 0n ? null : await chain.read('RoundManager', RM.normVerifier);
  const f = r.finalized;
  const receipt = f ? await chain.rpc((c) => c.getTransactionReceipt({ hash: f.transactionHash })) : null;
  const subReceipts = await Promise.all(r.submissions.map((s) => chain.rpc((c) => c.getTransactionReceipt({ hash: s.transactionHash }))));
  const excludedSlots = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const report = await latestReport(r);
  const rule = AggregationRule[Number(info.rule)];
  const subs = r.submissions.map((s, i) => `<tr ${tid('submission')} data-slot="${s.args.slot}">
      <td>${s.args.slot}</td><td>${who(data.names, s.args.hospital)}</td>
      <td ${tid('commitment')}><code>${felt(s.args.commitment)}</code></td>
      <td>${artifact(s.args.cid, `round-${id}-slot-${s.args.slot}.ciphertext`, 'ciphertext')}</td>
      <td ${tid('sample-count')}>${s.args.sampleCount}</td>
      <td>${excludedSlots.has(Number(s.args.slot)) ? '<span class="badge bad">excluded</span>' : '<span class="badge ok">included</span>'}</td>
      <td><code>${esc(s.transactionHash)}</code><br><span class="muted">gas ${fmtInt(subReceipts[i].gasUsed)}</span></td></tr>`).join('');
  const phase = Phase[Number(info.phase)] ?? String(info.phase);
  let fin = '<p class="state empty">Not finalized.</p>';
  if (f) {
    const a = f.args;
    fin = `<dl class="kv">
      <dt>Verification</dt><dd ${tid('onchain-verification')}>${receipt.status === 'success'
        ? `<span class="badge ok">verified on-chain</span> the ${esc(rule ?? '')} verifier (RoundManager.${RULE_VERIFIER[rule] ?? RULE_VERIFIER.FedAvg}) accepted the proof and RoundManager bound its instances to the commitments ${rule === 'Median' ? 'and the previous model' : 'and sample counts'} above`
        : '<span class="badge bad">transaction failed</span>'}</dd>
      <dt>Finalize tx</dt><dd ${tid('finalize-tx')}><code>${esc(f.transactionHash)}</code> (block ${f.blockNumber})</dd>
      <dt>Gas used</dt><dd ${tid('finalize-gas')}>${fmtInt(receipt.gasUsed)}</dd>
      <dt>Included</dt><dd>${a.includedCount} updates, ${fmtInt(a.totalSamples)} samples</dd>
      <dt>New model commitment</dt><dd ${tid('model-commitment')}><code>${felt(a.newModelCommitment)}</code></dd>
      <dt>New model CID</dt><dd ${tid('model-cid')}>${artifact(a.newModelCid, `model-round-${id}.json`, 'model')}</dd>
      <dt>Previous model</dt><dd>${artifact(r.opened?.args.prevModelCid, `model-before-round-${id}.json`, 'prev-model')}<br><code>${felt(r.opened?.args.prevModelCommitment ?? 0)}</code></dd>
      <dt>Proof</dt><dd ${tid('proof-cid')}>${artifact(a.proofCid, `proof-round-${id}.json`, 'proof')}</dd>
      <dt>Proof hash (on-chain)</dt><dd><code>${esc(a.proofHash)}</code> <span ${tid('proof-hash-check')} class="integrity pending">checking…</span></dd>
    </dl>
    <h3>Verify the proof in this browser</h3>
    <p class="muted">Runs the deployed ${esc(rule ?? '')} verifier contract's code (ezkl's generated Halo2 verifier, read from the
    chain node with <code>eth_getCode</code>) in an EVM inside this page (@ethereumjs/evm ${esc(EVM_VERSION)}) on the published proof
    and its instances: the computation is local and no server verifies anything. A copy of the proof with one byte flipped
    must be rejected by the same code, so a verifier that accepts everything would show.
    (ezkl's WebAssembly engine is not used: @ezkljs/engine 21.0.0, the newest on npm, rejects genuine ezkl proofs.)</p>
    <button id="verify-btn" ${tid('verify-button')}>Verify proof in browser</button>
    <div id="verify-result" ${tid('verify-result')}></div>`;
  } else if (r.aborted) {
    fin = `<p class="state">Aborted by <code>${esc(r.aborted.args.by)}</code> in tx <code>${esc(r.aborted.transactionHash)}</code>; the previous model stays current.</p>`;
  }
  const audits = r.audits.length ? `<table><thead><tr><th>Auditor</th><th>Result</th><th>Report</th><th>Tx</th></tr></thead><tbody>${r.audits.map((a) => `<tr ${tid('audit')}>
      <td>${who(data.names, a.args.auditor)}</td><td><span class="badge ${a.args.passed ? 'ok' : 'bad'}">${a.args.passed ? 'passed' : 'failed'}</span></td>
      <td>${artifact(a.args.reportCid, `audit-round-${id}.json`, 'audit-report')}</td><td><code>${esc(a.transactionHash)}</code></td></tr>`).join('')}</tbody></table>`
    : '<p class="state empty" data-testid="no-audits">No auditor receipts recorded for this round.</p>';
  let rep = '<p class="state empty">No run report published for this round.</p>';
  if (report) {
    rep = report.data ? `<dl class="kv" ${tid('report')}>
      <dt>Report</dt><dd>${artifact(report.cid, `round-${id}-report.json`, 'report')}</dd>
      <dt>Accuracy</dt><dd ${tid('accuracy')}>${pct(report.data.accuracy)} (plain FedAvg baseline ${pct(report.data.baseline_accuracy)})</dd>
      <dt>Proving time</dt><dd>${Number(report.data.prove_seconds).toFixed(2)} s, ${report.data.proof_bytes} B</dd>
      <dt>Participants</dt><dd>${(report.data.participants || []).map(esc).join(', ')}</dd></dl>`
      : `<p class="state error">Report ${artifact(report.cid, `round-${id}-report.json`, 'report')}: ${esc(report.error)}</p>`;
  }
  app.innerHTML = `<h2>Round ${id} <span class="badge ${phase === 'Finalized' ? 'ok' : phase === 'Aborted' ? 'bad' : 'neutral'}" ${tid('round-phase')}>${esc(phase)}</span></h2>
    <dl class="kv"><dt>Quorum</dt><dd>${info.quorum}</dd><dt>Deadline</dt><dd>${time(info.deadline)}</dd>
      <dt>Aggregation rule</dt><dd ${tid('round-rule')} data-rule="${esc(rule ?? info.rule)}">${esc(rule ?? `unknown (${info.rule})`)}</dd>
      <dt>Norm bound</dt><dd ${tid('norm-bound')} data-norm-bound-sq="${info.normBoundSq}">${normBound(info.normBoundSq, scaleBits)}${normVerifier
        ? `<br><span class="muted">every submission carried a norm proof, checked on-chain by the norm verifier <code>${esc(normVerifier)}</code></span>` : ''}</dd>
      <dt>Opened in tx</dt><dd><code>${esc(r.opened?.transactionHash ?? '—')}</code></dd></dl>
    <h3>Submissions</h3>
    ${r.submissions.length ? `<table><thead><tr><th>Slot</th><th>Hospital</th><th>Commitment (Poseidon)</th><th>Encrypted update CID</th><th>Samples</th><th>Status</th><th>Tx</th></tr></thead><tbody>${subs}</tbody></table>` : '<p class="state empty">No submissions yet.</p>'}
    <h3>Finalization and proof</h3>${fin}
    <h3>Auditor receipts</h3>${audits}
    <h3>Run report</h3>${rep}`;
  checkArtifacts(app);
  if (f) {
    const span = app.querySelector('[data-testid="proof-hash-check"]');
    fetchJson(f.args.proofCid).then((proof) => {
      const ok = proofHashMatches(proof, f.args.proofHash);
      span.className = `integrity ${ok ? 'ok' : 'bad'}`;
      span.textContent = ok ? '✓ keccak256 of the published proof matches' : '✗ the published proof does not hash to the on-chain proofHash';
    }, (e) => { span.className = 'integrity bad'; span.textContent = `✗ ${e.message}`; });
    mountVerify(chain, r, info);
  }
}
