"""ConsortiumRegistry's attested enclave key: evidence kinds, the member-majority measurement allowlist, and the
key lock while a round is open (docs/auditors.md, "Attestation")."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import open_round
from zkfl_dapp.attestation.evidence import EvidenceKind
from zkfl_dapp.chain.enums import Role

KEY_HASH = b"\x11" * 32
KEY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
EVIDENCE_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
MEASUREMENT = b"\x22" * 32
NITRO = int(EvidenceKind.AWS_NITRO)
DEV = int(EvidenceKind.DEVELOPMENT)


def _allow(reg, hospitals, measurement=MEASUREMENT, n=3):
    for h in hospitals[:n]:
        reg.approveMeasurement(measurement, sender=h)


def test_registerEnclaveKey_storesEvidenceAndEmits(deployment, aggregator, hospitals):
    reg = deployment.registry
    _allow(reg, hospitals)
    tx = reg.registerEnclaveKey(KEY_HASH, KEY_CID, NITRO, MEASUREMENT, EVIDENCE_CID, sender=aggregator)
    assert reg.enclaveKey() == (KEY_HASH, KEY_CID, MEASUREMENT)
    assert reg.enclaveEvidence() == (NITRO, EVIDENCE_CID, tx.timestamp)
    (event,) = tx.events.filter(reg.EnclaveKeyRegistered)
    assert (event.aggregator, event.keyHash, event.keyCid) == (aggregator.address, KEY_HASH, KEY_CID)
    assert (event.kind, event.measurement, event.evidenceCid) == (NITRO, MEASUREMENT, EVIDENCE_CID)


def test_registerEnclaveKey_revertsWhen_measurementNotAllowed(deployment, aggregator, hospitals):
    reg = deployment.registry
    _allow(reg, hospitals, n=2)  # 2 of 5: no majority yet
    with ape.reverts(reg.ConsortiumRegistryMeasurementNotAllowed, kind=NITRO, measurement=MEASUREMENT):
        reg.registerEnclaveKey(KEY_HASH, KEY_CID, NITRO, MEASUREMENT, EVIDENCE_CID, sender=aggregator)


def test_registerEnclaveKey_revertsWhen_notAggregator(deployment, hospitals):
    with ape.reverts(deployment.registry.ConsortiumRegistryNotAggregator, caller=hospitals[0].address):
        deployment.registry.registerEnclaveKey(KEY_HASH, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=hospitals[0])


@pytest.mark.parametrize(
    "key_hash,key_cid,evidence_cid",
    [(bytes(32), KEY_CID, EVIDENCE_CID), (KEY_HASH, "", EVIDENCE_CID), (KEY_HASH, KEY_CID, "")],
)
def test_registerEnclaveKey_revertsWhen_emptyField(deployment, admin, aggregator, key_hash, key_cid, evidence_cid):
    reg = deployment.registry
    reg.setEvidenceKindAccepted(DEV, True, sender=admin)
    with ape.reverts(reg.ConsortiumRegistryInvalidEnclaveKey):
        reg.registerEnclaveKey(key_hash, key_cid, DEV, bytes(32), evidence_cid, sender=aggregator)


def test_development_needsTheConsortiumsOptIn_andMeasurementZero(deployment, admin, aggregator):
    reg = deployment.registry
    assert not reg.isEvidenceKindAccepted(DEV) and reg.isEvidenceKindAccepted(NITRO)
    with ape.reverts(reg.ConsortiumRegistryEvidenceKindNotAccepted, kind=DEV):
        reg.registerEnclaveKey(KEY_HASH, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=aggregator)
    tx = reg.setEvidenceKindAccepted(DEV, True, sender=admin)
    (event,) = tx.events.filter(reg.EvidenceKindAccepted)
    assert event.kind == DEV and event.accepted
    with ape.reverts(reg.ConsortiumRegistryMeasurementNotAllowed, kind=DEV, measurement=MEASUREMENT):
        reg.registerEnclaveKey(KEY_HASH, KEY_CID, DEV, MEASUREMENT, EVIDENCE_CID, sender=aggregator)
    tx = reg.registerEnclaveKey(KEY_HASH, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=aggregator)
    assert reg.enclaveEvidence() == (DEV, EVIDENCE_CID, tx.timestamp)


def test_setEvidenceKindAccepted_adminOnly_neverNone(deployment, admin, aggregator, hospitals):
    reg = deployment.registry
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=hospitals[0].address):
        reg.setEvidenceKindAccepted(DEV, True, sender=hospitals[0])
    with ape.reverts(reg.ConsortiumRegistryEvidenceKindNotAccepted, kind=0):
        reg.setEvidenceKindAccepted(0, True, sender=admin)
    _allow(reg, hospitals)
    reg.setEvidenceKindAccepted(NITRO, False, sender=admin)
    with ape.reverts(reg.ConsortiumRegistryEvidenceKindNotAccepted, kind=NITRO):
        reg.registerEnclaveKey(KEY_HASH, KEY_CID, NITRO, MEASUREMENT, EVIDENCE_CID, sender=aggregator)


def test_approveMeasurement_allowsAtAMemberMajority(deployment, hospitals):
    reg = deployment.registry
    for i, h in enumerate(hospitals[:3], start=1):
        assert not reg.isMeasurementAllowed(MEASUREMENT)
        tx = reg.approveMeasurement(MEASUREMENT, sender=h)
        (approved,) = tx.events.filter(reg.MeasurementApproved)
        assert (approved.measurement, approved.hospital, approved.approvals) == (MEASUREMENT, h.address, i)
    (allowed,) = tx.events.filter(reg.MeasurementAllowed)
    assert allowed.measurement == MEASUREMENT and allowed.allowed
    assert reg.isMeasurementAllowed(MEASUREMENT) and reg.measurementApprovals(MEASUREMENT) == 3


def test_approveMeasurement_revertsWhen_notHospital_orTwice(deployment, admin, aggregator, auditor, hospitals):
    reg = deployment.registry
    for account in (admin, aggregator, auditor):
        with ape.reverts(reg.ConsortiumRegistryNotHospital, account=account.address):
            reg.approveMeasurement(MEASUREMENT, sender=account)
    reg.approveMeasurement(MEASUREMENT, sender=hospitals[0])
    with ape.reverts(reg.ConsortiumRegistryAlreadyApproved, hospital=hospitals[0].address, measurement=MEASUREMENT):
        reg.approveMeasurement(MEASUREMENT, sender=hospitals[0])


def test_approveMeasurement_countsOnlyCurrentMembers(deployment, admin, hospitals):
    reg = deployment.registry
    _allow(reg, hospitals, n=2)
    reg.removeMember(hospitals[0], sender=admin)  # 4 members, 1 current approval
    assert reg.measurementApprovals(MEASUREMENT) == 1
    reg.approveMeasurement(MEASUREMENT, sender=hospitals[2])
    assert not reg.isMeasurementAllowed(MEASUREMENT)  # 2 of 4 is no majority
    reg.approveMeasurement(MEASUREMENT, sender=hospitals[3])
    assert reg.isMeasurementAllowed(MEASUREMENT)


def test_revokeMeasurement_adminOnly_clearsApprovals(deployment, admin, aggregator, hospitals):
    reg = deployment.registry
    _allow(reg, hospitals)
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=hospitals[0].address):
        reg.revokeMeasurement(MEASUREMENT, sender=hospitals[0])
    tx = reg.revokeMeasurement(MEASUREMENT, sender=admin)
    (event,) = tx.events.filter(reg.MeasurementAllowed)
    assert event.measurement == MEASUREMENT and not event.allowed
    assert not reg.isMeasurementAllowed(MEASUREMENT) and reg.measurementApprovals(MEASUREMENT) == 0
    with ape.reverts(reg.ConsortiumRegistryMeasurementNotAllowed, kind=NITRO, measurement=MEASUREMENT):
        reg.registerEnclaveKey(KEY_HASH, KEY_CID, NITRO, MEASUREMENT, EVIDENCE_CID, sender=aggregator)
    reg.approveMeasurement(MEASUREMENT, sender=hospitals[0])  # the approvals were cleared: it may approve again


def test_setRoundManager_setOnceByDeployment(deployment, admin):
    reg = deployment.registry
    assert reg.roundManager() == deployment.round_manager.address
    with ape.reverts(reg.ConsortiumRegistryRoundManagerAlreadySet, current=deployment.round_manager.address):
        reg.setRoundManager(deployment.norm_verifier.address, sender=admin)


def test_setRoundManager_adminOnly_contractOnly(admin, outsider):
    reg = ape.project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=outsider.address):
        reg.setRoundManager(reg.address, sender=outsider)
    with ape.reverts(reg.ConsortiumRegistryNotContract, account=outsider.address):
        reg.setRoundManager(outsider.address, sender=admin)
    tx = reg.setRoundManager(reg.address, sender=admin)
    (event,) = tx.events.filter(reg.RoundManagerSet)
    assert event.roundManager == reg.address


def test_registerEnclaveKey_revertsWhile_aRoundIsOpen(deployment, admin, aggregator, hospitals, chain):
    reg, rm = deployment.registry, deployment.round_manager
    reg.setEvidenceKindAccepted(DEV, True, sender=admin)
    reg.registerEnclaveKey(KEY_HASH, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=aggregator)
    round_id, deadline, _tx = open_round(deployment, admin, chain)
    with ape.reverts(reg.ConsortiumRegistryRoundOpen, roundId=round_id):
        reg.registerEnclaveKey(b"\x33" * 32, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=aggregator)
    chain.pending_timestamp = deadline + 1
    rm.abortRound(round_id, sender=admin)  # closed: the key may rotate again
    reg.registerEnclaveKey(b"\x33" * 32, KEY_CID, DEV, bytes(32), EVIDENCE_CID, sender=aggregator)
    assert reg.enclaveKey()[0] == b"\x33" * 32


def test_roleNames_unchanged():
    assert int(Role.HOSPITAL) == 1  # the registry's EvidenceKind sits beside Role: both enums are the ABI's
    assert [int(k) for k in EvidenceKind] == [0, 1, 2, 3, 4]
