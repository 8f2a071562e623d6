// The accuracy page's HTML from the published round reports' figures (no chain, no network: node tests it,
// tests/ui/accuracy_view_check.mjs). A report's accuracy or baseline is null where there is none: a consortium on
// its own schema (the administrator holds no records of it) and the party flow (which trains no float baseline).
import { TERMS, esc, explain, pct, tid } from '../format.js';

const given = (v) => typeof v === 'number' && Number.isFinite(v);

/**
 * The page for `points` ({round, acc, base, cid}; acc and base null where the report has none) and `problems`
 * (error lines); `artifact(cid, name, kind)` links a report.
 */
export function accuracyView(points, problems, artifact) {
  const errors = problems.map((p) => `<p class="state error">${esc(p)}</p>`).join('');
  if (!points.length) {
    return `<h2>Global-model accuracy</h2><p class="state empty" data-testid="empty">No round published an accuracy report (RoundReportPublished) on this chain.</p>${errors}`;
  }
  const measured = points.filter((p) => given(p.acc));
  const withBase = points.some((p) => given(p.base));
  const none = measured.length ? '' : `<p class="state empty" ${tid('no-accuracy')}>The round reports carry no held-out accuracy
    (n/a): the administrator holds no records of this consortium's own schema, so nothing was evaluated.</p>`;
  return `<h2>Global-model accuracy per round</h2>
    <p class="muted" ${tid('reported-note')}><span class="badge warn">reported, not proven</span> the administrator's evaluation on held-out
    data, from the published round reports: what is proven is each model's commitment (round pages), not these numbers.</p>
    ${explain('reported', TERMS.reported, 'what does “reported, not proven” mean?')}
    ${none}
    ${measured.length ? `<p class="legend"><span><i class="swatch" style="background:#2454a6"></i>global model</span>${withBase ? '<span><i class="swatch" style="background:#9a6700"></i>plain floating-point FedAvg baseline</span>' : ''}</p>
    ${plot(measured)}` : ''}
    <table><thead><tr><th>Round</th><th>Accuracy</th><th>Baseline</th><th>Report</th></tr></thead><tbody>
    ${points.map((p) => `<tr ${tid('accuracy-row')} data-round="${p.round}"><td>${p.round}</td><td ${tid('accuracy')}>${pct(p.acc)}</td><td ${tid('baseline')}>${pct(p.base)}</td><td>${artifact(p.cid, `round-${p.round}-report.json`, 'report')}</td></tr>`).join('')}
    </tbody></table>${errors}`;
}

/** An SVG line plot of `points` ({round, acc, base}, every acc a number): accuracy solid, baseline dashed where given. */
function plot(points) {
  const W = 640; const H = 300; const L = 56; const R = 44; const T = 16; const B = 40;
  const vals = points.flatMap((p) => [p.acc, p.base]).filter(given);
  let lo = Math.min(...vals); let hi = Math.max(...vals);
  const pad = Math.max(0.01, (hi - lo) * 0.15); lo = Math.max(0, lo - pad); hi = Math.min(1, hi + pad);
  const n = points.length;
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const line = (k) => points.map((p, i) => [p[k], i]).filter(([v]) => given(v))
    .map(([v, i], j) => `${j ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const base = line('base');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (hi - lo));
  return `<svg ${tid('accuracy-plot')} viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="global-model accuracy per round">
    ${ticks.map((v) => `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e8ee"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${pct(v)}</text>`).join('')}
    ${points.map((p, i) => `<text x="${x(i)}" y="${H - B + 18}" text-anchor="middle">round ${p.round}</text>`).join('')}
    <path d="${line('acc')}" fill="none" stroke="#2454a6" stroke-width="2.5"/>
    ${base ? `<path ${tid('baseline-line')} d="${base}" fill="none" stroke="#9a6700" stroke-width="2" stroke-dasharray="6 4"/>` : ''}
    ${points.map((p, i) => `<circle cx="${x(i)}" cy="${y(p.acc)}" r="4" fill="#2454a6"><title>round ${p.round}: ${pct(p.acc)}</title></circle>`).join('')}
  </svg>`;
}
