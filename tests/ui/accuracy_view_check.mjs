// node tests/ui/accuracy_view_check.mjs: the accuracy page's HTML (frontend/src/pages/accuracy-view.js) for round
// reports with and without a held-out accuracy, as JSON on stdout (tests/unit/test_accuracy_view.py reads it).
import { accuracyView } from '../../frontend/src/pages/accuracy-view.js';

const link = (cid) => `<a href="#${cid}">report</a>`;
const cases = {
  // the demo's reports: both figures
  measured: accuracyView([{ round: 1, acc: 0.9, base: 0.91, cid: 'c1' }, { round: 2, acc: 0.92, base: 0.93, cid: 'c2' }], [], link),
  // the party flow on a bundled data set: an accuracy, no baseline
  no_baseline: accuracyView([{ round: 1, acc: 0.9, base: null, cid: 'c1' }, { round: 2, acc: 0.95, base: null, cid: 'c2' }], [], link),
  // a consortium on its own schema: neither
  own_schema: accuracyView([{ round: 1, acc: null, base: null, cid: 'c1' }, { round: 2, acc: null, base: null, cid: 'c2' }], [], link),
  none: accuracyView([], ['round 1: unreadable'], link),
};
process.stdout.write(JSON.stringify(cases));
