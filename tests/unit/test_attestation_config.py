"""A hospital's attestation policy and the development-enclave opt-in, from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfl_dapp.attestation import EvidenceKind
from zkfl_dapp.attestation.policy import policy_from_settings
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.protocol.consortium import Consortium


def test_settings_build_a_hospitals_attestation_policy():
    pinned = "0x" + "ab" * 32
    s = Settings(attestation_kinds="intel-tdx, amd-sev-snp", enclave_measurements=f"{pinned}, ", tdx_tcb_statuses="")
    policy = policy_from_settings(s, local=False)
    assert policy.kinds == {EvidenceKind.INTEL_TDX, EvidenceKind.AMD_SEV_SNP}
    assert policy.measurements == {bytes.fromhex("ab" * 32)} and policy.tcb_statuses == frozenset()
    # a development enclave: yes on a local chain unless refused, elsewhere only when explicitly allowed
    assert policy_from_settings(s, local=True).allow_development and not policy.allow_development
    assert not policy_from_settings(Settings(allow_development_enclave=False), local=True).allow_development
    assert policy_from_settings(Settings(allow_development_enclave=True), local=False).allow_development
    with pytest.raises(ConfigError, match="ZKFL_ENCLAVE_MEASUREMENTS: '0x12' is not 0x"):
        policy_from_settings(Settings(enclave_measurements="0x12"), local=False)
    with pytest.raises(ConfigError, match="ZKFL_ATTESTATION_KINDS: unknown evidence kind 'sgx'"):
        policy_from_settings(Settings(attestation_kinds="sgx"), local=False)


def test_bootstrap_refuses_a_development_enclave_without_the_opt_in(tmp_path: Path):
    settings = Settings(workdir=tmp_path / "w", allow_development_enclave=False)
    with pytest.raises(ConfigError, match="ZKFL_ALLOW_DEVELOPMENT_ENCLAVE=1"):  # before anything is deployed
        Consortium.bootstrap(settings, None, None, None, None, None, local=True)  # type: ignore[arg-type]
