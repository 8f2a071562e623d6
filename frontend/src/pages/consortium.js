// #/consortium: members and their roles over time, the aggregator enclave's key and attestation, the pinned KZG
// basis (checked against the chain's zeroCommitment and kzgBasisDigest), the circuits' published artifacts and the
// consortium's standardisation statistics (hashed here against the circuit manifest's CID and SHA-256); the round
// rules no single party can abuse: each hospital's sample cap agreed at admission, the weight-share cap, the
// aggregator's finalize window and the rollback majority (docs/rules.md).
import { CALLS } from '../contract-calls.js';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from 'viem';
import { artifact, checkArtifacts, fetchCid, fetchJson } from '../content.js';
import { TERMS, esc, explain, tid, who } from '../format.js';
import { EvidenceKind, Role } from '../generated/contracts.js';
import { loadHistory } from '../history.js';
import { samePoint } from '../kzg.js';

/** A check of a manifest value against the chain's, as an integrity badge. */
const basisCheck = (ok, what, id) => `<span class="integrity ${ok ? 'ok' : 'bad'}" ${tid(id)}>${ok ? '✓ equals' : '✗ differs from'} RoundManager.${what}</span>`;

/** One published circuit's artifacts. */
const circuitRows = (c, role) => `<dt>${esc(role)} circuit</dt><dd>${esc(c.circuit)} (logrows ${c.logrows})</dd>
      <dt>Settings / vk / SRS</dt><dd>${artifact(c.settings.cid, `${role}-settings.json`, `${role}-settings`)}<br>${artifact(c.vk.cid, `${role}-vk.key`, `${role}-vk`)}<br>${artifact(c.srs.cid, `kzg${c.logrows}.srs`, `${role}-srs`)}</dd>
      <dt>Verifier source</dt><dd>${artifact(c.verifier_sol.cid, `${role}-verifier.sol`, `${role}-verifier-sol`)}</dd>`;

const R = CALLS.ConsortiumRegistry;

export async function render({ app, config, chain }) {
  const data = await loadHistory(chain);
  const RM = CALLS.RoundManager;
  const [admin, aggregator, hospitalCount, key, circuitCid, zero, digest, shareDenominator, finalizeWindow, scaleBits] = await Promise.all([
    chain.read('ConsortiumRegistry', R.admin),
    chain.read('ConsortiumRegistry', R.aggregator),
    chain.read('ConsortiumRegistry', R.hospitalCount),
    chain.read('ConsortiumRegistry', R.enclaveKey),
    chain.read('RoundManager', RM.circuitCid),
    chain.read('RoundManager', RM.zeroCommitment),
    chain.read('RoundManager', RM.kzgBasisDigest),
    chain.read('RoundManager', RM.maxShareDenominator),
    chain.read('RoundManager', RM.finalizeWindow),
    chain.read('RoundManager', RM.scaleBits),
  ]);
  const members = new Map();
  for (const l of data.regLogs) {
    if (l.eventName === 'MemberAdmitted') members.set(l.args.account.toLowerCase(), { account: l.args.account, role: Number(l.args.role), name: l.args.name, admitted: l, removed: null });
    if (l.eventName === 'MemberRemoved') { const m = members.get(l.args.account.toLowerCase()); if (m) m.removed = l; }
  }
  const roles = await Promise.all([...members.values()].map((m) => chain.read('ConsortiumRegistry', R.roleOf, [m.account])));
  [...members.values()].forEach((m, i) => { m.current = Number(roles[i]); });
  const caps = await Promise.all([...members.values()].map((m) => (Role[m.current] === 'Hospital'
    ? chain.read('ConsortiumRegistry', R.sampleCapOf, [m.account]) : null)));
  [...members.values()].forEach((m, i) => { m.cap = caps[i] === null ? null : BigInt(caps[i]); });
  const one = 2 ** Number(scaleBits);
  const d = Number(shareDenominator);
  const capCell = (m) => (m.cap === null ? '—' : m.cap === 0n
    ? '<span class="badge warn">none agreed</span> (the global maximum applies; the share cap still does)'
    : `${m.cap.toLocaleString()} samples`);
  const [keyHash, keyCid, measurement] = key;
  const keyLogs = data.regLogs.filter((l) => l.eventName === 'EnclaveKeyRegistered');
  const [evidenceKind, evidenceCid] = await chain.read('ConsortiumRegistry', R.enclaveEvidence);  // and registeredAt
  const [allowed, approvals] = await Promise.all([
    chain.read('ConsortiumRegistry', R.isMeasurementAllowed, [measurement]),
    chain.read('ConsortiumRegistry', R.measurementApprovals, [measurement]),
  ]);
  const kind = EvidenceKind[Number(evidenceKind)] ?? `unknown (${evidenceKind})`;
  let manifest = null; let manifestError = '';
  try { manifest = await fetchJson(circuitCid); } catch (e) { manifestError = e.message; }

  const rows = [...members.values()].map((m) => `<tr ${tid('member')} data-role="${Role[m.role]}">
      <td>${esc(m.name)}</td><td><code>${esc(m.account)}</code></td><td>${Role[m.role]}</td>
      <td>${m.current === m.role ? '<span class="badge ok">active</span>' : '<span class="badge bad">removed</span>'}</td>
      <td ${tid('sample-cap')}>${capCell(m)}</td>
      <td><code>${esc(m.admitted.transactionHash)}</code></td></tr>`).join('');
  app.innerHTML = `
    <h2>Consortium</h2>
    <dl class="kv">
      <dt>Admin</dt><dd ${tid('admin')}><code>${esc(admin)}</code></dd>
      <dt>Hospitals</dt><dd ${tid('hospital-count')}>${hospitalCount}</dd>
      <dt>Chain</dt><dd>id ${config.chainId}, RPC <code>${esc(config.rpcUrl)}</code></dd>
      <dt>Contracts</dt><dd>${Object.entries(config.contracts).map(([k, v]) => `${esc(k)} <code>${esc(v)}</code>`).join('<br>')}</dd>
    </dl>
    <h3>Members</h3>
    ${members.size ? `<table><thead><tr><th>Name</th><th>Address</th><th>Role</th><th>Status</th><th>Sample cap</th><th>Admitted in tx</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="state empty">No members admitted yet.</p>'}
    <h3>Round rules</h3>
    <dl class="kv">
      <dt>Weight share cap</dt><dd ${tid('share-cap')} data-denominator="${d}">no included update weighs more than
        ⌈2^${Number(scaleBits)} / min(m, ${d})⌉ of ${one} (one ${d === 3 ? 'third' : `${d}th`}, rounded up; with fewer than
        ${d} updates 1/m), whatever sample count it declares; each declared count is at most the hospital's cap above</dd>
      <dt>Aggregator's deadline</dt><dd ${tid('finalize-window')}>${Number(finalizeWindow) / 3600} h after a round's deadline;
        after it anyone may abort the round, and nobody (the admin included) may abort a round that met its quorum before it</dd>
      <dt>Rollback</dt><dd ${tid('rollback-rule')}>a strict majority of the hospitals that were members when the round
        opened, each admitted before it, until a later round finalizes; the audit names the reporters of an available model</dd>
    </dl>
    <h3>Aggregator enclave</h3>
    <dl class="kv">
      <dt>Aggregator</dt><dd ${tid('aggregator')}>${who(data.names, aggregator)}</dd>
      <dt>Enclave key hash</dt><dd ${tid('enclave-key-hash')}><code>${esc(keyHash)}</code></dd>
      <dt>Enclave public key</dt><dd>${artifact(keyCid, 'enclave-key.json', 'enclave-key')}</dd>
      ${attestationRows({ kind, measurement, evidenceCid, allowed, approvals: Number(approvals), hospitals: Number(hospitalCount) })}
      <dt>Key registered in tx</dt><dd>${keyLogs.map((l) => `<code>${esc(l.transactionHash)}</code>`).join('<br>') || '—'}</dd>
    </dl>
    <h3>Commitment basis and circuits</h3>
    <dl class="kv">
      <dt>Manifest</dt><dd>${artifact(circuitCid, 'circuit-manifest.json', 'circuit-manifest')}</dd>
      ${manifest ? `<dt>Scheme</dt><dd ${tid('scheme')} data-chunk="${Number(manifest.chunk ?? 0)}">${Number(manifest.chunk ?? 0) > 0
        ? `KZG commitments (BN254) in chunks: d = ${manifest.model_size} model values in ${Math.ceil(manifest.model_size / manifest.chunk)} chunks of
          ${manifest.chunk} values + P = ${manifest.pad_rows} pad rows each, one point per chunk`
        : `KZG commitments (BN254) to d + P = ${manifest.model_size} + ${manifest.pad_rows} rows`}, ${manifest.slots} slots,
        scale 2^${manifest.scale_bits}; ezkl ${esc(manifest.ezkl_version)}, SRS: ${esc(manifest.srs_kind)}</dd>
      <dt>Basis</dt><dd ${tid('basis')}>logrows ${manifest.basis.logrows}, ${manifest.basis.unusable_rows} unusable rows; digest <code>${esc(manifest.basis.digest)}</code>
        ${basisCheck(BigInt(`0x${String(manifest.basis.digest).replace(/^0x/, '')}`) === BigInt(digest), 'kzgBasisDigest()', 'basis-digest')}</dd>
      <dt>K = C(0)</dt><dd><code>${esc(manifest.basis.zero_commitment[0])}</code>, <code>${esc(manifest.basis.zero_commitment[1])}</code>
        ${basisCheck(samePoint(manifest.basis.zero_commitment, zero), 'zeroCommitment()', 'zero-commitment')}${explain('commitment', TERMS.commitment, 'what are K and the commitment points?')}</dd>
      <dt>Lagrange points L_j</dt><dd>${manifest.basis.lagrange ? artifact(manifest.basis.lagrange.cid, 'lagrange.json', 'lagrange')
        : `<span class="muted" ${tid('no-lagrange')}>none, by design: the model is committed in chunks; model files are not checked in this browser (the auditor opens them with ezkl)</span>`}</dd>
      ${circuitRows(manifest.norm, 'norm')}${manifest.median ? circuitRows(manifest.median, 'median') : '<dt>Median circuit</dt><dd class="muted">not in this deployment</dd>'}`
        : `<dt>Content</dt><dd class="integrity bad">${esc(manifestError)}</dd>`}
    </dl>
    <h3>Data: standardisation statistics</h3>
    <div ${tid('statistics')}>${manifest ? statisticsSection(manifest.statistics) : '<p class="state empty">No circuit manifest.</p>'}</div>`;
  checkArtifacts(app);
  if (manifest?.statistics) showStatistics(manifest.statistics, app.querySelector('[data-testid=statistics-content]'));
}

/**
 * The enclave key's evidence kind, measurement, allowlist status and evidence file. Never green: this browser does
 * not verify vendor evidence (the hospitals do before they encrypt, and `zkfl auditor` does again); a development
 * enclave (no TEE) is red.
 */
function attestationRows({ kind, measurement, evidenceCid, allowed, approvals, hospitals }) {
  const badge = kind === 'Development'
    ? '<span class="badge bad">development enclave: not attested, key readable by whoever holds the work folder</span>'
    : kind === 'None'
      ? '<span class="badge bad">no enclave key registered</span>'
      : `<span class="badge warn">${esc(kind)} evidence registered, not verified in this browser</span>
        <span class="muted">hospitals verify it before encrypting; <code>zkfl auditor</code> re-verifies it</span>`;
  const listed = kind === 'Development'
    ? '<span class="badge bad">none</span> a development enclave has measurement zero and no allowlist entry'
    : `<span class="badge ${allowed ? 'neutral' : 'bad'}" ${tid('allowlist-badge')}>${allowed ? 'on the allowlist' : 'not on the allowlist'}</span>
      approved by ${approvals} of ${hospitals} member hospitals`;
  return `<dt>Attestation</dt><dd ${tid('attestation')} data-kind="${esc(kind)}">${badge}</dd>
      <dt>Evidence kind</dt><dd ${tid('evidence-kind')}>${esc(kind)}</dd>
      <dt>Measurement</dt><dd ${tid('measurement')}><code>${esc(measurement)}</code></dd>
      <dt>Allowlist</dt><dd ${tid('allowlist')}>${listed}</dd>
      <dt>Evidence file</dt><dd ${tid('evidence-cid')}>${evidenceCid ? artifact(evidenceCid, 'enclave-evidence.json', 'enclave-evidence') : '—'}</dd>`;
}

/** The statistics file the circuit manifest names (zkfl-stats/v1): its link, and its content once hashed here. */
function statisticsSection(item) {
  if (!item) return '<p class="state empty" data-testid="no-statistics">The circuit manifest names no statistics file.</p>';
  return `<p class="muted">Every hospital standardises each feature as (x − mean) / std with these published values, so one global model
    fits all of them; the file is bound to the circuit manifest whose CID RoundManager holds (circuitCid), by CID and SHA-256.</p>
    <dl class="kv"><dt>Statistics file</dt><dd>${artifact(item.cid, 'statistics.json', 'statistics')}
      <span class="integrity pending" ${tid('statistics-sha256')}>checking SHA-256…</span></dd></dl>
    <div ${tid('statistics-content')}></div>`;
}

async function showStatistics(item, out) {
  const badge = out.parentElement.querySelector('[data-testid=statistics-sha256]');
  let bytes;
  try {
    bytes = await fetchCid(item.cid);
  } catch (e) {
    badge.className = 'integrity bad'; badge.textContent = `✗ ${e.message}`;
    return;
  }
  const digest = bytesToHex(sha256(bytes)).slice(2);
  const ok = digest === String(item.sha256).toLowerCase() && bytes.length === Number(item.size);
  badge.className = `integrity ${ok ? 'ok' : 'bad'}`;
  badge.textContent = ok ? '✓ SHA-256 and size match the circuit manifest (computed here)' : `✗ SHA-256 ${digest} / ${bytes.length} bytes, the manifest says ${item.sha256} / ${item.size}`;
  let stats;
  try {
    stats = JSON.parse(new TextDecoder().decode(bytes));
    if (stats.format !== 'zkfl-stats/v1' || !Array.isArray(stats.features)) throw new Error(`format ${stats.format}, not zkfl-stats/v1`);
  } catch (e) {
    out.innerHTML = `<p class="state error" ${tid('statistics-error')}>Not a statistics file: ${esc(e.message || e)}</p>`;
    return;
  }
  out.innerHTML = `<dl class="kv"><dt>Method</dt><dd ${tid('statistics-method')}>${esc(stats.method)}${stats.contributions ? ` (${stats.contributions} hospitals' sums combined)` : ''}, over ${stats.count} rows</dd>
      <dt>Note</dt><dd>${esc(stats.note)}</dd><dt>Record schema digest</dt><dd><code>${esc(stats.schema_digest)}</code></dd></dl>
    <table><thead><tr><th>Feature</th><th>Unit</th><th>Mean</th><th>Std</th></tr></thead><tbody>
    ${stats.features.map((f) => `<tr ${tid('statistics-feature')}><td>${esc(f.name)}</td><td>${esc(f.unit)}</td><td>${Number(f.mean).toPrecision(6)}</td><td>${Number(f.std).toPrecision(6)}</td></tr>`).join('')}</tbody></table>`;
}
