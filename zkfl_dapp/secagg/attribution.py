"""Attribution: who broke the masking, shown from public data (the chain, the bundles, the masked inputs).

Every setup bundle commits to the dealer's self mask ``C(b_i)`` and to the mask of each of its pairs ``C(p_ij)``
(the lower party's). ``C`` is affine (``zkfl_dapp.circuits.kzg``: ``C(sum w_k v_k) = sum w_k C(v_k) - (sum w_k - 1)
K``), so for any roster anyone derives the commitment of hospital ``i``'s total mask

    C(m_i) = C(b_i) + sum_{j > i} (C(p_ij) - K) - sum_{j < i} (C(p_ji) - K)

and checks its published masked input ``y_i`` against its on-chain update commitment ``C(u_i)`` and count ``n_i``:

    C(y_i) == n_i C(u_i) + C(m_i) - n_i K        (= C(n_i u_i + m_i)).

A hospital whose ``y_i`` fails is inconsistent with its commitment or used masks other than those it committed to;
the pair masks of all passing inputs cancel (the commitment is binding), so the unmasked sum opens
``C(S) = sum n_i C(u_i) - (N - 1) K`` (:func:`verify_sum`). One case needs the accused's help: a lower party that
committed to a pair mask other than the one its KEM ciphertext gives makes its *partner's* check fail; the partner
then publishes the KEM message ``m'`` of that ciphertext (:class:`PairEvidence`), which proves the pair's shared
secret from the partner's public key alone and shows the lower party's commitment wrong, and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zkfl_dapp.circuits.kzg import G1Point, combine
from zkfl_dapp.crypto.evidence import kem_message
from zkfl_dapp.exceptions import CryptoError, EvidenceError, SecAggAttributionError
from zkfl_dapp.secagg.bundle import Committer, SetupBundle, point_of
from zkfl_dapp.secagg.field import FIELD_MODULUS, expand
from zkfl_dapp.secagg.pairwise import address_int, ordered, pair_seed

__all__ = ["Finding", "PairEvidence", "attribute", "mask_commitment", "pair_evidence", "verify_sum"]


@dataclass(frozen=True)
class PairEvidence:
    """The higher party's KEM message ``m'`` of the lower party's ciphertext for their pair (public)."""

    lower: str
    higher: str
    message: bytes


@dataclass(frozen=True)
class Finding:
    """One hospital found at fault: ``reason`` is ``"masked-input"`` (its ``y_i`` does not open ``n_i C(u_i) +
    C(m_i)``) or ``"pair-commitment"`` (a :class:`PairEvidence` shows its pair commitment wrong)."""

    hospital: str
    reason: str
    detail: str


def pair_evidence(higher: str, private_seed: bytes, lower_bundle: SetupBundle) -> PairEvidence:
    """The evidence ``higher`` publishes about the pair in ``lower_bundle`` (reveals that pair's mask only)."""
    ciphertext = bytes.fromhex(lower_bundle.pair(higher).kem_ciphertext)
    return PairEvidence(lower_bundle.dealer, higher.lower(), kem_message(private_seed, ciphertext))


def _true_pair_commitment(
    evidence: PairEvidence, roster: Mapping[str, SetupBundle], keys: Mapping[str, bytes], commit: Committer
) -> G1Point:
    """The commitment of the pair mask that ``evidence`` proves; raises if the evidence proves nothing."""
    from zkfl_dapp.crypto.evidence import shared_secret

    bundle = roster[evidence.lower]
    record = bundle.pair(evidence.higher)
    try:
        shared = shared_secret(keys[evidence.higher], bytes.fromhex(record.kem_ciphertext), evidence.message)
    except (EvidenceError, CryptoError) as exc:
        raise SecAggAttributionError(
            f"pair evidence ({evidence.lower}, {evidence.higher}) proves nothing: {exc}"
        ) from exc
    seed = pair_seed(shared, bundle.round_id, evidence.lower, evidence.higher)
    return commit(expand(seed, bundle.purpose, bundle.length))


def mask_commitment(
    me: str, roster: Mapping[str, SetupBundle], k: G1Point, pair_points: Mapping[tuple[str, str], G1Point] | None = None
) -> G1Point:
    """``C(m_i)`` of ``me``'s total mask over ``roster``; ``pair_points`` overrides published pair commitments."""
    points = [point_of(roster[me].self_commitment)]
    weights = [1]
    for j in roster:
        if j == me:
            continue
        lo, hi = ordered(me, j)
        override = (pair_points or {}).get((lo, hi))
        points.append(override if override is not None else point_of(roster[lo].pair(hi).mask_commitment))
        weights.append(1 if address_int(j) > address_int(me) else FIELD_MODULUS - 1)
    return combine(points, weights, k)


def attribute(
    roster: Mapping[str, SetupBundle],
    masked: Mapping[str, Sequence[int]],
    update_commitments: Mapping[str, G1Point],
    weights: Mapping[str, int],
    k: G1Point,
    commit: Committer,
    keys: Mapping[str, bytes],
    evidence: Sequence[PairEvidence] = (),
) -> list[Finding]:
    """Every hospital the public data shows at fault (empty: every masked input is consistent).

    Raises:
        SecAggAttributionError: a piece of evidence proves nothing (its publisher is then the one at fault).
    """
    findings = []
    corrected: dict[tuple[str, str], G1Point] = {}
    for ev in evidence:
        true = _true_pair_commitment(ev, roster, keys, commit)
        if true != point_of(roster[ev.lower].pair(ev.higher).mask_commitment):
            corrected[(ev.lower, ev.higher)] = true
            detail = f"its C(p) for the pair with {ev.higher} is not the mask its KEM ciphertext gives"
            findings.append(Finding(ev.lower, "pair-commitment", detail))
    for i, y in sorted(masked.items()):
        expected = combine([update_commitments[i], mask_commitment(i, roster, k, corrected)], [weights[i], 1], k)
        if commit(y) != expected:
            findings.append(Finding(i, "masked-input", f"its masked input does not open {weights[i]} C(u_i) + C(m_i)"))
    return findings


def verify_sum(total: Sequence[int], update_commitments: Sequence[G1Point], weights: Sequence[int], k: G1Point,
               commit: Committer) -> bool:  # fmt: skip
    """Whether the unmasked ``S`` opens ``sum n_i C(u_i) - (N - 1) K``, computed from the chain's commitments."""
    return commit([v % FIELD_MODULUS for v in total]) == combine(update_commitments, list(weights), k)
