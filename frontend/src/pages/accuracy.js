// #/accuracy: the global model's accuracy per round, from the published round reports (reported, not proven),
// plotted against the plain floating-point FedAvg baseline; "n/a" where a report has none (accuracy-view.js).
import { artifact, checkArtifacts } from '../content.js';
import { latestReport, loadHistory } from '../history.js';
import { accuracyView } from './accuracy-view.js';

export async function render({ app, chain }) {
  const data = await loadHistory(chain);
  const points = [];
  const problems = [];
  for (const r of data.rounds) {
    const rep = await latestReport(r);
    if (rep?.data) points.push({ round: r.id, acc: rep.data.accuracy ?? null, base: rep.data.baseline_accuracy ?? null, cid: rep.cid });
    else if (rep?.error) problems.push(`round ${r.id}: ${rep.error}`);
  }
  app.innerHTML = accuracyView(points, problems, artifact);
  if (points.length) checkArtifacts(app);
}
