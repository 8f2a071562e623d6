// #/round/<id>: one round: its rule and norm bound, each hospital's submission (a KZG commitment: one G1 point, or one
// per chunk for a large model, shown as its first point and the number of points), the finalization, which proofs
// were checked where (on-chain, by the auditor, in this browser), the in-browser check that the model file opens the
// on-chain commitment (one-vector models; a chunked model's file is not opened here, and the page says so) and, for
// FedAvg, that the commitment follows from the hospitals' commitments, the median proof when there is one, auditor
// receipts and the run report (whose numbers are reported, not proven). It names the member hospitals (at opening)
// that did not submit, says so plainly when a round finalized on quorum, and explains its terms where they appear.
import { CALLS, RULE_VERIFIER } from '../contract-calls.js';
import { artifact, checkArtifacts, fetchJson } from '../content.js';
import { TERMS, commitment, commitmentData, esc, explain, fmtInt, normBound, pct, tid, time, who } from '../format.js';
import { AggregationRule, Phase } from '../generated/contracts.js';
import { attendance, latestReport, loadHistory, modelRecord, normClaimOf, quorumSentence } from '../history.js';
import { EVM_VERSION, NOT_OPENED_IN_BROWSER, checkModel, proofHashMatches } from '../verify.js';
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
  const [info, scaleBits, chunkCount] = await Promise.all([
    chain.read('RoundManager', RM.getRound, [BigInt(id)]), chain.read('RoundManager', RM.scaleBits), chain.read('RoundManager', RM.chunks),
  ]);
  const chunks = Number(chunkCount);
  const bounded = BigInt(info.normBoundSq) !== 0n;
  const normVerifier = bounded ? await chain.read('RoundManager', RM.normVerifier) : null;
  const prev = await modelRecord(chain, data, info.prevModelRound);
  const f = r.finalized;
  const receipt = f ? await chain.rpc((c) => c.getTransactionReceipt({ hash: f.transactionHash })) : null;
  const subReceipts = await Promise.all(r.submissions.map((s) => chain.rpc((c) => c.getTransactionReceipt({ hash: s.transactionHash }))));
  const excludedSlots = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const report = await latestReport(r);
  const rule = AggregationRule[Number(info.rule)];
  const proven = Boolean(RULE_VERIFIER[rule]); // a rule finalized with a proof (Median)
  const att = attendance(data, r, info);
  const manifest = await chain.read('RoundManager', RM.circuitCid).then(fetchJson).catch(() => null);
  const scale = 2 * Number(scaleBits); // the aggregate's (and the norm bound's) scale bits
  const subs = r.submissions.map((s, i) => `<tr ${tid('submission')} data-slot="${s.args.slot}">
      <td>${s.args.slot}</td><td>${who(data.names, s.args.hospital)}</td>
      <td ${tid('commitment')} ${commitmentData(s.args.commitment)}>${commitment(s.args.commitment)}${bounded ? normClaimCell(r, s, chunks) : ''}</td>
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
      <dt>New model commitment</dt><dd><span ${tid('model-commitment')} ${commitmentData(a.newModelCommitment)}>${commitment(a.newModelCommitment)}</span>${explain('model-commitment', TERMS.commitment, 'what is a commitment point? what is K?')}</dd>
      <dt>Model hash: keccak256(${chunks > 1 ? 'x_0 || y_0 || …' : 'x || y'}) (on-chain)</dt><dd><code ${tid('model-hash')}>${esc(info.newModelHash)}</code>${explain('model-hash', TERMS.modelHash, 'what is the model hash?')}</dd>
      <dt>New model CID</dt><dd ${tid('model-cid')}>${artifact(a.newModelCid, `model-round-${id}.json`, 'model')}</dd>
      ${proven ? `<dt>Proof</dt><dd ${tid('proof-cid')}>${artifact(a.proofCid, `proof-round-${id}.json`, 'proof')}</dd>
      <dt>Proof hash (on-chain)</dt><dd><code>${esc(a.proofHash)}</code> <span ${tid('proof-hash-check')} class="integrity pending">checking…</span></dd>` : ''}
    </dl>
    <h3>Proofs: where each was checked</h3>
    ${proofSites(rule, proven, bounded, chunks, normVerifier)}
    <h3>Check the model in this browser</h3>
    <p class="muted">${chunks > 1
    ? `This model is committed in ${chunks} chunks: the page checks the commitment's hash, the basis and the model file's CID, but does not
    open the model file against its commitment (${NOT_OPENED_IN_BROWSER}: the circuit manifest has no Lagrange file for a chunked model, by design).`
    : `Fetches the circuit manifest's KZG basis (K and the Lagrange points L_j) and the model file, hashes each to its
    CID, and computes C(S) = K + Σ S_j L_j here (BN254, @noble/curves), against the point in the RoundFinalized event and the
    hash the contract stores.`}${proven ? '' : ` For a FedAvg round it also re-derives the ${chunks > 1 ? 'points, chunk by chunk,' : 'point'} from the hospitals' on-chain commitments and the contract's <code>expectedWeights</code>.`}</p>
    <div id="model-check" ${tid('model-check')}><p class="state" data-state="running">Checking…</p></div>
    ${proven ? `<h3>Verify the proof in this browser</h3>
    <p class="muted">Runs the deployed ${esc(rule)} verifier contract (ezkl's generated Halo2 verifier) in an EVM inside this page
    (@ethereumjs/evm ${esc(EVM_VERSION)}) on the published proof and its instances, over the chain's state at the current block: the code
    and storage of the verifier and of every contract it calls (the shared reusable Halo2 verifier) are read from the chain node.
    A copy of the proof with one byte flipped must be rejected by the same code.</p>
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
      <dt>Accuracy</dt><dd ${tid('accuracy')}>${pct(report.data.accuracy)}${report.data.baseline_accuracy == null ? '' : ` (plain FedAvg baseline ${pct(report.data.baseline_accuracy)})`}
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
      <dt>Data</dt><dd ${tid('round-data')}>each hospital's own records, standardised with the consortium's published statistics
        ${manifest?.statistics ? artifact(manifest.statistics.cid, 'statistics.json', 'statistics') : '<span class="muted">(none named by the circuit manifest)</span>'}
        <span class="muted">(features, means and standard deviations: <a href="#/consortium">Consortium</a>)</span></dd>
      <dt>Aggregation rule</dt><dd ${tid('round-rule')} data-rule="${esc(rule ?? info.rule)}">${esc(rule ?? `unknown (${info.rule})`)}</dd>
      <dt>Norm bound</dt><dd><span ${tid('norm-bound')} data-norm-bound-sq="${info.normBoundSq}">${normBound(info.normBoundSq, scale)}${normVerifier
        ? `<br><span class="muted">${chunks > 1
          ? `every submission carried ${chunks} chunk norm proofs (one per chunk, each within its budget, the budgets within the bound) against the previous model's chunk points: verified by the norm verifier <code>${esc(normVerifier)}</code> at submission, or (a challenge window) posted as hashes and checkable by any member's challenge`
          : `every submission carried a norm proof against the previous model's commitment, checked on-chain by the norm verifier <code>${esc(normVerifier)}</code>`}</span>` : ''}</span>${explain('norm-bound', TERMS.normBound(scale), 'what is normBoundSq?')}</dd>
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
    const partial = checks.some((c) => c.ok === null);
    const badge = !ok ? '<span class="badge bad">flagged</span>'
      : partial ? `<span class="badge warn" ${tid('model-not-opened')}>checked in browser, except: ${esc(NOT_OPENED_IN_BROWSER)}</span>`
        : '<span class="badge ok">model checked in browser</span>';
    out.innerHTML = `<div class="state ${ok ? '' : 'error'}" data-state="${ok ? 'ok' : 'failed'}">
      ${badge}
      <ul class="bindings">${checks.map((c) => `<li ${tid('check')} data-check="${c.id}" data-ok="${c.ok}" class="integrity ${c.ok === false ? 'bad' : c.ok ? 'ok' : 'missing'}">${c.ok === false ? '✗' : c.ok ? '✓' : '⚠'} ${c.what}</li>`).join('')}</ul></div>`;
  } catch (e) {
    out.innerHTML = `<div class="state error" data-state="error"><span class="badge bad">flagged</span> Could not check the model: ${esc(e.message || e)}</div>`;
  }
}

/** Where submission `s`'s norm proofs (one per chunk) were checked, as the chain tells it: verified on-chain at
 * submission (no NormClaimed event: the proofs are in the transaction), or posted as hashes with the bundle's
 * CID (checked off-chain by the aggregator and the auditors), and whether a challenge showed one false. */
function normClaimCell(r, s, chunks) {
  const { claim, faults } = normClaimOf(r, s);
  if (faults.length) {
    const f = faults[0];
    return `<br><span class="integrity bad" ${tid('norm-claim')} data-where="challenged">✗ chunk ${Number(f.args.chunk)} of ${chunks}: its norm proof failed a challenge on-chain (ChunkProofFaulted): excluded</span>`;
  }
  if (!claim) {
    return `<br><span class="integrity ok" ${tid('norm-claim')} data-where="on-chain">✓ ${chunks} norm proof${chunks > 1 ? 's' : ''} verified on-chain at submission</span>`;
  }
  const total = claim.args.budgets.reduce((acc, b) => acc + BigInt(b), 0n);
  return `<br><span class="integrity missing" ${tid('norm-claim')} data-where="off-chain">⚠ ${claim.args.proofHashes.length} proof hashes posted (budgets Σ ${fmtInt(total)}),
    bundle ${artifact(claim.args.proofCid, `norm-proofs-slot-${Number(s.args.slot)}.json`, 'proof-bundle')}: checked off-chain by the aggregator and the auditors, not challenged</span>`;
}

/** Which of the round's proofs and derivations were checked where: on-chain, by the auditor, in this browser. */
function proofSites(rule, proven, bounded, chunks, normVerifier) {
  const rows = [];
  const auditor = 're-verified by the auditor (<code>ape run audit</code>, ezkl with the published circuit, from the transaction calldata)';
  if (bounded) {
    rows.push(['norm proofs', `one per chunk (${chunks}), each within its budget: verified in <code>submitUpdate</code> by the norm verifier <code>${esc(normVerifier)}</code> and bound by RoundManager to the submission's chunk points, the previous model and the sender; with a challenge window posted as hashes instead (each submission's row says which), and run on-chain only on a member's <code>challengeChunk</code>`, `${auditor}, or from the proof bundle`, 'not run here']);
  }
  if (proven) {
    rows.push([`${esc(rule)} proof`, 'verified at finalization by RoundManager with the verifier', 're-verified by the auditor from the published proof file', 'yes: “Verify proof in browser” runs the deployed verifier\'s code']);
  } else {
    rows.push(['new model commitment (FedAvg, no proof)', `derived on-chain by RoundManager at finalization${chunks > 1 ? ', chunk by chunk' : ''}`, 're-derived by the auditor', 're-derived here (below)']);
  }
  rows.push(['model file against its commitment', 'not on-chain', `opened by the auditor (ezkl${chunks > 1 ? ', one commitment per chunk' : ''})`,
    chunks > 1 ? `<span class="badge warn" ${tid('model-not-opened-site')}>${esc(NOT_OPENED_IN_BROWSER)}</span>` : 'opened here (below)']);
  return `<table ${tid('proof-sites')}><thead><tr><th>What</th><th>On-chain</th><th>Auditor</th><th>This browser</th></tr></thead><tbody>
    ${rows.map(([what, chain, audit, here]) => `<tr ${tid('proof-site')}><td>${what}</td><td>${chain}</td><td>${audit}</td><td>${here}</td></tr>`).join('')}</tbody></table>`;
}
