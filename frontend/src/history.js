// The consortium's history as the chain's events tell it: registry and round-manager logs, grouped per round.
import { CALLS } from './contract-calls.js';
import { fetchJson } from './content.js';
import { Role } from './generated/contracts.js';

/** Every registry and round-manager event, fetched once per page view, with the rounds and member names. */
export async function loadHistory(chain) {
  const [regLogs, rmLogs] = await Promise.all([chain.logs('ConsortiumRegistry'), chain.logs('RoundManager')]);
  const byName = (logs, name) => logs.filter((l) => l.eventName === name);
  const rounds = new Map();
  const round = (id) => {
    const k = Number(id);
    if (!rounds.has(k)) rounds.set(k, { id: k, submissions: [], excluded: [], audits: [], reports: [], unavailable: [], claims: [], faults: [] });
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
      case 'ModelUnavailableReported': round(a.roundId).unavailable.push(l); break;
      case 'RoundRolledBack': round(a.roundId).rolledBack = l; break;
      case 'NormClaimed': round(a.roundId).claims.push(l); break;
      case 'ChunkProofFaulted': round(a.roundId).faults.push(l); break;
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

/** A round's phase as its events tell it: Open, Finalized, RolledBack or Aborted. */
export const phaseOf = (r) => (r.rolledBack ? 'RolledBack' : r.finalized ? 'Finalized' : r.aborted ? 'Aborted' : 'Open');

/**
 * The model round `round` made (0: the genesis model): `{commitment: [[x, y], ..], cid}` (one point per chunk), from
 * that round's RoundFinalized event or the genesis getters; null when the round made no model.
 */
export async function modelRecord(chain, data, round) {
  if (Number(round) === 0) {
    const [commitment, cid] = await Promise.all([
      chain.read('RoundManager', CALLS.RoundManager.genesisModelCommitment), chain.read('RoundManager', CALLS.RoundManager.genesisModelCid),
    ]);
    return { commitment, cid };
  }
  const f = data.rounds.find((x) => x.id === Number(round))?.finalized;
  return f ? { commitment: f.args.newModelCommitment, cid: f.args.newModelCid } : null;
}

/**
 * Submission `s`'s norm claim as the chain tells it: `{ claim, faults }`: its NormClaimed log (an optimistic
 * deployment: budgets, proof hashes and the bundle's CID; null when the proofs were verified in the submitting
 * transaction) and the ChunkProofFaulted logs of its slot (a member's challenge showed a proof false).
 */
export function normClaimOf(r, s) {
  const slot = Number(s.args.slot);
  return {
    claim: r.claims.find((l) => Number(l.args.slot) === slot) ?? null,
    faults: r.faults.filter((l) => Number(l.args.slot) === slot),
  };
}

/** The round's latest published run report: `{cid, data}`, `{cid, error}`, or null when none. */
export async function latestReport(r) {
  const log = r.reports.at(-1);
  if (!log) return null;
  try {
    return { cid: log.args.reportCid, data: await fetchJson(log.args.reportCid) };
  } catch (e) {
    return { cid: log.args.reportCid, error: e.message };
  }
}

/** Whether log `a` comes before log `b` on the chain (block, then position in the block). */
const before = (a, b) => a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex);

/**
 * The member hospitals when round `r` opened, from the registry's MemberAdmitted / MemberRemoved events before its
 * RoundOpened log: `[{account, name}]` in admission order (RoundInfo.members counts them, capped at the slots).
 */
export function hospitalsAtOpening(data, r) {
  const members = new Map();
  if (!r.opened) return [];
  for (const l of data.regLogs) {
    if (!before(l, r.opened)) continue;
    const key = String(l.args.account).toLowerCase();
    if (l.eventName === 'MemberAdmitted' && Role[Number(l.args.role)] === 'Hospital') members.set(key, { account: l.args.account, name: l.args.name });
    else if (l.eventName === 'MemberRemoved' && members.has(key)) members.delete(key);
  }
  return [...members.values()];
}

/**
 * Who of round `r`'s members took part, given its RoundInfo `info`: `{members, submitted, absent, included,
 * excluded, quorum, onQuorum}`. `members` is RoundInfo.members (the count at opening), `absent` the hospitals that were
 * members at opening and did not submit, `onQuorum` whether the round finalized with fewer submissions than members
 * (which the contract allows only after the deadline, with at least `quorum` included updates).
 */
export function attendance(data, r, info) {
  const submitters = new Set(r.submissions.map((s) => String(s.args.hospital).toLowerCase()));
  const absent = hospitalsAtOpening(data, r).filter((m) => !submitters.has(m.account.toLowerCase()));
  const members = Number(info.members);
  const submitted = r.submissions.length;
  const included = r.finalized ? Number(r.finalized.args.includedCount) : null;
  return {
    members, submitted, absent, included, excluded: r.excluded.length, quorum: Number(info.quorum),
    onQuorum: Boolean(r.finalized) && submitted < members,
  };
}

/** The plain-words account of `attendance(...)`'s quorum finalization, or '' when every member submitted. */
export function quorumSentence(a) {
  if (!a.onQuorum) return '';
  const inc = a.excluded ? `, ${a.included} included after ${a.excluded} excluded by the enclave` : '';
  return `finalized on quorum after the deadline: ${a.submitted} of ${a.members} members submitted${inc}, quorum ${a.quorum}`;
}
