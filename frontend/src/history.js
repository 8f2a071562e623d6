// The consortium's history as the chain's events tell it: registry and round-manager logs, grouped per round.
import { CALLS } from './contract-calls.js';
import { fetchJson } from './content.js';

/** Every registry and round-manager event, fetched once per page view, with the rounds and member names. */
export async function loadHistory(chain) {
  const [regLogs, rmLogs] = await Promise.all([chain.logs('ConsortiumRegistry'), chain.logs('RoundManager')]);
  const byName = (logs, name) => logs.filter((l) => l.eventName === name);
  const rounds = new Map();
  const round = (id) => {
    const k = Number(id);
    if (!rounds.has(k)) rounds.set(k, { id: k, submissions: [], excluded: [], audits: [], reports: [], unavailable: [] });
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
 * The model round `round` made (0: the genesis model): `{point: [x, y], cid}`, from that round's RoundFinalized
 * event or the genesis getters; null when the round made no model.
 */
export async function modelRecord(chain, data, round) {
  if (Number(round) === 0) {
    const [point, cid] = await Promise.all([
      chain.read('RoundManager', CALLS.RoundManager.genesisModelCommitment), chain.read('RoundManager', CALLS.RoundManager.genesisModelCid),
    ]);
    return { point, cid };
  }
  const f = data.rounds.find((x) => x.id === Number(round))?.finalized;
  return f ? { point: f.args.newModelCommitment, cid: f.args.newModelCid } : null;
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
