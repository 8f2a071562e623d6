// #/rounds: the rounds timeline, one row per round with its phase (Open, Finalized, RolledBack, Aborted),
// submissions against the members at opening (naming absent hospitals and quorum finalizations), new model (CID
// and commitment) and audits.
import { CALLS } from '../contract-calls.js';
import { TERMS, esc, explain, felt, fmtInt, tid, time, who } from '../format.js';
import { attendance, loadHistory, phaseOf, quorumSentence } from '../history.js';

export async function render({ app, chain }) {
  const data = await loadHistory(chain);
  if (!data.rounds.length) {
    app.innerHTML = '<h2>Rounds</h2><p class="state empty" data-testid="empty">No rounds have been opened on this consortium yet.</p>';
    return;
  }
  const infos = new Map(await Promise.all(data.rounds.map(async (r) => [r.id, await chain.read('RoundManager', CALLS.RoundManager.getRound, [BigInt(r.id)])])));
  const blocks = new Map();
  await Promise.all(data.rounds.map(async (r) => {
    if (r.opened) blocks.set(r.opened.blockNumber, await chain.rpc((c) => c.getBlock({ blockNumber: r.opened.blockNumber })));
  }));
  const rows = data.rounds.map((r) => {
    const phase = phaseOf(r);
    const cls = phase === 'Finalized' ? 'ok' : phase === 'Open' ? 'neutral' : 'bad';
    const f = r.finalized?.args;
    const b = r.opened && blocks.get(r.opened.blockNumber);
    const att = attendance(data, r, infos.get(r.id));
    return `<tr ${tid('round-row')} data-round="${r.id}" data-phase="${phase}">
      <td><a href="#/round/${r.id}">Round ${r.id}</a></td>
      <td>${b ? time(b.timestamp) : '—'}</td>
      <td><span class="badge ${cls}" ${tid('phase')}>${phase}</span></td>
      <td ${tid('round-attendance')} data-members="${att.members}" data-submitted="${att.submitted}">${att.submitted} of ${att.members} members${r.excluded.length
        ? `<br><span class="badge bad" ${tid('excluded-count')}>${r.excluded.length} excluded by the enclave</span> <span class="muted">(its statement, not proven)</span>${explain('excluded', TERMS.excluded, 'excluded?')}` : ''}${att.absent.length
        ? `<br>${att.absent.map((m) => `<span class="badge bad" ${tid('absent-hospital')} data-address="${esc(m.account)}">absent</span> ${who(data.names, m.account)}`).join('<br>')}` : ''}${att.onQuorum
        ? `<br><span class="badge warn" ${tid('quorum-finalization')}>${esc(quorumSentence(att))}</span>` : ''}</td>
      <td>${f ? `${f.includedCount} / ${fmtInt(f.totalSamples)} samples` : '—'}</td>
      <td>${f ? `<code>${esc(f.newModelCid)}</code><br><span class="muted">C = (<code>${esc(felt(f.newModelCommitment[0][0]).slice(0, 12))}…</code>, …)${f.newModelCommitment.length > 1 ? ` <span ${tid('chunk-points')} data-points="${f.newModelCommitment.length}">(${f.newModelCommitment.length} chunk points)</span>` : ''}</span>` : '—'}</td>
      <td>${r.audits.length ? r.audits.map((a) => `<span class="badge ${a.args.passed ? 'ok' : 'bad'}">${a.args.passed ? 'passed' : 'failed'}</span>`).join(' ') : '<span class="muted">none</span>'}</td></tr>`;
  }).join('');
  app.innerHTML = `<h2>Rounds timeline</h2>
    <table><thead><tr><th>Round</th><th>Opened</th><th>Phase</th><th>Submissions${explain('absent', TERMS.absent, 'absent?')}</th><th>Included / samples</th><th>New model</th><th>Audits</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}
