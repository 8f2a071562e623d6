"""The unmasking phase: who reveals which share, and the exact sum rebuilt from the reveals.

The chain fixes two sets (``SecAggCoordinator``): the roster ``U1`` (setup bundles recorded before the setup phase
closed) and the submitters ``U2`` (roster members with a submission in RoundManager's round). For every dealer
``i`` in the roster a responder reveals

- its share of ``i``'s self-mask seed iff ``i`` submitted, and
- its share of the message of pair ``(i, j)`` (``i`` the lower address) iff exactly one of ``i``, ``j`` submitted:

so for a submitted hospital the self mask is revealed and none of its pairs with other submitters ever is
(:func:`check_revealable`, the same rule the contract enforces with a typed revert). Calling a submitter "dropped"
is impossible: ``U2`` is read from the chain, not from the aggregator.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from zkfl_dapp.exceptions import SecAggAttributionError, SecAggError, SecAggRevealRefused, SecAggThresholdError
from zkfl_dapp.secagg.bundle import SELF, Committer, SetupBundle, open_shares, point_of
from zkfl_dapp.secagg.field import FieldVector, add, decode, expand, sub
from zkfl_dapp.secagg.pairwise import address_int, encapsulate, pair_seed
from zkfl_dapp.secagg.shares import Share, combine_shares, share_digest

__all__ = ["Reveal", "Unmasked", "check_revealable", "pack_reveals", "responses", "unmask", "unpack_reveals"]

#: Bytes of one packed reveal (``SecAggCoordinator.REVEAL_BYTES``): dealer (20) || partner (20) || share (32).
REVEAL_BYTES = 72


@dataclass(frozen=True)
class Reveal:
    """``responder``'s share of a secret of ``dealer``: its self-mask seed (``partner == dealer``) or the message of
    the pair ``(dealer, partner)`` (``dealer`` the lower address)."""

    responder: str
    dealer: str
    partner: str
    share: bytes

    @property
    def is_self(self) -> bool:
        return self.partner == self.dealer


def pack_reveals(reveals: Sequence[Reveal]) -> bytes:
    """The ``reveals`` argument of ``SecAggCoordinator.reveal`` (and the data of its ``SharesRevealed`` event)."""
    return b"".join(bytes.fromhex(r.dealer[2:]) + bytes.fromhex(r.partner[2:]) + r.share for r in reveals)


def unpack_reveals(responder: str, data: bytes) -> list[Reveal]:
    """The reveals of one ``SharesRevealed`` event.

    Raises:
        SecAggError: not a whole number of entries.
    """
    if len(data) % REVEAL_BYTES:
        raise SecAggError(f"packed reveals are {REVEAL_BYTES}-byte entries, got {len(data)} bytes")
    return [
        Reveal(
            responder.lower(), "0x" + data[k : k + 20].hex(), "0x" + data[k + 20 : k + 40].hex(), data[k + 40 : k + 72]
        )
        for k in range(0, len(data), REVEAL_BYTES)
    ]


def check_revealable(dealer: str, partner: str, submitted: Collection[str]) -> None:
    """Raise unless the protocol allows revealing this secret given the chain's submitters.

    Raises:
        SecAggRevealRefused: a self-mask share of a hospital that did not submit, or a pair share of two submitters
            (or of two hospitals that both dropped: nobody needs it), or a pair named by its higher address.
    """
    if dealer == partner:
        if dealer not in submitted:
            raise SecAggRevealRefused(f"{dealer} did not submit: its self mask is never revealed")
        return
    if address_int(dealer) >= address_int(partner):
        raise SecAggRevealRefused(f"the pair ({dealer}, {partner}) is held by its lower address, {partner}")
    if (dealer in submitted) == (partner in submitted):
        both = "both submitted" if dealer in submitted else "both dropped"
        raise SecAggRevealRefused(f"the pair ({dealer}, {partner}) is never revealed: {both}")


def responses(
    responder: str, private_seed: bytes, roster: Mapping[str, SetupBundle], submitted: Collection[str]
) -> list[Reveal]:
    """Everything ``responder`` reveals: per roster dealer, the shares the rule of :func:`check_revealable` allows."""
    out = []
    for dealer, bundle in roster.items():
        shares = open_shares(bundle, responder, private_seed)
        if dealer in submitted:
            out.append(Reveal(responder, dealer, dealer, shares[SELF].value))
        for p in bundle.pairs:
            if p.partner in roster and (dealer in submitted) != (p.partner in submitted):
                out.append(Reveal(responder, dealer, p.partner, shares[p.partner].value))
    return out


@dataclass(frozen=True)
class Unmasked:
    """The exact sum ``S = sum_{i in U2} n_i u_i`` (signed integers) and the responders whose reveals did not match
    their dealers' published share digests (each such reveal is public evidence against its responder)."""

    total: tuple[int, ...]
    faulty_responders: tuple[str, ...]


def _session(roster: Mapping[str, SetupBundle]) -> tuple[int, int, str, int]:
    sessions = {(b.round_id, b.threshold, b.purpose, b.length) for b in roster.values()}
    if len(sessions) != 1:
        raise SecAggError(f"the roster's bundles disagree on round, threshold, purpose or length: {sorted(sessions)}")
    return sessions.pop()


def unmask(
    roster: Mapping[str, SetupBundle],
    masked: Mapping[str, Sequence[int]],
    reveals: Sequence[Reveal],
    keys: Mapping[str, bytes],
    commit: Committer | None = None,
) -> Unmasked:
    """Rebuild ``S`` from the submitters' masked inputs (``masked``: U2 -> y_i) and the responders' reveals.

    Every revealed share is checked against its dealer's digest (mismatching ones are set aside and their
    responders named); each rebuilt pair message must re-encapsulate to the bundle's KEM ciphertext under the
    partner's registered key, and, with ``commit``, each rebuilt self mask must open the bundle's ``C(b_i)``.

    Raises:
        SecAggRevealRefused: a reveal the protocol forbids (the contract refuses it too).
        SecAggThresholdError: fewer than ``t`` submitters, or fewer than ``t`` valid shares of a needed secret.
        SecAggAttributionError: valid shares rebuild a secret that does not match the dealer's commitment.
        SecAggError: inconsistent inputs.
    """
    round_id, threshold, purpose, length = _session(roster)
    submitted = set(masked)
    if not submitted <= set(roster):
        raise SecAggError(f"submitters {sorted(submitted - set(roster))} are not on the roster")
    if len(submitted) < threshold:
        raise SecAggThresholdError(f"{len(submitted)} submitters: unmasking needs at least t = {threshold}")
    shares: dict[tuple[str, str], list[Share]] = {}
    faulty: set[str] = set()
    for r in reveals:
        check_revealable(r.dealer, r.partner, submitted)
        bundle = roster[r.dealer]
        record = bundle.holder(r.responder)
        share = Share(record.index, r.share)
        sid = SELF if r.is_self else r.partner
        if share_digest(round_id, r.dealer, r.responder, sid, share) != record.digests[sid]:
            faulty.add(r.responder)
            continue
        shares.setdefault((r.dealer, r.partner), []).append(share)

    def rebuild(dealer: str, partner: str) -> bytes:
        got = shares.get((dealer, partner), [])
        what = f"{dealer}'s self mask" if dealer == partner else f"the pair ({dealer}, {partner})"
        try:
            return combine_shares(got, threshold)
        except SecAggThresholdError:
            raise SecAggThresholdError(
                f"{len(got)} valid shares of {what}: unmasking needs t = {threshold}; the round cannot be unmasked"
            ) from None

    total: FieldVector = (0,) * length
    for y in masked.values():
        total = add(total, tuple(y))
    for i in sorted(submitted):
        b = expand(rebuild(i, i), purpose, length)
        if commit is not None and commit(b) != point_of(roster[i].self_commitment):
            raise SecAggAttributionError(f"{i}'s valid shares rebuild a self mask that does not open its C(b_i)")
        total = sub(total, b)
    for lo in roster:
        for pair in roster[lo].pairs:
            hi = pair.partner
            if hi not in roster or (lo in submitted) == (hi in submitted):
                continue
            shared, ciphertext = encapsulate(keys[hi], rebuild(lo, hi))
            if ciphertext.hex() != pair.kem_ciphertext:
                raise SecAggAttributionError(f"{lo}'s valid shares of the pair with {hi} do not give its ciphertext")
            p = expand(pair_seed(shared, round_id, lo, hi), purpose, length)
            total = sub(total, p) if lo in submitted else add(total, p)
    return Unmasked(decode(total), tuple(sorted(faulty)))
