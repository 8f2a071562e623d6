// zkFL consortium explorer: every value on these pages comes from the chain's RPC endpoint (viem)
// or from content fetched by CID through the loopback gateway (which refuses content not matching its CID).
import { createPublicClient, http, parseAbi, keccak256, encodePacked, bytesToHex, hexToBytes } from 'viem';

/* global __EVM_VERSION__ */
const EVM_VERSION = typeof __EVM_VERSION__ === 'string' ? __EVM_VERSION__ : 'unknown';

const REGISTRY_ABI = parseAbi([
  'event MemberAdmitted(address indexed account, uint8 indexed role, string name)',
  'event MemberRemoved(address indexed account, uint8 indexed role)',
  'event EnclaveKeyRegistered(address indexed aggregator, bytes32 keyHash, string keyCid, bytes32 measurement)',
  'event AdminTransferred(address indexed previousAdmin, address indexed newAdmin)',
  'function admin() view returns (address)',
  'function aggregator() view returns (address)',
  'function roleOf(address account) view returns (uint8)',
  'function hospitalCount() view returns (uint256)',
  'function enclaveKey() view returns (bytes32 keyHash, string keyCid, bytes32 measurement)',
]);
const ROUND_ABI = parseAbi([
  'struct RoundInfo { uint8 phase; uint64 deadline; uint32 quorum; uint32 submissionCount; uint256 prevModelCommitment; string prevModelCid; uint256 newModelCommitment; string newModelCid; bytes32 proofHash; string proofCid; uint8 rule; uint256 normBoundSq; }',
  'event CircuitPublished(string circuitCid)',
  'event RoundOpened(uint256 indexed roundId, uint256 prevModelCommitment, string prevModelCid, uint64 deadline, uint32 quorum)',
  'event RoundPolicySet(uint256 indexed roundId, uint8 rule, uint256 normBoundSq)',
  'event UpdateSubmitted(uint256 indexed roundId, address indexed hospital, uint256 slot, uint256 commitment, string cid, uint64 sampleCount)',
  'event UpdateExcluded(uint256 indexed roundId, address indexed hospital, uint256 slot)',
  'event RoundFinalized(uint256 indexed roundId, uint256 newModelCommitment, string newModelCid, bytes32 proofHash, string proofCid, uint256 includedCount, uint256 totalSamples)',
  'event RoundAborted(uint256 indexed roundId, uint256 submissionCount, address indexed by)',
  'event AuditRecorded(uint256 indexed roundId, address indexed auditor, bool passed, string reportCid)',
  'event RoundReportPublished(uint256 indexed roundId, string reportCid)',
  'function circuitCid() view returns (string)',
  'function currentRoundId() view returns (uint256)',
  'function getRound(uint256 roundId) view returns (RoundInfo)',
  'function currentModel() view returns (uint256 commitment, string cid)',
  'function fedAvgVerifier() view returns (address)',
  'function medianVerifier() view returns (address)',
  'function normVerifier() view returns (address)',
  'function slots() view returns (uint256)',
  'function modelSize() view returns (uint256)',
  'function scaleBits() view returns (uint256)',
]);
const PREDICTION_ABI = parseAbi([
  'event PredictionRecorded(uint256 indexed roundId, address indexed requester, uint256 risk, bytes32 proofHash)',
  'function RISK_SCALE_BITS() view returns (uint256)',
]);
const ROLE = ['None', 'Hospital', 'Auditor', 'Aggregator'];
const PHASE = ['None', 'Open', 'Finalized', 'Aborted'];
const RULE = ['FedAvg', 'Median']; // IRoundManager.AggregationRule
const RULE_VERIFIER = ['fedAvgVerifier', 'medianVerifier']; // the RoundManager getter of each rule's verifier
const FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const app = document.getElementById('app');

// ---------------------------------------------------------------- helpers
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const felt = (v) => '0x' + BigInt(v).toString(16).padStart(64, '0');
const pct = (x) => (x * 100).toFixed(2) + '%';
const fmtInt = (v) => BigInt(v).toLocaleString('en-US');
const time = (ts) => new Date(Number(ts) * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
const tid = (name) => `data-testid="${esc(name)}"`;
// A round's norm bound: normBoundSq = round(B^2 * 2^scaleBits) for an L2 bound B on each update's distance to
// the previous model; 0 means none.
const normBound = (sq, scaleBits) => (BigInt(sq) === 0n ? 'none'
  : `L2 distance to the previous model ≤ ${Math.sqrt(Number(sq) / 2 ** Number(scaleBits)).toFixed(4)} <span class="muted">(normBoundSq ${fmtInt(sq)}, scale 2^${scaleBits})</span>`);

class ChainUnreachable extends Error {}
class ContentError extends Error {
  constructor(kind, cid, message) { super(message); this.kind = kind; this.cid = cid; }
}

let config;
let client;

async function loadConfig() {
  let res;
  try {
    res = await fetch('config.json', { cache: 'no-store' });
  } catch (e) {
    throw new Error(`cannot load config.json from the gateway: ${e.message}`);
  }
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  config = await res.json();
  client = createPublicClient({
    chain: { id: config.chainId, name: `chain ${config.chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [config.rpcUrl] } } },
    transport: http(config.rpcUrl, { timeout: 5000, retryCount: 1, retryDelay: 200 }),
  });
}

async function rpc(fn) {
  try {
    return await fn();
  } catch (e) {
    const msg = String(e?.shortMessage || e?.message || e);
    if (/HTTP request failed|fetch|Failed to fetch|timed out|NetworkError|ECONNREFUSED/i.test(msg) || e?.name === 'HttpRequestError' || e?.name === 'TimeoutError') {
      throw new ChainUnreachable(`Chain unreachable: no answer from the RPC endpoint ${config.rpcUrl} (${msg.split('\n')[0]}). Is the node running? Start it with \`ape run serve\`.`);
    }
    throw e;
  }
}

const read = (address, abi, functionName, args = []) => rpc(() => client.readContract({ address, abi, functionName, args }));

// ----- content through the gateway, cached per CID
const contentCache = new Map();
function fetchCid(cid) {
  if (!contentCache.has(cid)) {
    contentCache.set(cid, (async () => {
      let res;
      try {
        res = await fetch(`ipfs/${encodeURIComponent(cid)}`);
      } catch (e) {
        throw new ContentError('unreachable', cid, `gateway unreachable: ${e.message}`);
      }
      if (res.ok) return new Uint8Array(await res.arrayBuffer());
      let detail = '';
      try { detail = (await res.json()).message; } catch { /* not JSON */ }
      if (res.status === 404) throw new ContentError('missing', cid, `CID missing: no content stored under ${cid}`);
      if (res.status === 502) throw new ContentError('integrity', cid, `integrity error: the stored content does not match CID ${cid} (${detail})`);
      throw new ContentError('error', cid, `HTTP ${res.status} for ${cid}: ${detail}`);
    })());
  }
  return contentCache.get(cid);
}
const fetchJson = async (cid) => JSON.parse(new TextDecoder().decode(await fetchCid(cid)));

// An artifact: a download link plus its integrity, filled in once the gateway answers.
function artifact(cid, filename, role) {
  if (!cid) return '<span class="muted">—</span>';
  const href = `ipfs/${encodeURIComponent(cid)}?filename=${encodeURIComponent(filename)}`;
  return `<span class="artifact" data-cid="${esc(cid)}" ${tid('artifact-' + role)}><a href="${href}" download="${esc(filename)}"><code>${esc(cid)}</code></a>`
    + `<span class="integrity pending" ${tid('integrity')}>checking…</span></span>`;
}

function checkArtifacts(root = app) {
  for (const el of root.querySelectorAll('.artifact[data-cid]')) {
    const badge = el.querySelector('.integrity');
    fetchCid(el.dataset.cid).then(
      () => { badge.className = 'integrity ok'; badge.textContent = '✓ content matches CID'; },
      (e) => {
        badge.className = 'integrity ' + (e.kind === 'missing' ? 'missing' : 'bad');
        badge.textContent = e.kind === 'integrity' ? '✗ INTEGRITY ERROR: content does not match its CID'
          : e.kind === 'missing' ? '⚠ CID missing from the store' : `✗ ${e.message}`;
        badge.title = e.message;
        el.dataset.state = e.kind;
      },
    );
  }
}

// ----- chain data, fetched once per page view
async function loadChain() {
  const { ConsortiumRegistry: registry, RoundManager: rm } = config.contracts;
  const [regLogs, rmLogs] = await Promise.all([
    rpc(() => client.getLogs({ address: registry, events: REGISTRY_ABI.filter((x) => x.type === 'event'), fromBlock: 0n, toBlock: 'latest' })),
    rpc(() => client.getLogs({ address: rm, events: ROUND_ABI.filter((x) => x.type === 'event'), fromBlock: 0n, toBlock: 'latest' })),
  ]);
  const byName = (logs, name) => logs.filter((l) => l.eventName === name);
  const rounds = new Map();
  const round = (id) => {
    const k = Number(id);
    if (!rounds.has(k)) rounds.set(k, { id: k, submissions: [], excluded: [], audits: [], reports: [] });
    return rounds.get(k);
  };
  for (const l of rmLogs) {
    const a = l.args;
    switch (l.eventName) {
      case 'RoundOpened': round(a.roundId).opened = l; break;
      case 'RoundPolicySet': round(a.roundId).policy = l; break;
      case 'UpdateSubmitted': round(a.roundId).submissions.push(l); break;
      case 'UpdateExcluded': round(a.roundId).excluded.push(l); break;
      case 'RoundFinalized': round(a.roundId).finalized = l; break;
      case 'RoundAborted': round(a.roundId).aborted = l; break;
      case 'AuditRecorded': round(a.roundId).audits.push(l); break;
      case 'RoundReportPublished': round(a.roundId).reports.push(l); break;
      default: break;
    }
  }
  const names = new Map();
  for (const l of byName(regLogs, 'MemberAdmitted')) names.set(l.args.account.toLowerCase(), l.args.name);
  return {
    regLogs, rmLogs, names,
    rounds: [...rounds.values()].sort((x, y) => x.id - y.id),
    circuitLogs: byName(rmLogs, 'CircuitPublished'),
  };
}

const who = (data, addr) => {
  const name = data.names.get(String(addr).toLowerCase());
  return `${name ? `<strong>${esc(name)}</strong> ` : ''}<code>${esc(addr)}</code>`;
};

async function latestReport(r) {
  const log = r.reports.at(-1);
  if (!log) return null;
  try {
    return { cid: log.args.reportCid, data: await fetchJson(log.args.reportCid) };
  } catch (e) {
    return { cid: log.args.reportCid, error: e.message };
  }
}

// ---------------------------------------------------------------- pages
async function pageConsortium() {
  const { ConsortiumRegistry: registry, RoundManager: rm } = config.contracts;
  const data = await loadChain();
  const [admin, aggregator, hospitalCount, key, circuitCid] = await Promise.all([
    read(registry, REGISTRY_ABI, 'admin'),
    read(registry, REGISTRY_ABI, 'aggregator'),
    read(registry, REGISTRY_ABI, 'hospitalCount'),
    read(registry, REGISTRY_ABI, 'enclaveKey'),
    read(rm, ROUND_ABI, 'circuitCid'),
  ]);
  const members = new Map();
  for (const l of data.regLogs) {
    if (l.eventName === 'MemberAdmitted') members.set(l.args.account.toLowerCase(), { account: l.args.account, role: Number(l.args.role), name: l.args.name, admitted: l, removed: null });
    if (l.eventName === 'MemberRemoved') { const m = members.get(l.args.account.toLowerCase()); if (m) m.removed = l; }
  }
  const roles = await Promise.all([...members.values()].map((m) => read(registry, REGISTRY_ABI, 'roleOf', [m.account])));
  [...members.values()].forEach((m, i) => { m.current = Number(roles[i]); });
  const [keyHash, keyCid, measurement] = key;
  const keyLogs = data.regLogs.filter((l) => l.eventName === 'EnclaveKeyRegistered');
  const attested = BigInt(measurement) !== 0n;
  let manifest = null; let manifestError = '';
  try { manifest = await fetchJson(circuitCid); } catch (e) { manifestError = e.message; }

  const rows = [...members.values()].map((m) => `<tr ${tid('member')} data-role="${ROLE[m.role]}">
      <td>${esc(m.name)}</td><td><code>${esc(m.account)}</code></td><td>${ROLE[m.role]}</td>
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
      <dt>Aggregator</dt><dd ${tid('aggregator')}>${who(data, aggregator)}</dd>
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
  checkArtifacts();
}

async function pageRounds() {
  const data = await loadChain();
  if (!data.rounds.length) {
    app.innerHTML = '<h2>Rounds</h2><p class="state empty" data-testid="empty">No rounds have been opened on this consortium yet.</p>';
    return;
  }
  const blocks = new Map();
  await Promise.all(data.rounds.map(async (r) => {
    if (r.opened) blocks.set(r.opened.blockNumber, await rpc(() => client.getBlock({ blockNumber: r.opened.blockNumber })));
  }));
  const rows = data.rounds.map((r) => {
    const phase = r.finalized ? 'Finalized' : r.aborted ? 'Aborted' : 'Open';
    const cls = r.finalized ? 'ok' : r.aborted ? 'bad' : 'neutral';
    const f = r.finalized?.args;
    const b = r.opened && blocks.get(r.opened.blockNumber);
    return `<tr ${tid('round-row')} data-round="${r.id}" data-phase="${phase}">
      <td><a href="#/round/${r.id}">Round ${r.id}</a></td>
      <td>${b ? time(b.timestamp) : '—'}</td>
      <td><span class="badge ${cls}" ${tid('phase')}>${phase}</span></td>
      <td>${r.submissions.length}${r.excluded.length ? ` (${r.excluded.length} excluded)` : ''}</td>
      <td>${f ? `${f.includedCount} / ${fmtInt(f.totalSamples)} samples` : '—'}</td>
      <td>${f ? `<code>${esc(f.newModelCid)}</code>` : '—'}</td>
      <td>${r.audits.length ? r.audits.map((a) => `<span class="badge ${a.args.passed ? 'ok' : 'bad'}">${a.args.passed ? 'passed' : 'failed'}</span>`).join(' ') : '<span class="muted">none</span>'}</td></tr>`;
  }).join('');
  app.innerHTML = `<h2>Rounds timeline</h2>
    <table><thead><tr><th>Round</th><th>Opened</th><th>Phase</th><th>Submissions</th><th>Included / samples</th><th>New model</th><th>Audits</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

async function pageRound(id) {
  const { RoundManager: rm } = config.contracts;
  const data = await loadChain();
  const r = data.rounds.find((x) => x.id === id);
  if (!r) {
    app.innerHTML = `<h2>Round ${id}</h2><p class="state empty" data-testid="empty">Round ${id} does not exist on this chain (yet).</p>`;
    return;
  }
  const [info, scaleBits] = await Promise.all([read(rm, ROUND_ABI, 'getRound', [BigInt(id)]), read(rm, ROUND_ABI, 'scaleBits')]);
  const normVerifier = BigInt(info.normBoundSq) === 0n ? null : await read(rm, ROUND_ABI, 'normVerifier');
  const f = r.finalized;
  const receipt = f ? await rpc(() => client.getTransactionReceipt({ hash: f.transactionHash })) : null;
  const subReceipts = await Promise.all(r.submissions.map((s) => rpc(() => client.getTransactionReceipt({ hash: s.transactionHash }))));
  const excludedSlots = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const report = await latestReport(r);
  const subs = r.submissions.map((s, i) => `<tr ${tid('submission')} data-slot="${s.args.slot}">
      <td>${s.args.slot}</td><td>${who(data, s.args.hospital)}</td>
      <td ${tid('commitment')}><code>${felt(s.args.commitment)}</code></td>
      <td>${artifact(s.args.cid, `round-${id}-slot-${s.args.slot}.ciphertext`, 'ciphertext')}</td>
      <td ${tid('sample-count')}>${s.args.sampleCount}</td>
      <td>${excludedSlots.has(Number(s.args.slot)) ? '<span class="badge bad">excluded</span>' : '<span class="badge ok">included</span>'}</td>
      <td><code>${esc(s.transactionHash)}</code><br><span class="muted">gas ${fmtInt(subReceipts[i].gasUsed)}</span></td></tr>`).join('');
  const phase = PHASE[Number(info.phase)] ?? String(info.phase);
  let fin = '<p class="state empty">Not finalized.</p>';
  if (f) {
    const a = f.args;
    fin = `<dl class="kv">
      <dt>Verification</dt><dd ${tid('onchain-verification')}>${receipt.status === 'success'
        ? `<span class="badge ok">verified on-chain</span> the ${esc(RULE[Number(info.rule)] ?? '')} verifier (RoundManager.${RULE_VERIFIER[Number(info.rule)] ?? 'fedAvgVerifier'}) accepted the proof and RoundManager bound its instances to the commitments ${Number(info.rule) === 1 ? 'and the previous model' : 'and sample counts'} above`
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
    <p class="muted">Runs the deployed ${esc(RULE[Number(info.rule)] ?? '')} verifier contract's code (ezkl's generated Halo2 verifier, read from the
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
      <td>${who(data, a.args.auditor)}</td><td><span class="badge ${a.args.passed ? 'ok' : 'bad'}">${a.args.passed ? 'passed' : 'failed'}</span></td>
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
      <dt>Aggregation rule</dt><dd ${tid('round-rule')} data-rule="${esc(RULE[Number(info.rule)] ?? info.rule)}">${esc(RULE[Number(info.rule)] ?? `unknown (${info.rule})`)}</dd>
      <dt>Norm bound</dt><dd ${tid('norm-bound')} data-norm-bound-sq="${info.normBoundSq}">${normBound(info.normBoundSq, scaleBits)}${normVerifier
        ? `<br><span class="muted">every submission carried a norm proof, checked on-chain by the norm verifier <code>${esc(normVerifier)}</code></span>` : ''}</dd>
      <dt>Opened in tx</dt><dd><code>${esc(r.opened?.transactionHash ?? '—')}</code></dd></dl>
    <h3>Submissions</h3>
    ${r.submissions.length ? `<table><thead><tr><th>Slot</th><th>Hospital</th><th>Commitment (Poseidon)</th><th>Encrypted update CID</th><th>Samples</th><th>Status</th><th>Tx</th></tr></thead><tbody>${subs}</tbody></table>` : '<p class="state empty">No submissions yet.</p>'}
    <h3>Finalization and proof</h3>${fin}
    <h3>Auditor receipts</h3>${audits}
    <h3>Run report</h3>${rep}`;
  checkArtifacts();
  if (f) {
    const span = app.querySelector('[data-testid="proof-hash-check"]');
    fetchJson(f.args.proofCid).then((proof) => {
      const hex = proof.hex_proof?.startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
      const ok = keccak256(hex) === f.args.proofHash;
      span.className = `integrity ${ok ? 'ok' : 'bad'}`;
      span.textContent = ok ? '✓ keccak256 of the published proof matches' : '✗ the published proof does not hash to the on-chain proofHash';
    }, (e) => { span.className = 'integrity bad'; span.textContent = `✗ ${e.message}`; });
    document.getElementById('verify-btn').addEventListener('click', () => verifyInBrowser(r, info));
  }
}

// ezkl writes field elements as 32-byte little-endian hex (as zkfl_dapp/quantization.py felt_from_hex reads them).
function feltFromHex(text) {
  const bytes = hexToBytes(String(text).startsWith('0x') ? text : `0x${text}`);
  if (bytes.length !== 32) throw new Error(`instance ${text} is not 32 bytes`);
  const value = BigInt(bytesToHex(bytes.reverse()));
  if (value >= FIELD_MODULUS) throw new Error(`instance ${text} is not below the BN254 modulus`);
  return value;
}

// What ties the proof file to the round the chain finalized; each entry is [what, holds].
function chainBindings(r, proofHex, instances, slots, modelSize) {
  const f = r.finalized.args;
  const checks = [[`keccak256 of the proof is the on-chain proofHash <code>${esc(f.proofHash)}</code>`, keccak256(proofHex) === f.proofHash]];
  if (instances.length < slots + 1 + modelSize) {
    checks.push([`the proof has ${instances.length} instances, fewer than the ${slots + 1 + modelSize} of the circuit layout`, false]);
    return checks;
  }
  const model = instances.slice(slots + 1, slots + 1 + modelSize);
  const modelHash = BigInt(keccak256(encodePacked(model.map(() => 'uint256'), model)));
  checks.push([`keccak256 of its ${modelSize} model instances is the round's new model commitment`, modelHash === BigInt(f.newModelCommitment)]);
  const excluded = new Set(r.excluded.map((e) => Number(e.args.slot)));
  const included = r.submissions.filter((s) => !excluded.has(Number(s.args.slot)));
  const mismatched = included.filter((s) => instances[Number(s.args.slot)] !== BigInt(s.args.commitment)).map((s) => Number(s.args.slot));
  checks.push([mismatched.length ? `instances ${mismatched.join(', ')} differ from those slots' on-chain commitments`
    : `its instances 0..${slots - 1} carry the ${included.length} included updates' on-chain commitments`, mismatched.length === 0]);
  return checks;
}

async function verifyInBrowser(r, info) {
  const f = r.finalized;
  const btn = document.getElementById('verify-btn');
  const out = document.getElementById('verify-result');
  const show = (cls, state, html) => { out.innerHTML = `<div class="state ${cls}" data-state="${state}">${html}</div>`; };
  btn.disabled = true;
  show('', 'running', 'Fetching the proof and the verifier contract\'s code…');
  try {
    const rm = config.contracts.RoundManager;
    const rule = Number(info.rule);
    if (!RULE_VERIFIER[rule]) throw new Error(`round ${r.id} has an aggregation rule (${info.rule}) this page does not know`);
    const [address, slots, modelSize] = await Promise.all([
      read(rm, ROUND_ABI, RULE_VERIFIER[rule]), read(rm, ROUND_ABI, 'slots'), read(rm, ROUND_ABI, 'modelSize'),
    ]);
    const code = await rpc(() => client.getCode({ address }));
    if (!code || code === '0x') throw new Error(`no contract code at the ${RULE[rule]} verifier address ${address}`);
    const proof = await fetchJson(f.args.proofCid);
    let proofHex; let instances;
    try {
      proofHex = String(proof.hex_proof).startsWith('0x') ? proof.hex_proof : `0x${proof.hex_proof}`;
      hexToBytes(proofHex);
      instances = proof.instances[0].map(feltFromHex);
    } catch (e) {
      show('error', 'malformed', `<span class="badge bad">flagged</span> The file under <code>${esc(f.args.proofCid)}</code> is not an ezkl proof file: ${esc(e.message || e)}`);
      return;
    }
    const bindings = chainBindings(r, proofHex, instances, Number(slots), Number(modelSize));
    const bindingList = `<ul class="bindings" ${tid('verify-bindings')}>${bindings.map(([what, ok]) => `<li class="integrity ${ok ? 'ok' : 'bad'}">${ok ? '✓' : '✗'} ${what}</li>`).join('')}</ul>`;
    if (bindings.some(([, ok]) => !ok)) {
      show('error', 'mismatch', `<span class="badge bad">flagged: not the proof the chain accepted</span> The verifier was not run.${bindingList}`);
      return;
    }
    show('', 'running', `Executing the ${RULE[rule]} verifier's code (${fmtInt((code.length - 2) / 2)} bytes) in an in-browser EVM…`);
    const { runVerifier } = await import('./evm.js');
    const genuine = await runVerifier(code, proofHex, instances);
    const tampered = hexToBytes(proofHex);
    const at = tampered.length >> 1;
    tampered[at] ^= 0x01;
    const control = await runVerifier(code, bytesToHex(tampered), instances);

    const state = !genuine.accepted ? 'rejected' : control.accepted ? 'control-failed' : 'verified';
    const head = state === 'verified'
      ? '<span class="badge ok">verified in browser</span> in-browser EVM executing the deployed ezkl verifier: <code>verifyProof</code> returned true for the published proof and its instances'
      : state === 'rejected'
        ? `<span class="badge bad">rejected</span> in-browser EVM executing the deployed ezkl verifier: <code>verifyProof</code> ${esc(genuine.outcome)} for the proof and instances in the proof file served for this round`
        : '<span class="badge bad">tamper control failed</span> the verifier code accepted the proof and also a corrupted copy of it, so its answer means nothing';
    const controlLine = control.accepted
      ? `<span class="badge bad">tamper control: accepted</span> the corrupted copy ${esc(control.outcome)}`
      : `<span class="badge ok">tamper control: rejected</span> the same code ${esc(control.outcome)}`;
    show(state === 'verified' ? '' : 'error', state, `<p ${tid('verify-genuine')} data-outcome="${genuine.accepted ? 'accepted' : 'rejected'}">${head}
        (${instances.length} instances; <span ${tid('verify-gas')}>${fmtInt(genuine.gasUsed)}</span> gas, <span ${tid('verify-ms')}>${genuine.ms.toFixed(0)}</span> ms).</p>
      <p ${tid('verify-tamper')} data-outcome="${control.accepted ? 'accepted' : 'rejected'}">${controlLine}
        for the proof with byte ${at} of ${tampered.length} flipped (XOR 0x01) and the instances unchanged (${fmtInt(control.gasUsed)} gas, ${control.ms.toFixed(0)} ms).</p>
      <dl class="kv">
        <dt>Verifier code</dt><dd>the ${RULE[rule]} verifier deployed at <code ${tid('verifier-address')}>${esc(address)}</code>, read from the chain node
          with <code>eth_getCode</code>: ${fmtInt((code.length - 2) / 2)} bytes, keccak256 <code ${tid('verifier-code-hash')}>${keccak256(code)}</code>;
          it ran here, in @ethereumjs/evm ${esc(EVM_VERSION)}</dd>
        <dt>Bound to the chain</dt><dd>${bindingList}</dd>
      </dl>`);
  } catch (e) {
    const kind = e instanceof ContentError ? e.kind : e instanceof ChainUnreachable ? 'chain-unreachable' : 'error';
    show('error', kind, `<span class="badge bad">flagged</span> Could not verify: ${esc(e.message || e)}`);
  } finally {
    btn.disabled = false;
  }
}

async function pageLineage() {
  const { RoundManager: rm } = config.contracts;
  const data = await loadChain();
  const current = await read(rm, ROUND_ABI, 'currentModel');
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
  checkArtifacts();
}

async function pageAccuracy() {
  const data = await loadChain();
  const points = [];
  const problems = [];
  for (const r of data.rounds) {
    const rep = await latestReport(r);
    if (rep?.data) points.push({ round: r.id, acc: rep.data.accuracy, base: rep.data.baseline_accuracy, cid: rep.cid });
    else if (rep?.error) problems.push(`round ${r.id}: ${rep.error}`);
  }
  if (!points.length) {
    app.innerHTML = `<h2>Global-model accuracy</h2><p class="state empty" data-testid="empty">No round published an accuracy report (RoundReportPublished) on this chain.</p>${problems.map((p) => `<p class="state error">${esc(p)}</p>`).join('')}`;
    return;
  }
  const W = 640; const H = 300; const L = 56; const R = 44; const T = 16; const B = 40;
  const vals = points.flatMap((p) => [p.acc, p.base]);
  let lo = Math.min(...vals); let hi = Math.max(...vals);
  const pad = Math.max(0.01, (hi - lo) * 0.15); lo = Math.max(0, lo - pad); hi = Math.min(1, hi + pad);
  const n = points.length;
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const line = (k) => points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p[k]).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (hi - lo));
  const svg = `<svg ${tid('accuracy-plot')} viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="global-model accuracy per round">
    ${ticks.map((v) => `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e8ee"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${pct(v)}</text>`).join('')}
    ${points.map((p, i) => `<text x="${x(i)}" y="${H - B + 18}" text-anchor="middle">round ${p.round}</text>`).join('')}
    <path d="${line('acc')}" fill="none" stroke="#2454a6" stroke-width="2.5"/>
    <path d="${line('base')}" fill="none" stroke="#9a6700" stroke-width="2" stroke-dasharray="6 4"/>
    ${points.map((p, i) => `<circle cx="${x(i)}" cy="${y(p.acc)}" r="4" fill="#2454a6"><title>round ${p.round}: ${pct(p.acc)}</title></circle>`).join('')}
  </svg>`;
  app.innerHTML = `<h2>Global-model accuracy per round</h2>
    <p class="legend"><span><i class="swatch" style="background:#2454a6"></i>proven global model</span><span><i class="swatch" style="background:#9a6700"></i>plain floating-point FedAvg baseline</span></p>
    ${svg}
    <table><thead><tr><th>Round</th><th>Accuracy</th><th>Baseline</th><th>Report</th></tr></thead><tbody>
    ${points.map((p) => `<tr ${tid('accuracy-row')} data-round="${p.round}"><td>${p.round}</td><td ${tid('accuracy')}>${pct(p.acc)}</td><td>${pct(p.base)}</td><td>${artifact(p.cid, `round-${p.round}-report.json`, 'report')}</td></tr>`).join('')}
    </tbody></table>${problems.map((p) => `<p class="state error">${esc(p)}</p>`).join('')}`;
  checkArtifacts();
}

// ---------------------------------------------------------------- predictions (issue 5)
async function pagePredictions() {
  const address = config.contracts.PredictionRegistry;
  if (!address) {
    app.innerHTML = `<h2>Proven predictions</h2><p class="state empty" data-testid="empty">No PredictionRegistry is deployed for this consortium yet: \`ape run predict --patient FILE\` deploys it and records the first proven prediction.</p>`;
    return;
  }
  const [logs, scaleBits] = await Promise.all([
    rpc(() => client.getContractEvents({ address, abi: PREDICTION_ABI, eventName: 'PredictionRecorded', fromBlock: 0n })),
    read(address, PREDICTION_ABI, 'RISK_SCALE_BITS'),
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

// ---------------------------------------------------------------- router
async function chainStatus() {
  const el = document.getElementById('chain-status');
  try {
    const [id, block] = await Promise.all([rpc(() => client.getChainId()), rpc(() => client.getBlockNumber())]);
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
    if (!config) await loadConfig();
    chainStatus();
    if (page === 'consortium') await pageConsortium();
    else if (page === 'rounds') await pageRounds();
    else if (page === 'round') await pageRound(Number(arg));
    else if (page === 'lineage') await pageLineage();
    else if (page === 'accuracy') await pageAccuracy();
    else if (page === 'predictions') await pagePredictions();
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
