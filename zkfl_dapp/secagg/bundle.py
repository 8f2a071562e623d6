"""A hospital's setup bundle for one secure-aggregation session (a round), and the secrets it keeps.

Posted to the content store before masking; the contract records its SHA-256 and CID
(``SecAggCoordinator.postSetup``). It holds, for dealer ``i``:

- ``self_commitment``: ``C(b_i)``, the KZG commitment of its self mask (the seed stays secret);
- per higher holder ``j`` (``i < j`` as addresses): the KEM ciphertext ``c_ij`` whose shared secret gives the
  pair's mask, and ``C(p_ij)``, the commitment of that pairwise mask (:mod:`.pairwise`);
- per holder ``h`` (every hospital the round's roster may contain, ``i`` included): an ML-KEM-768 envelope
  (``zkfl_dapp.crypto.envelope``) to ``h``'s registered key holding ``h``'s Shamir shares of the self-mask seed and
  of every pair message, and the SHA-256 digest of each of those shares (:func:`.shares.share_digest`).

With the commitments anyone derives ``C(m_i)`` of a hospital's total mask for any roster, so a masked input is
checkable against the chain without any further message (:mod:`.attribution`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.crypto.envelope import open_sealed, seal
from zkfl_dapp.exceptions import CryptoError, SecAggError
from zkfl_dapp.secagg.field import SEED_SIZE, expand
from zkfl_dapp.secagg.pairwise import address_int, encapsulate, pair_seed
from zkfl_dapp.secagg.shares import Share, share_digest, split_secret

__all__ = ["SELF", "Committer", "DealerSecrets", "HolderRecord", "PairRecord", "SetupBundle", "build_setup"]

#: The secret id of the self-mask seed; a pair's secret id is the higher partner's address (lower case).
SELF = "self"
_AD_DOMAIN = b"zkfl-dapp/secagg/shares/v1"
_MAX_BUNDLE_BYTES = 8 << 20

Committer = Callable[[Sequence[int]], G1Point]
"""``C(v)`` of a field vector in the consortium's pinned basis (e.g. ``lambda v: kzg.commit(v, basis)[0]``)."""

Address = Annotated[str, Field(pattern=r"^0x[0-9a-f]{40}$")]
Hex = Annotated[str, Field(pattern=r"^([0-9a-f]{2})*$")]
Point = Annotated[str, Field(pattern=r"^[0-9a-f]{128}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class PairRecord(_Strict):
    partner: Address
    kem_ciphertext: Hex
    mask_commitment: Point


class HolderRecord(_Strict):
    holder: Address
    index: Annotated[int, Field(ge=1, le=255)]
    envelope: Hex
    #: secret id -> hex SHA-256 of this holder's share of it
    digests: dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]]


class SetupBundle(_Strict):
    format: Literal["zkfl-secagg-setup/v1"] = "zkfl-secagg-setup/v1"
    round_id: Annotated[int, Field(ge=0)]
    purpose: Annotated[str, Field(pattern=r"^[a-z]{1,16}$")]
    dealer: Address
    threshold: Annotated[int, Field(ge=2, le=255)]
    length: Annotated[int, Field(ge=1)]
    self_commitment: Point
    pairs: tuple[PairRecord, ...]
    holders: tuple[HolderRecord, ...]

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> bytes:
        """SHA-256 of the canonical bytes: the ``bundleHash`` the contract records."""
        return hashlib.sha256(self.to_bytes()).digest()

    @classmethod
    def parse(cls, data: bytes) -> SetupBundle:
        """Parse and check the bundle's internal consistency (see :meth:`check`).

        Raises:
            SecAggError: malformed, or inconsistent.
        """
        if not isinstance(data, bytes) or len(data) > _MAX_BUNDLE_BYTES:
            raise SecAggError(f"a setup bundle is bytes of at most {_MAX_BUNDLE_BYTES}")
        try:
            bundle = cls.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise SecAggError(f"setup bundle malformed at {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        bundle.check()
        return bundle

    def check(self) -> None:
        """Holders with distinct indices 1..n including the dealer, one pair per higher holder, and a digest per
        holder for exactly the self seed and each pair.

        Raises:
            SecAggError: naming what is wrong.
        """
        holders = [h.holder for h in self.holders]
        if len(set(holders)) != len(holders) or self.dealer not in holders:
            raise SecAggError(f"bundle of {self.dealer}: holders must be distinct and include the dealer")
        if sorted(h.index for h in self.holders) != list(range(1, len(holders) + 1)):
            raise SecAggError(f"bundle of {self.dealer}: holder indices must be 1..{len(holders)}")
        if not self.threshold <= len(holders):
            raise SecAggError(f"bundle of {self.dealer}: threshold {self.threshold} above {len(holders)} holders")
        higher = sorted((h for h in holders if address_int(h) > address_int(self.dealer)), key=address_int)
        if [p.partner for p in self.pairs] != higher:
            raise SecAggError(f"bundle of {self.dealer}: one pair per higher holder, in address order")
        ids = {SELF, *higher}
        for h in self.holders:
            if set(h.digests) != ids:
                raise SecAggError(f"bundle of {self.dealer}: holder {h.holder} lacks or has extra share digests")

    def check_session(self, round_id: int, threshold: int, holders: Collection[str]) -> None:
        """That the bundle is for this round, with the contract's threshold, dealt to exactly ``holders``: the
        hospitals whose keys the coordinator recorded before the round opened (``SecAggKeyRegistered`` events in
        earlier blocks, ``keyOf``). Every hospital checks every roster bundle before masking.

        Raises:
            SecAggError: naming the difference.
        """
        if self.round_id != round_id or self.threshold != threshold:
            raise SecAggError(
                f"bundle of {self.dealer} is for round {self.round_id} at t = {self.threshold}, "
                f"not round {round_id} at t = {threshold}"
            )
        dealt, expected = {h.holder for h in self.holders}, {a.lower() for a in holders}
        if dealt != expected:
            raise SecAggError(
                f"bundle of {self.dealer} deals to {sorted(dealt - expected)} but not to {sorted(expected - dealt)}: "
                "it must deal to every hospital keyed before the round opened"
            )

    def holder(self, address: str) -> HolderRecord:
        for h in self.holders:
            if h.holder == address.lower():
                return h
        raise SecAggError(f"{address} holds no shares in the bundle of {self.dealer}")

    def pair(self, partner: str) -> PairRecord:
        for p in self.pairs:
            if p.partner == partner.lower():
                return p
        raise SecAggError(f"the bundle of {self.dealer} has no pair with {partner}")


def point_hex(p: G1Point) -> str:
    return p.to_bytes().hex()


def point_of(text: str) -> G1Point:
    return G1Point.from_bytes(bytes.fromhex(text))


def share_ad(round_id: int, purpose: str, dealer: str, holder: str) -> bytes:
    """Associated data of the envelope carrying ``holder``'s shares from ``dealer``."""
    tag = purpose.encode()
    return (
        _AD_DOMAIN + round_id.to_bytes(32, "big") + len(tag).to_bytes(1, "big") + tag
        + bytes.fromhex(dealer[2:]) + bytes.fromhex(holder[2:])
    )  # fmt: skip


@dataclass(frozen=True)
class DealerSecrets:
    """What a hospital keeps from its own setup (never published): its self-mask seed and, per higher partner,
    the KEM message of the pair."""

    self_seed: bytes = field(repr=False)
    pair_messages: Mapping[str, bytes] = field(repr=False)


def build_setup(
    round_id: int,
    purpose: str,
    dealer: str,
    threshold: int,
    length: int,
    holder_keys: Mapping[str, bytes],
    commit: Committer,
    *,
    randbytes: Callable[[int], bytes] = os.urandom,
) -> tuple[SetupBundle, DealerSecrets]:
    """Draw the dealer's secrets for one session and build its bundle.

    ``holder_keys``: every holder's registered ML-KEM-768 encapsulation key, the dealer's own included.
    ``randbytes``: the CSPRNG (``os.urandom``; a seeded one only in tests).

    Raises:
        SecAggError: bad parameters; CryptoError: an invalid key.
    """
    dealer = dealer.lower()
    keys = {a.lower(): k for a, k in holder_keys.items()}
    if dealer not in keys:
        raise SecAggError(f"the dealer {dealer} must be one of the holders")
    holders = sorted(keys, key=address_int)
    self_seed = randbytes(SEED_SIZE)
    messages = {j: randbytes(SEED_SIZE) for j in holders if address_int(j) > address_int(dealer)}
    pairs = []
    for j, m in messages.items():
        shared, ciphertext = encapsulate(keys[j], m)
        mask = expand(pair_seed(shared, round_id, dealer, j), purpose, length)
        pairs.append(PairRecord(partner=j, kem_ciphertext=ciphertext.hex(), mask_commitment=point_hex(commit(mask))))
    secrets = {SELF: self_seed, **messages}
    dealt = {sid: split_secret(s, threshold, len(holders)) for sid, s in secrets.items()}
    records = []
    for pos, h in enumerate(holders):
        mine = {sid: shares[pos] for sid, shares in dealt.items()}
        plaintext = json.dumps({sid: s.value.hex() for sid, s in mine.items()}, sort_keys=True).encode()
        envelope = seal(keys[h], plaintext, share_ad(round_id, purpose, dealer, h))
        digests = {sid: share_digest(round_id, dealer, h, sid, s) for sid, s in mine.items()}
        records.append(HolderRecord(holder=h, index=pos + 1, envelope=envelope.hex(), digests=digests))
    bundle = SetupBundle(
        round_id=round_id,
        purpose=purpose,
        dealer=dealer,
        threshold=threshold,
        length=length,
        self_commitment=point_hex(commit(expand(self_seed, purpose, length))),
        pairs=tuple(pairs),
        holders=tuple(records),
    )
    bundle.check()
    return bundle, DealerSecrets(self_seed, messages)


def open_shares(bundle: SetupBundle, holder: str, private_seed: bytes) -> dict[str, Share]:
    """``holder``'s shares from ``bundle``, decrypted with its ML-KEM seed and checked against their digests.

    Raises:
        SecAggError: the envelope does not open, or a share does not match its published digest (the dealer's
            fault; the holder can prove it with the envelope's KEM message, ``crypto.evidence.kem_message``).
    """
    record = bundle.holder(holder)
    ad = share_ad(bundle.round_id, bundle.purpose, bundle.dealer, record.holder)
    try:
        plain = json.loads(open_sealed(private_seed, bytes.fromhex(record.envelope), ad))
        shares = {sid: Share(record.index, bytes.fromhex(v)) for sid, v in plain.items()}
    except (CryptoError, ValueError, TypeError, AttributeError) as exc:
        raise SecAggError(f"{holder}'s shares from {bundle.dealer} do not open: {exc}") from exc
    if set(shares) != set(record.digests):
        raise SecAggError(f"{holder}'s envelope from {bundle.dealer} holds other secrets than its digests name")
    for sid, s in shares.items():
        if share_digest(bundle.round_id, bundle.dealer, record.holder, sid, s) != record.digests[sid]:
            raise SecAggError(f"{holder}'s share of {sid} from {bundle.dealer} does not match its published digest")
    return shares
