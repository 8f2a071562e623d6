// Formatting helpers shared by the pages: HTML escaping, numbers, times, field elements, addresses.

/** `s` escaped for HTML text and attribute values. */
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
/** A field element as 32-byte hex. */
export const felt = (v) => '0x' + BigInt(v).toString(16).padStart(64, '0');
/** A G1 point [x, y] as two 32-byte hex coordinates. */
export const point = (p) => `<code>${felt(p[0])}</code><br><code>${felt(p[1])}</code>`;
/**
 * A commitment (a list of G1 points, one per chunk) compactly: its one point, or its first point and the number of
 * chunk points (a large model is committed in chunks; every point is in the event and the contract's state).
 */
export const commitment = (points) => (points.length === 1 ? point(points[0])
  : `${point(points[0])}<br><span class="muted" data-testid="chunk-points" data-points="${points.length}">… (${points.length} chunk points)</span>`);
/** The attributes the tests select a commitment by: its first point and its number of points. */
export const commitmentData = (points) => `data-x="${felt(points[0]?.[0] ?? 0)}" data-y="${felt(points[0]?.[1] ?? 0)}" data-points="${points.length}"`;
/** A fraction as a percentage; "n/a" for none (null: a round report without a held-out evaluation). */
export const pct = (x) => (x === null || x === undefined ? 'n/a' : (x * 100).toFixed(2) + '%');
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

/**
 * A term's explanation where the term appears: a collapsed <details> whose summary is `label` (a "?" by default)
 * and whose body is `html` (trusted markup written by the pages). `data-testid="explain-<id>"`.
 */
export const explain = (id, html, label = 'what is this?') => `<details class="explain" ${tid(`explain-${id}`)}><summary>${esc(label)}</summary><div>${html}</div></details>`;

/** The shared explanations, one per term, by `explain` id. `scale` is the aggregate's scale bits (2 scaleBits). */
export const TERMS = {
  normBound: (scale) => `<code>normBoundSq</code> is the round's bound on the squared L2 distance of each hospital's update to the
    previous aggregate (the previous global model), as an integer at scale 2^${scale}: the bound on the distance itself is
    B = √(normBoundSq / 2^${scale}). Each submission carried a norm proof that its update is within it; 0 means no bound.`,
  commitment: `A commitment is a KZG commitment: one point (x, y) of the BN254 curve's group G1 that binds the committed vector
    (the update's d model values plus P random hiding-pad values) without revealing it. K = C(0) is the commitment to the
    all-zero vector in the consortium's pinned basis. Commitments add up: C(Σ w_i u_i) = K + Σ w_i (C(u_i) − K), which is how
    the chain derives the new model's point from the hospitals' points. A large model is committed in chunks: one point per
    chunk (its model values and its own P pad values), in chunk order, and the chain derives the new model's points chunk by
    chunk; the pages show the first point and the number of chunk points.`,
  derived: `“Derived on-chain”: the RoundManager contract computed the new model's commitment itself, in the finalizing
    transaction, from the included hospitals' on-chain commitments and the weights it computes from their sample counts.
    No proof is involved and nobody's word is taken for the point; the model file is then checked against that point.`,
  modelHash: `The model hash is keccak256(x || y) of the model's commitment point (x and y as 32-byte big-endian words; for a
    model committed in chunks keccak256(x_0 || y_0 || x_1 || y_1 || …) over its chunk points in order). The contract stores
    this 32-byte hash instead of the points (a fraction of the storage cost); the points themselves are in the
    RoundFinalized event, and this page checks that they hash to the stored value.`,
  reported: `“Reported, not proven”: the administrator's own evaluation on held-out data, published as a report file. Nothing
    on-chain or in this page proves the figure; what is proven is each model's commitment, not its accuracy.`,
  excluded: `“Excluded by the enclave”: the aggregator enclave left this submission out of the aggregate (UpdateExcluded,
    with zero weight), for example because its encrypted content did not open its commitment. That is the enclave's
    statement, not proven: the contract only records which slots the enclave excluded.`,
  absent: `A member hospital that was admitted when the round opened (RoundInfo.members counts them; the registry's
    MemberAdmitted and MemberRemoved events say who) but did not submit an update before the round finalized.`,
};
