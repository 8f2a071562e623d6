"""ConsortiumRegistry: membership, roles and the enclave key."""

from __future__ import annotations

import ape

from zkfl_dapp.attestation.evidence import EvidenceKind
from zkfl_dapp.chain.enums import Role

KEY_HASH = b"\x11" * 32
KEY_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
EVIDENCE_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def test_admitMember_recordsRoleAndEmits(deployment, admin, outsider):
    reg = deployment.registry
    tx = reg.admitMember(outsider, int(Role.HOSPITAL), "St. Elsewhere", sender=admin)
    assert reg.roleOf(outsider) == Role.HOSPITAL
    assert reg.isHospital(outsider)
    assert reg.hospitalCount() == 6
    (event,) = tx.events.filter(reg.MemberAdmitted)
    assert event.account == outsider.address and event.role == Role.HOSPITAL and event.name == "St. Elsewhere"


def test_admitMember_revertsWhen_notAdmin(deployment, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryNotAdmin, caller=outsider.address):
        deployment.registry.admitMember(outsider, int(Role.HOSPITAL), "x", sender=outsider)


def test_admitMember_revertsWhen_alreadyMember(deployment, admin, hospitals):
    reg = deployment.registry
    with ape.reverts(reg.ConsortiumRegistryAlreadyMember, account=hospitals[0].address, role=Role.HOSPITAL):
        deployment.registry.admitMember(hospitals[0], int(Role.AUDITOR), "x", sender=admin)


def test_admitMember_revertsWhen_roleNone(deployment, admin, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryInvalidRole):
        deployment.registry.admitMember(outsider, int(Role.NONE), "x", sender=admin)


def test_admitMember_revertsWhen_zeroAddress(deployment, admin):
    with ape.reverts(deployment.registry.ConsortiumRegistryZeroAddress):
        deployment.registry.admitMember("0x" + "00" * 20, int(Role.HOSPITAL), "x", sender=admin)


def test_admitMember_revertsWhen_secondAggregator(deployment, admin, aggregator, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryAggregatorAlreadySet, current=aggregator.address):
        deployment.registry.admitMember(outsider, int(Role.AGGREGATOR), "x", sender=admin)


def test_removeMember_clearsRoleAndEmits(deployment, admin, hospitals):
    reg = deployment.registry
    tx = reg.removeMember(hospitals[0], sender=admin)
    assert reg.roleOf(hospitals[0]) == Role.NONE
    assert reg.hospitalCount() == 4
    (event,) = tx.events.filter(reg.MemberRemoved)
    assert event.account == hospitals[0].address and event.role == Role.HOSPITAL


def test_removeMember_revertsWhen_notMember(deployment, admin, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryNotMember, account=outsider.address):
        deployment.registry.removeMember(outsider, sender=admin)


def test_removeMember_aggregatorClearsEnclaveKey(deployment, admin, aggregator):
    reg = deployment.registry
    reg.setEvidenceKindAccepted(int(EvidenceKind.DEVELOPMENT), True, sender=admin)
    reg.registerEnclaveKey(KEY_HASH, KEY_CID, int(EvidenceKind.DEVELOPMENT), bytes(32), EVIDENCE_CID, sender=aggregator)
    reg.removeMember(aggregator, sender=admin)
    assert reg.aggregator() == "0x" + "00" * 20
    key_hash, key_cid, _ = reg.enclaveKey()
    assert key_hash == b"\x00" * 32 and key_cid == ""
    assert reg.enclaveEvidence() == (int(EvidenceKind.NONE), "", 0)


def test_transferAdmin_movesRightsAndEmits(deployment, admin, auditor):
    reg = deployment.registry
    tx = reg.transferAdmin(auditor, sender=admin)
    assert reg.admin() == auditor.address
    (event,) = tx.events.filter(reg.AdminTransferred)
    assert event.previousAdmin == admin.address and event.newAdmin == auditor.address
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=admin.address):
        reg.transferAdmin(admin, sender=admin)


def test_isAuditor_onlyForAuditors(deployment, auditor, hospitals, outsider):
    reg = deployment.registry
    assert reg.isAuditor(auditor) and not reg.isAuditor(hospitals[0]) and not reg.isAuditor(outsider)


def test_setPredictionRegistry_recordsAndEmits(deployment, admin):
    reg = deployment.registry
    zero = "0x" + "00" * 20
    assert reg.predictionRegistry() == zero
    target = deployment.round_manager.address  # any contract: what it is, its readers check (the auditor does)
    tx = reg.setPredictionRegistry(target, sender=admin)
    assert reg.predictionRegistry() == target
    (event,) = tx.events.filter(reg.PredictionRegistrySet)
    assert event.previous == zero and event.predictionRegistry == target
    tx = reg.setPredictionRegistry(zero, sender=admin)
    assert reg.predictionRegistry() == zero
    (event,) = tx.events.filter(reg.PredictionRegistrySet)
    assert event.previous == target and event.predictionRegistry == zero


def test_setPredictionRegistry_revertsWhen_notAdmin(deployment, outsider):
    reg = deployment.registry
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=outsider.address):
        reg.setPredictionRegistry(deployment.round_manager.address, sender=outsider)


def test_setPredictionRegistry_revertsWhen_notContract(deployment, admin, outsider):
    reg = deployment.registry
    with ape.reverts(reg.ConsortiumRegistryNotContract, account=outsider.address):
        reg.setPredictionRegistry(outsider.address, sender=admin)
# --- sample-count caps agreed at admission (issue 18) ----------------------------------------------


def test_admitHospital_recordsTheCapAndEmits(deployment, admin, outsider):
    reg = deployment.registry
    tx = reg.admitHospital(outsider, "St. Capped", 500, sender=admin)
    assert reg.isHospital(outsider) and reg.sampleCapOf(outsider) == 500 and reg.hospitalCount() == 6
    assert reg.memberSince(outsider) == tx.block_number
    (admitted,) = tx.events.filter(reg.MemberAdmitted)
    assert admitted.account == outsider.address and admitted.role == Role.HOSPITAL and admitted.name == "St. Capped"
    (capped,) = tx.events.filter(reg.SampleCapSet)
    assert capped.account == outsider.address and capped.maxSamples == 500


def test_admitHospital_revertsWhen_capZero(deployment, admin, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryInvalidSampleCap, maxSamples=0):
        deployment.registry.admitHospital(outsider, "x", 0, sender=admin)


def test_admitHospital_revertsWhen_notAdmin(deployment, outsider):
    with ape.reverts(deployment.registry.ConsortiumRegistryNotAdmin, caller=outsider.address):
        deployment.registry.admitHospital(outsider, "x", 10, sender=outsider)


def test_setSampleCap_changesTheCapAndEmits(deployment, admin, hospitals):
    reg = deployment.registry
    assert reg.sampleCapOf(hospitals[0]) == 0  # admitted with admitMember: none agreed
    tx = reg.setSampleCap(hospitals[0], 91, sender=admin)
    (event,) = tx.events.filter(reg.SampleCapSet)
    assert event.account == hospitals[0].address and event.maxSamples == 91 and reg.sampleCapOf(hospitals[0]) == 91


def test_setSampleCap_revertsWhen_notAdmin_notAHospital_orZero(deployment, admin, auditor, outsider, hospitals):
    reg = deployment.registry
    with ape.reverts(reg.ConsortiumRegistryNotAdmin, caller=outsider.address):
        reg.setSampleCap(hospitals[0], 10, sender=outsider)
    for account in (auditor, outsider):
        with ape.reverts(reg.ConsortiumRegistryNotHospital, account=account.address):
            reg.setSampleCap(account, 10, sender=admin)
    with ape.reverts(reg.ConsortiumRegistryInvalidSampleCap, maxSamples=0):
        reg.setSampleCap(hospitals[0], 0, sender=admin)


def test_removeMember_clearsTheCapAndTheAdmissionBlock(deployment, admin, outsider):
    reg = deployment.registry
    reg.admitHospital(outsider, "x", 77, sender=admin)
    tx = reg.removeMember(outsider, sender=admin)
    (event,) = tx.events.filter(reg.SampleCapSet)
    assert event.account == outsider.address and event.maxSamples == 0
    assert reg.sampleCapOf(outsider) == 0 and reg.memberSince(outsider) == 0
