// KZG commitments in the browser (BN254 G1, @noble/curves): the consortium commits to a vector S of d + P rows
// in one pinned basis, C(S) = K + sum_j S_j L_j, where K = C(0) and L_j = C(e_j) - K are published in the circuit
// manifest (protocol/publication.py). The map S -> C(S) - K is linear, so a FedAvg round's model commitment is
// also K + sum_i w_i (C(u_i) - K) over the hospitals' commitments (circuits.kzg.combine, RoundManager._aggregate).
// A commitment is an ordered list of points, one per committed vector: ONE point for a model committed as one
// vector, one per chunk for a large model committed chunk by chunk (RoundManager.chunks(); the combination then
// holds per chunk). The chain stores a model commitment as keccak256(x_0 || y_0 || x_1 || ..) (RoundManager.
// _hashPoints; for one point keccak256(x || y)).
import { bn254 } from '@noble/curves/bn254';
import { encodeAbiParameters, encodePacked, keccak256 } from 'viem';

const G1 = bn254.G1.ProjectivePoint;
/** The BN254 scalar field modulus r: a signed value v is committed as v mod r. */
export const FIELD_MODULUS = bn254.fields.Fr.ORDER;

/** `v` (a signed integer) as a scalar in [0, r). */
export const scalar = (v) => ((BigInt(v) % FIELD_MODULUS) + FIELD_MODULUS) % FIELD_MODULUS;

/** A G1 point from affine coordinates ([x, y], {x, y} or hex strings); (0, 0) is the point at infinity. Throws when off the curve. */
export function point(p) {
  const [x, y] = Array.isArray(p) ? p : [p.x, p.y];
  const bx = BigInt(x); const by = BigInt(y);
  if (bx === 0n && by === 0n) return G1.ZERO;
  const q = G1.fromAffine({ x: bx, y: by });
  q.assertValidity();
  return q;
}

/** Affine coordinates `[x, y]` of a G1 point ((0, 0) for the point at infinity). */
export function affine(q) {
  if (q.equals(G1.ZERO)) return [0n, 0n];
  const { x, y } = q.toAffine();
  return [x, y];
}

/** keccak256(x || y) of one point (a chunk point, as RoundManager records a chunk proof's). */
export const pointHash = (p) => {
  const [x, y] = Array.isArray(p) ? p : affine(p);
  return keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [BigInt(x), BigInt(y)]));
};

/** keccak256(x_0 || y_0 || x_1 || ..) of a commitment (a list of [x, y] points): how RoundManager stores a model commitment. */
export const commitmentHash = (points) => {
  const words = points.flatMap(([x, y]) => [BigInt(x), BigInt(y)]);
  return keccak256(encodePacked(words.map(() => 'uint256'), words));
};

/** Whether two commitments (lists of [x, y] points) are the same points in the same order. */
export const sameCommitment = (a, b) => a.length === b.length && a.every((p, i) => samePoint(p, b[i]));

/** K + sum_i w_i (C_ic - K) for every chunk c: the aggregate commitment of `commitments` (each a list of points). */
export function combineChunks(commitments, weights, zero) {
  const n = commitments[0]?.length ?? 0;
  if (commitments.some((c) => c.length !== n)) throw new Error('the commitments do not have the same number of points');
  return Array.from({ length: n }, (_, c) => combine(commitments.map((pts) => pts[c]), weights, zero));
}

/** sum_j s_j P_j (scalars signed, reduced mod r). */
function msm(points, scalars) {
  let acc = G1.ZERO;
  points.forEach((p, j) => {
    const s = scalar(scalars[j]);
    if (s !== 0n) acc = acc.add(p.multiplyUnsafe(s));
  });
  return acc;
}

/**
 * C(S) = K + sum_j S_j L_j: the commitment of `values` (signed integers, one per row) in the basis whose zero
 * commitment is `zero` and whose Lagrange points are `lagrange` (as published: [[x_hex, y_hex], ...]).
 * @returns {[bigint, bigint]}
 */
export function commit(values, zero, lagrange) {
  if (values.length !== lagrange.length) throw new Error(`${values.length} values but ${lagrange.length} Lagrange points`);
  return affine(point(zero).add(msm(lagrange.map(point), values)));
}

/** K + sum_i w_i (C_i - K): the aggregate commitment of the commitments `commitments` with weights `weights`. */
export function combine(commitments, weights, zero) {
  const k = point(zero);
  return affine(k.add(msm(commitments.map((c) => point(c).subtract(k)), weights)));
}

/** Whether two points given as [x, y] (bigint, number or hex) are equal. */
export const samePoint = (a, b) => BigInt(a[0]) === BigInt(b[0]) && BigInt(a[1]) === BigInt(b[1]);
