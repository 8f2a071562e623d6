// #/consortium: members and their roles over time, the aggregator enclave's key and attestation, the circuit.
import { CALLS } from '../contract-calls.js';
import { artifact, checkArtifacts, fetchJson } from '../content.js';
import { esc, tid, who } from '../format.js';
import { Role } from '../generated/contracts.js';
import { loadHistory } from '../history.js';

const R = CALLS.ConsortiumRegistry;

export async function render({ app, config, chain }) {
  const data = await loadHistory(chain);
  const [admin, aggregator, hospitalCount, key, circuitCid] = await Promise.all([
    chain.read('ConsortiumRegistry', R.admin),
    chain.read('ConsortiumRegistry', R.aggregator),
    chain.read('ConsortiumRegistry', R.hospitalCount),
    chain.read('ConsortiumRegistry', R.enclaveKey),
    chain.read('RoundManager', CALLS.RoundManager.circuitCid),
  ]);
  const members = new Map();
  for (const l of data.regLogs) {
    if (l.eventName === 'MemberAdmitted') members.set(l.args.account.toLowerCase(), { account: l.args.account, role: Number(l.args.role), name: l.args.name, admitted: l, removed: null });
    if (l.eventName === 'MemberRemoved') { const m = members.get(l.args.account.toLowerCase()); if (m) m.removed = l; }
  }
  const roles = await Promise.all([...members.values()].map((m) => chain.read('ConsortiumRegistry', R.roleOf, [m.account])));
  [...members.values()].forEach((m, i) => { m.current = Number(roles[i]); });
  const [keyHash, keyCid, measurement] = key;
  const keyLogs = data.regLogs.filter((l) => l.eventName === 'EnclaveKeyRegistered');
  const attested = BigInt(measurement) !== 0n;
  let manifest = null; let manifestError = '';
  try { manifest = await fetchJson(circuitCid); } catch (e) { manifestError = e.message; }

  const rows = [...members.values()].map((m) => `<tr ${tid('member')} data-role="${Role[m.role]}">
      <td>${esc(m.name)}</td><td><code>${esc(m.account)}</code></td><td>${Role[m.role]}</td>
      <td>${m.current === m.role ? '<span class="badge ok">active</span>' : '<span class="badge bad">removed</span>'}</td>
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
    ${members.size ? `<table><thead><tr><th>Name</th><th>Address</th><th>Role</th><th>Status</th><th>Admitted in tx</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="state empty">No members admitted yet.</p>'}
    <h3>Aggregator enclave</h3>
    <dl class="kv">
      <dt>Aggregator</dt><dd ${tid('aggregator')}>${who(data.names, aggregator)}</dd>
      <dt>Enclave key hash</dt><dd ${tid('enclave-key-hash')}><code>${esc(keyHash)}</code></dd>
      <dt>Enclave public key</dt><dd>${artifact(keyCid, 'enclave-key.json', 'enclave-key')}</dd>
      <dt>Attestation</dt><dd ${tid('attestation')}>${attested
        ? `<span class="badge ok">measurement registered</span> <code>${esc(measurement)}</code>`
        : '<span class="badge warn">none</span> the registered measurement is zero: the enclave is a software stand-in and no attestation was performed'}</dd>
      <dt>Key registered in tx</dt><dd>${keyLogs.map((l) => `<code>${esc(l.transactionHash)}</code>`).join('<br>') || '—'}</dd>
    </dl>
    <h3>Aggregation circuit</h3>
    <dl class="kv">
      <dt>Manifest</dt><dd>${artifact(circuitCid, 'circuit-manifest.json', 'circuit-manifest')}</dd>
      ${manifest ? `<dt>Circuit</dt><dd>${esc(manifest.circuit)} (${manifest.slots} slots, d = ${manifest.model_size}, scale 2^${manifest.scale_bits}, logrows ${manifest.logrows}, ezkl ${esc(manifest.ezkl_version)}, SRS: ${esc(manifest.srs_kind)})</dd>
      <dt>Settings</dt><dd>${artifact(manifest.settings.cid, 'settings.json', 'settings')}</dd>
      <dt>Verifying key</dt><dd>${artifact(manifest.vk.cid, 'vk.key', 'vk')}</dd>
      <dt>SRS</dt><dd>${artifact(manifest.srs.cid, `kzg${manifest.logrows}.srs`, 'srs')}</dd>
      <dt>Verifier source</dt><dd>${artifact(manifest.verifier_sol.cid, 'AggregationVerifier.sol', 'verifier-sol')}</dd>`
        : `<dt>Content</dt><dd class="integrity bad">${esc(manifestError)}</dd>`}
    </dl>`;
  checkArtifacts(app);
}
