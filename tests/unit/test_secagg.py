"""Secure aggregation's core (zkfl_dapp.secagg): exact unmasking under every dropout pattern of 5 hospitals at
t = 3, the reveal rule (the dropped-hospital attack), uniform masked inputs and a transcript whose shape does not
depend on the update, attribution of cheaters from public data, and the masked standardisation sums."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from scipy.stats import chisquare

from tests.kzg_fixtures import basis, kzg_norm, zero  # noqa: F401  (fixtures)
from zkfl_dapp.circuits.kzg import commit
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.exceptions import SecAggAttributionError, SecAggRevealRefused, SecAggThresholdError
from zkfl_dapp.ml.statistics import SufficientStatistics, combined_mean_std
from zkfl_dapp.secagg import FIELD_MODULUS, combine_shares, expand, split_secret
from zkfl_dapp.secagg.attribution import PairEvidence, attribute, pair_evidence, verify_sum
from zkfl_dapp.secagg.bundle import build_setup, point_hex
from zkfl_dapp.secagg.masking import mask_input, pair_seeds, total_mask
from zkfl_dapp.secagg.statistics import STATS_PURPOSE, mask_statistics, statistics_of_total
from zkfl_dapp.secagg.unmask import Reveal, responses, unmask

T = 3
LENGTH = 41  # 31 model rows + 10 pad rows: the suite's d = 31 vector
ROUND = 7
ADDRS = sorted((f"0x{random.Random(i).getrandbits(160):040x}" for i in range(5)), key=lambda a: int(a, 16))


@pytest.fixture(scope="module")
def kps():
    return {a: EnclaveKeyPair.generate() for a in ADDRS}


@pytest.fixture(scope="module")
def keys(kps):
    return {a: kp.public_key for a, kp in kps.items()}


@pytest.fixture(scope="module")
def cm(basis):  # noqa: F811
    return lambda v: commit(v, basis)[0]


@pytest.fixture(scope="module")
def setups(keys, cm):
    """Every hospital's bundle and secrets: the holders are all five (keys registered before the round opened)."""
    return {a: build_setup(ROUND, "model", a, T, LENGTH, keys, cm) for a in ADDRS}


def _update(seed):
    rng = random.Random(seed)
    return [rng.randint(-(2**13), 2**13) for _ in range(LENGTH)]


UPDATES = {a: _update(k) for k, a in enumerate(ADDRS)}
COUNTS = {a: 17 + 31 * k for k, a in enumerate(ADDRS)}


def _masked(a, roster, setups, kps, keys, update=None, count=None):
    secrets = setups[a][1]
    seeds = pair_seeds(ROUND, a, kps[a].private_key, secrets, roster, keys)
    return mask_input(
        update or UPDATES[a], count or COUNTS[a], total_mask(a, secrets.self_seed, seeds, "model", LENGTH)
    )


def _round(roster_set, submitters, responders, setups, kps, keys):
    roster = {a: setups[a][0] for a in ADDRS if a in roster_set}
    masked = {a: _masked(a, roster, setups, kps, keys) for a in submitters}
    reveals = [r for a in responders for r in responses(a, kps[a].private_key, roster, set(submitters))]
    return roster, masked, reveals


def _patterns():
    """Roster R (>= t set up; the others dropped before setup), submitters U2 within R (>= t; the rest of R dropped
    after setup), responders: t members of R, rotating so that dropped and non-responding submitters both occur."""
    for r in range(T, 6):
        for roster in itertools.combinations(ADDRS, r):
            for u in range(T, r + 1):
                for k, subs in enumerate(itertools.combinations(roster, u)):
                    rot = k % r
                    yield roster, subs, (roster[rot:] + roster[:rot])[:T]


PATTERNS = list(_patterns())


def test_unmask_isExact_underEveryDropoutPattern(setups, kps, keys, cm, zero):  # noqa: F811
    assert len(PATTERNS) == 51
    for roster_set, subs, resp in PATTERNS:
        roster, masked, reveals = _round(roster_set, subs, resp, setups, kps, keys)
        result = unmask(roster, masked, reveals, keys, cm)
        expected = tuple(sum(COUNTS[a] * UPDATES[a][j] for a in subs) for j in range(LENGTH))
        assert result.total == expected, (roster_set, subs, resp)
        commitments = [cm(UPDATES[a]) for a in subs]
        assert verify_sum(result.total, commitments, [COUNTS[a] for a in subs], zero, cm)
    off_by_one = (result.total[0] + 1, *result.total[1:])
    assert not verify_sum(off_by_one, commitments, [COUNTS[a] for a in subs], zero, cm)


def test_unmask_failsCleanly_belowTResponders_orBelowTSubmitters(setups, kps, keys, cm):
    roster, masked, reveals = _round(ADDRS, ADDRS[:4], ADDRS[:2], setups, kps, keys)
    with pytest.raises(SecAggThresholdError, match="2 valid shares .* unmasking needs t = 3"):
        unmask(roster, masked, reveals, keys, cm)
    roster, masked, reveals = _round(ADDRS, ADDRS[:2], ADDRS, setups, kps, keys)
    with pytest.raises(SecAggThresholdError, match="2 submitters"):
        unmask(roster, masked, reveals, keys, cm)


def test_theDroppedHospitalAttack_isRefused_andWouldUnmaskTheInput(setups, kps, keys):
    """An aggregator that calls submitter 0 "dropped" asks for its pair shares on top of its self-mask shares. The rule
    refuses; without it, t colluding shares of both would give u_0 in the clear (which is why the rule exists)."""
    roster, masked, reveals = _round(ADDRS, ADDRS, ADDRS[:3], setups, kps, keys)
    victim = ADDRS[0]  # the lowest address: it holds all its pairs
    attack = [
        Reveal(r, victim, j, responses_share) for r in ADDRS[2:5] for j, responses_share in [(ADDRS[1], b"\0" * 32)]
    ]
    with pytest.raises(SecAggRevealRefused, match="both submitted"):
        unmask(roster, masked, reveals + attack, keys)
    with pytest.raises(SecAggRevealRefused, match="self mask is never revealed"):
        unmask(roster, {a: masked[a] for a in ADDRS[1:]}, [Reveal(ADDRS[2], victim, victim, b"\0" * 32)], keys)
    # what the rule prevents: with t shares of the self seed and of every pair message, u_0 comes out
    from zkfl_dapp.secagg.bundle import SELF, open_shares
    from zkfl_dapp.secagg.pairwise import encapsulate, pair_seed

    held = [open_shares(setups[victim][0], h, kps[h].private_key) for h in ADDRS[2:5]]
    y = masked[victim]
    y = tuple(
        (v - b) % FIELD_MODULUS
        for v, b in zip(y, expand(combine_shares([s[SELF] for s in held], T), "model", LENGTH), strict=True)
    )
    for j in ADDRS[1:]:
        shared, _ = encapsulate(keys[j], combine_shares([s[j] for s in held], T))
        p = expand(pair_seed(shared, ROUND, victim, j), "model", LENGTH)
        y = tuple((v - q) % FIELD_MODULUS for v, q in zip(y, p, strict=True))
    assert [v if v < FIELD_MODULUS // 2 else v - FIELD_MODULUS for v in y] == [
        COUNTS[victim] * u for u in UPDATES[victim]
    ]


def _uniform_p(values) -> float:
    buckets = np.bincount([v * 16 // FIELD_MODULUS for v in values], minlength=16)
    return float(chisquare(buckets).pvalue)


def test_anHonestMaskedInput_isUniform_andTheTranscriptsShapeDoesNotDependOnTheUpdate(keys, kps, cm):
    """Over 25 sessions, hospital 0's masked inputs for update A and for update B are each uniform in the field (16
    buckets, chi-square), and everything the aggregator receives has the same structure either way."""
    values = {"A": [], "B": []}
    shapes = {"A": set(), "B": set()}
    other = _update(99)
    for s in range(25):
        rng = random.Random(s)
        for label, update in (("A", UPDATES[ADDRS[0]]), ("B", other)):
            sessions = {a: build_setup(ROUND, "model", a, T, LENGTH, keys, cm, randbytes=rng.randbytes) for a in ADDRS}
            roster = {a: sessions[a][0] for a in ADDRS}
            y = _masked(ADDRS[0], roster, sessions, kps, keys, update=update)
            values[label] += list(y)
            reveals = [r for a in ADDRS[:3] for r in responses(a, kps[a].private_key, roster, set(ADDRS[:4]))]
            shapes[label].add((
                tuple(len(roster[a].to_bytes()) for a in ADDRS), len(y),
                tuple(sorted((r.responder, r.dealer, r.partner, len(r.share)) for r in reveals)),
            ))  # fmt: skip
    assert _uniform_p(values["A"]) > 1e-3 and _uniform_p(values["B"]) > 1e-3
    assert shapes["A"] == shapes["B"] and len(shapes["A"]) == 1
    # the check has teeth: the unmasked weighted update is nowhere near uniform
    assert _uniform_p([(COUNTS[ADDRS[0]] * u) % FIELD_MODULUS for u in UPDATES[ADDRS[0]] * 25]) < 1e-6


def test_shamir_anyTSharesRebuild_fewerRaise():
    secret = bytes(range(32))
    shares = split_secret(secret, T, 5)
    for subset in itertools.combinations(shares, T):
        assert combine_shares(subset, T) == secret
    with pytest.raises(SecAggThresholdError):
        combine_shares(shares[:2], T)


def test_expand_isDomainSeparated_byPurposeAndLength():
    seed = b"\x07" * 32
    assert expand(seed, "model", 5) != expand(seed, "stats", 5)
    assert expand(seed, "model", 3) != expand(seed, "model", 5)[:3]
    assert all(0 <= v < FIELD_MODULUS for v in expand(seed, "model", 64))


def test_attribution_namesTheHospitalWhoseInputDoesNotOpenItsCommitment(setups, kps, keys, cm, zero):  # noqa: F811
    roster = {a: setups[a][0] for a in ADDRS}
    masked = {a: _masked(a, roster, setups, kps, keys) for a in ADDRS}
    commitments = {a: cm(UPDATES[a]) for a in ADDRS}
    assert attribute(roster, masked, commitments, COUNTS, zero, cm, keys) == []
    cheat = ADDRS[2]
    masked[cheat] = _masked(cheat, roster, setups, kps, keys, update=_update(55))  # not the committed update
    findings = attribute(roster, masked, commitments, COUNTS, zero, cm, keys)
    assert [(f.hospital, f.reason) for f in findings] == [(cheat, "masked-input")]


def test_attribution_aWrongPairCommitment_isPinnedOnTheLowerParty_byThePartnersKemEvidence(
    setups,
    kps,
    keys,
    cm,
    zero,  # noqa: F811
):
    lo, hi = ADDRS[0], ADDRS[3]
    bundle = setups[lo][0]
    pairs = tuple(p.model_copy(update={"mask_commitment": point_hex(cm([1] * LENGTH))}) if p.partner == hi else p
                  for p in bundle.pairs)  # fmt: skip
    roster = {a: setups[a][0] for a in ADDRS} | {lo: bundle.model_copy(update={"pairs": pairs})}
    masked = {a: _masked(a, roster, setups, kps, keys) for a in ADDRS}
    commitments = {a: cm(UPDATES[a]) for a in ADDRS}
    blamed = {f.hospital for f in attribute(roster, masked, commitments, COUNTS, zero, cm, keys)}
    assert blamed == {lo, hi}  # without evidence the honest partner's check fails too
    evidence = pair_evidence(hi, kps[hi].private_key, roster[lo])
    findings = attribute(roster, masked, commitments, COUNTS, zero, cm, keys, [evidence])
    # the partner is cleared; the lower party masked with the true p, so only its commitment is at fault
    assert [(f.hospital, f.reason) for f in findings] == [(lo, "pair-commitment")]
    forged = PairEvidence(lo, hi, b"\x01" * 32)
    with pytest.raises(SecAggAttributionError, match="proves nothing"):
        attribute(roster, masked, commitments, COUNTS, zero, cm, keys, [forged])


def test_aResponderRevealingAWrongShare_isNamed_andTheSumStaysExact(setups, kps, keys, cm):
    roster, masked, reveals = _round(ADDRS, ADDRS[:4], ADDRS[:4], setups, kps, keys)
    liar = ADDRS[1]
    reveals = [Reveal(r.responder, r.dealer, r.partner, bytes(32)) if r.responder == liar else r for r in reveals]
    result = unmask(roster, masked, reveals, keys, cm)
    assert result.faulty_responders == (liar,)
    assert result.total == tuple(sum(COUNTS[a] * UPDATES[a][j] for a in ADDRS[:4]) for j in range(LENGTH))


def test_maskedStatistics_giveExactlyTheTotals_andTheSameMeanAndStd(keys, kps, cm):
    rng = np.random.default_rng(3)
    parts = {a: SufficientStatistics.of(rng.normal(50, 10, size=(5 + k, 4))) for k, a in enumerate(ADDRS)}
    sessions = {a: build_setup(1, STATS_PURPOSE, a, T, 9, keys, cm) for a in ADDRS}
    roster = {a: sessions[a][0] for a in ADDRS}
    masked = {}
    for a in ADDRS:
        seeds = pair_seeds(1, a, kps[a].private_key, sessions[a][1], roster, keys)
        masked[a] = mask_statistics(parts[a], a, sessions[a][1].self_seed, seeds)
    reveals = [r for a in ADDRS[:3] for r in responses(a, kps[a].private_key, roster, set(ADDRS))]
    total = statistics_of_total(unmask(roster, masked, reveals, keys, cm).total)
    n, mean, std = combined_mean_std([total])
    n0, mean0, std0 = combined_mean_std(list(parts.values()))
    assert n == n0 and np.allclose(mean, mean0, rtol=1e-12) and np.allclose(std, std0, rtol=1e-9)


def test_unmask_pinsSharesThatRebuildAnotherSecret_onTheDealer(setups, kps, keys, cm):
    """Shares that all match their digests but rebuild a seed that does not open the dealer's C(b_i), or a pair
    message that does not re-encapsulate to its KEM ciphertext, are the dealer's fault."""
    roster, masked, reveals = _round(ADDRS, ADDRS[:4], ADDRS[:3], setups, kps, keys)
    dealer = ADDRS[1]
    wrong_self = roster | {dealer: roster[dealer].model_copy(update={"self_commitment": point_hex(cm([2] * LENGTH))})}
    with pytest.raises(SecAggAttributionError, match=f"{dealer}'s valid shares rebuild a self mask"):
        unmask(wrong_self, masked, reveals, keys, cm)
    pairs = tuple(p.model_copy(update={"kem_ciphertext": "00" * 1088}) if p.partner == ADDRS[4] else p
                  for p in roster[dealer].pairs)  # fmt: skip
    wrong_pair = roster | {dealer: roster[dealer].model_copy(update={"pairs": pairs})}
    with pytest.raises(SecAggAttributionError, match="do not give its ciphertext"):
        unmask(wrong_pair, masked, reveals, keys, cm)


def test_bundles_andShares_areCheckedWhenRead(setups, kps):
    from zkfl_dapp.exceptions import SecAggError
    from zkfl_dapp.secagg.bundle import SetupBundle, open_shares

    bundle = setups[ADDRS[0]][0]
    assert SetupBundle.parse(bundle.to_bytes()) == bundle
    bundle.check_session(ROUND, T, ADDRS)
    with pytest.raises(SecAggError, match="not round 8 at t = 3"):
        bundle.check_session(ROUND + 1, T, ADDRS)
    with pytest.raises(SecAggError, match="must deal to every hospital keyed"):
        bundle.check_session(ROUND, T, [*ADDRS, "0x" + "ab" * 20])
    with pytest.raises(SecAggError, match="one pair per higher holder"):
        SetupBundle.parse(bundle.model_copy(update={"pairs": bundle.pairs[1:]}).to_bytes())
    holders = tuple(
        h.model_copy(update={"digests": {**h.digests, "self": "0" * 64}}) if h.holder == ADDRS[2] else h
        for h in bundle.holders
    )
    with pytest.raises(SecAggError, match="does not match its published digest"):
        open_shares(bundle.model_copy(update={"holders": holders}), ADDRS[2], kps[ADDRS[2]].private_key)


def test_maskedInputFile_isReadOnlyForItsRoundHospitalAndLength():
    from zkfl_dapp.exceptions import SecAggError
    from zkfl_dapp.secagg.masking import MaskedInputFile

    file = MaskedInputFile(round_id=ROUND, hospital=ADDRS[0], values=(1, 2, FIELD_MODULUS - 1))
    assert MaskedInputFile.parse(file.to_bytes(), round_id=ROUND, hospital=ADDRS[0], length=3) == file
    for kwargs in ({"round_id": ROUND + 1}, {"hospital": ADDRS[1]}, {"length": 4}):
        with pytest.raises(SecAggError, match="expected"):
            MaskedInputFile.parse(file.to_bytes(), **{"round_id": ROUND, "hospital": ADDRS[0], "length": 3, **kwargs})
    too_big = file.to_bytes().replace(str(FIELD_MODULUS - 1).encode(), str(FIELD_MODULUS).encode())
    with pytest.raises(SecAggError, match="malformed at values"):
        MaskedInputFile.parse(too_big, round_id=ROUND, hospital=ADDRS[0], length=3)
