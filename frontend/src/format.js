// Formatting helpers shared by the pages: HTML escaping, numbers, times, field elements, addresses.

/** `s` escaped for HTML text and attribute values. */
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
/** A field element as 32-byte hex. */
export const felt = (v) => '0x' + BigInt(v).toString(16).padStart(64, '0');
/** A G1 point [x, y] as two 32-byte hex coordinates. */
export const point = (p) => `<code>${felt(p[0])}</code><br><code>${felt(p[1])}</code>`;
export const pct = (x) => (x * 100).toFixed(2) + '%';
export const fmtInt = (v) => BigInt(v).toLocaleString('en-US');
/** A block timestamp (seconds) in UTC. */
export const time = (ts) => new Date(Number(ts) * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
/** The `data-testid` attribute the UI tests select on. */
export const tid = (name) => `data-testid="${esc(name)}"`;

// A round's norm bound: normBoundSq = round(B^2 * 2^scaleBits) for an L2 bound B on each update's distance to
// the previous model; 0 means none.
export const normBound = (sq, scaleBits) => (BigInt(sq) === 0n ? 'none'
  : `L2 distance to the previous model ≤ ${Math.sqrt(Number(sq) / 2 ** Number(scaleBits)).toFixed(4)} <span class="muted">(normBoundSq ${fmtInt(sq)}, scale 2^${scaleBits})</span>`);

/** An address, after its member name when `names` (lowercase address -> name) knows it. */
export const who = (names, addr) => {
  const name = names.get(String(addr).toLowerCase());
  return `${name ? `<strong>${esc(name)}</strong> ` : ''}<code>${esc(addr)}</code>`;
};
