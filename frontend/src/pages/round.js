// #/round/<id>: one round: its rule and norm bound, each hospital's submission (a KZG commitment, a G1 point), the
// finalization, the in-browser check that the model file opens the on-chain commitment (and, for FedAvg, that the
// commitment follows from the hospitals' commitments), the median proof when there is one, auditor receipts and
// the run report (whose numbers are reported, not proven). It names the member hospitals (at opening) that did not
// submit, says so plainly when a round finalized on quorum, and explains its terms where they appear.
import { CALLS, RULE_VERIFIER } from '../contract-calls.js';
import { artifact, checkArtifacts, fetchJson } from '../content.js';
import { TERMS, esc, explain, felt, fmtInt, normBound, pct, point, tid, time, who } from '../format.js';
import { AggregationRule, Phase } from '../generated/contracts.js';
import { attendance, latestReport, loadHistory, modelRecord, quorumSentence } from '../history.js';
import { EVM_VERSION, checkModel, proofHashMatches } from '../verify.js';
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
  const prev = await modelRecord(chain, data, info.prevModelRound);
  const f = r.finalized;
  const receipt = f ? await chain.rpc((c) => c.getTransactionReceipt({ hash: f.transactionHash })) : null;
  const subReceipts = await Promise.all(r.submissions.map((s) => chain.rpc((c) => c.getTransactionReceipt({ hash: s.transactionHash }))));
  const excludedSlots = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const report = await latestReport(r);
  const rule = AggregationRule[Number(info.rule)];
  const proven = Boolean(RULE_VERIFIER[rule]); // a rule finalized with a proof (Median)
  const att = attendance(data, r, info);
  const scale = 2 * Number(scaleBits); // the aggregate's (and the norm bound's) scale bits
  const subs = r.submissions.map((s, i) => `<tr ${tid('submission')} data-slot="${s.args.slot}">
      <td>${s.args.slot}</td><td>${who(data.names, s.args.hospital)}</td>
      <td ${tid('commitment')} data-x="${felt(s.args.commitment[0])}" data-y="${felt(s.args.commitment[1])}">${point(s.args.commitment)}</td>
      <td>${artifact(s.args.cid, `round-${id}-slot-${s.args.slot}.ciphertext`, 'ciphertext')}</td>
      <td ${tid('sample-count')}>${s.args.sampleCount}</td>
      <td>${excludedSlots.has(Number(s.args.slot))
        ? `<span class="badge bad" ${tid('excluded')}>excluded by the enclave</span> <span class="muted">(its statement, not proven)</span>${explain('excluded', TERMS.excluded, 'excluded?')}`
        : f ? '<span class="badge ok">included</span>' : '<span class="badge neutral">submitted</span>'}</td>
      <td><code>${esc(s.transactionHash)}</code><br><span class="muted">gas ${fmtInt(subReceipts[i].gasUsed)}</span></td></tr>`).join('');
  const phase = Phase[Number(info.phase)] ?? String(info.phase);
  let fin = '<p class="state empty">Not finalized.</p>';
  if (f) {
    const a = f.args;
    const how = proven
      ? `<span class="badge ok">verified on-chain</span> the ${esc(rule)} verifier (RoundManager.${RULE_VERIFIER[rule]}) accepted the proof, whose committed points RoundManager bound to the hospitals' commitments and the previous model`
      : `<span class="badge ok">derived on-chain</span> RoundManager computed the new model's commitment itself, C(S) = K + Σ w_i (C(u_i) − K), from the included hospitals' commitments and their sample-count weights (no aggregation proof)${explain('derived', TERMS.derived, 'what does “derived on-chain” mean?')}`;
    fin = `<dl class="kv">
      <dt>Finalization</dt><dd ${tid('onchain-verification')}>${receipt.status === 'success' ? how : '<span class="badge bad">transaction failed</span>'}</dd>
      <dt>Finalize tx</dt><dd ${tid('finalize-tx')}><code>${esc(f.transactionHash)}</code> (block ${f.blockNumber})</dd>
      <dt>Gas used</dt><dd ${tid('finalize-gas')}>${fmtInt(receipt.gasUsed)}</dd>
      <dt>Included</dt><dd>${a.includedCount} updates, ${fmtInt(a.totalSamples)} samples${att.onQuorum
        ? `<br><span class="badge warn" ${tid('quorum-finalization')}>${esc(quorumSentence(att))}</span>` : ''}</dd>
      <dt>New model commitment</dt><dd><span ${tid('model-commitment')} data-x="${felt(a.newModelCommitment[0])}" data-y="${felt(a.newModelCommitment[1])}">${point(a.newModelCommitment)}</span>${explain('model-commitment', TERMS.commitment, 'what is a commitment point? what is K?')}</dd>
      <dt>Model hash: keccak256(x || y) (on-chain)</dt><dd><code ${tid('model-hash')}>${esc(info.newModelHash)}</code>${explain('model-hash', TERMS.modelHash, 'what is the model hash?')}</dd>
      <dt>New model CID</dt><dd ${tid('model-cid')}>${artifact(a.newModelCid, `model-round-${id}.json`, 'model')}</dd>
      ${proven ? `<dt>Proof</dt><dd ${tid('proof-cid')}>${artifact(a.proofCid, `proof-round-${id}.json`, 'proof')}</dd>
      <dt>Proof hash (on-chain)</dt><dd><code>${esc(a.proofHash)}</code> <span ${tid('proof-hash-check')} class="integrity pending">checking…</span></dd>` : ''}
    </dl>
    <h3>Check the model in this browser</h3>
    <p class="muted">Fetches the circuit manifest's KZG basis (K and the Lagrange points L_j) and the model file, hashes each to its
    CID, and computes C(S) = K + Σ S_j L_j here (BN254, @noble/curves), against the point in the RoundFinalized event and the
    hash the contract stores.${proven ? '' : ' For a FedAvg round it also re-derives the point from the hospitals\' on-chain commitments and the contract\'s <code>expectedWeights</code>.'}</p>
    <div id="model-check" ${tid('model-check')}><p class="state" data-state="running">Checking…</p></div>
    ${proven ? `<h3>Verify the proof in this browser</h3>
    <p class="muted">Runs the deployed ${esc(rule)} verifier contract's code (ezkl's generated Halo2 verifier, read from the
    chain node with <code>eth_getCode</code>) in an EVM inside this page (@ethereumjs/evm ${esc(EVM_VERSION)}) on the published proof
    and its instances. A copy of the proof with one byte flipped must be rejected by the same code.</p>
    <button id="verify-btn" ${tid('verify-button')}>Verify proof in browser</button>
    <div id="verify-result" ${tid('verify-result')}></div>` : ''}`;
    if (r.rolledBack) {
      fin += `<p class="state error" ${tid('rolled-back')}>Rolled back in tx <code>${esc(r.rolledBack.transactionHash)}</code> after ${r.unavailable.length} hospitals reported the model file unavailable or not opening its commitment; round ${r.rolledBack.args.restoredModelRound}'s model is current again.</p>`;
    }
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
      <dt>Accuracy</dt><dd ${tid('accuracy')}>${pct(report.data.accuracy)} (plain FedAvg baseline ${pct(report.data.baseline_accuracy)})
        <span class="badge warn" ${tid('reported')}>reported, not proven</span>${explain('reported', TERMS.reported, 'what does “reported, not proven” mean?')}</dd>
      <dt>Participants</dt><dd>${(report.data.participants || []).map(esc).join(', ')}</dd></dl>
      <p class="muted">The administrator's evaluation on held-out data: nothing on-chain or in this page proves these numbers.</p>`
      : `<p class="state error">Report ${artifact(report.cid, `round-${id}-report.json`, 'report')}: ${esc(report.error)}</p>`;
  }
  const badge = phase === 'Finalized' ? 'ok' : phase === 'Aborted' || phase === 'RolledBack' ? 'bad' : 'neutral';
  app.innerHTML = `<h2>Round ${id} <span class="badge ${badge}" ${tid('round-phase')}>${esc(phase)}</span></h2>
    <dl class="kv"><dt>Quorum</dt><dd>${info.quorum} <span class="muted">(included updates needed to finalize after the deadline; before it, every member must submit)</span></dd><dt>Deadline</dt><dd>${time(info.deadline)}</dd>
      <dt>Members at opening</dt><dd ${tid('attendance')} data-members="${att.members}" data-submitted="${att.submitted}">${att.members} hospitals; ${att.submitted} submitted${att.absent.length
        ? `<br>${f ? 'did not submit' : 'not submitted'}: ${att.absent.map((m) => `<span class="badge bad" ${tid('absent-hospital')} data-address="${esc(m.account)}">absent</span> ${who(data.names, m.account)}`).join(', ')}`
        : ''}${att.onQuorum ? `<br><span class="badge warn" ${tid('quorum-summary')}>${esc(quorumSentence(att))}</span>` : ''}${explain('absent', TERMS.absent, 'who counts as absent?')}</dd>
      <dt>Aggregation rule</dt><dd ${tid('round-rule')} data-rule="${esc(rule ?? info.rule)}">${esc(rule ?? `unknown (${info.rule})`)}</dd>
      <dt>Norm bound</dt><dd><span ${tid('norm-bound')} data-norm-bound-sq="${info.normBoundSq}">${normBound(info.normBoundSq, scale)}${normVerifier
        ? `<br><span class="muted">every submission carried a norm proof against the previous model's commitment, checked on-chain by the norm verifier <code>${esc(normVerifier)}</code></span>` : ''}</span>${explain('norm-bound', TERMS.normBound(scale), 'what is normBoundSq?')}</dd>
      <dt>Previous model</dt><dd ${tid('prev-model')} data-round="${info.prevModelRound}">${Number(info.prevModelRound) === 0 ? 'genesis' : `<a href="#/round/${info.prevModelRound}">round ${info.prevModelRound}</a>`}:
        ${prev ? artifact(prev.cid, `model-before-round-${id}.json`, 'prev-model') : '—'}<br><code>${esc(info.prevModelHash)}</code></dd>
      <dt>Opened in tx</dt><dd><code>${esc(r.opened?.transactionHash ?? '—')}</code></dd></dl>
    <h3>Submissions</h3>
    ${r.submissions.length ? `<table><thead><tr><th>Slot</th><th>Hospital</th><th>Commitment C(u) (KZG, G1 x, y)${explain('commitment', TERMS.commitment, 'what is this?')}</th><th>Encrypted update CID</th><th>Samples</th><th>Status</th><th>Tx</th></tr></thead><tbody>${subs}</tbody></table>` : '<p class="state empty">No submissions yet.</p>'}
    <h3>Finalization</h3>${fin}
    <h3>Auditor receipts</h3>${audits}
    <h3>Run report</h3>${rep}`;
  checkArtifacts(app);
  if (f) {
    showModelCheck(chain, r, info, document.getElementById('model-check'));
    if (proven) {
      const span = app.querySelector('[data-testid="proof-hash-check"]');
      fetchJson(f.args.proofCid).then((proof) => {
        const ok = proofHashMatches(proof, f.args.proofHash);
        span.className = `integrity ${ok ? 'ok' : 'bad'}`;
        span.textContent = ok ? '✓ keccak256 of the published proof matches' : '✗ the published proof does not hash to the on-chain proofHash';
      }, (e) => { span.className = 'integrity bad'; span.textContent = `✗ ${e.message}`; });
      mountVerify(chain, r, info);
    }
  }
}

/** Runs checkModel and shows each verdict (data-check, data-ok) and the overall one (data-state ok / failed). */
async function showModelCheck(chain, r, info, out) {
  try {
    const { checks } = await checkModel(chain, r, info);
    const ok = checks.every((c) => c.ok !== false);
    out.innerHTML = `<div class="state ${ok ? '' : 'error'}" data-state="${ok ? 'ok' : 'failed'}">
      <span class="badge ${ok ? 'ok' : 'bad'}">${ok ? 'model checked in browser' : 'flagged'}</span>
      <ul class="bindings">${checks.map((c) => `<li ${tid('check')} data-check="${c.id}" data-ok="${c.ok}" class="integrity ${c.ok === false ? 'bad' : c.ok ? 'ok' : 'missing'}">${c.ok === false ? '✗' : c.ok ? '✓' : '⚠'} ${c.what}</li>`).join('')}</ul></div>`;
  } catch (e) {
    out.innerHTML = `<div class="state error" data-state="error"><span class="badge bad">flagged</span> Could not check the model: ${esc(e.message || e)}</div>`;
  }
}
