"""Mutants of the exclusion rules (issue 18, docs/exclusions.md): each deletes or weakens one check and runs the
targeted test that must then fail. ``python tools/exclusion_mutants.py [ID ...]`` (IDs: C1, P2, ...; none: all),
from the repository root with the project's environment on PATH (ape, forge). Every file is restored, whatever
happens; each mutant prints KILLED (its test failed) or SURVIVED.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (id and what it breaks, file, text replaced, replacement, the test command that must fail)
MUTANTS = [
    (
        "W1 agent loop does not review exclusions",
        "zkfl_dapp/apps/parties.py",
        "for done_round in (r for r in (round_id - 1, round_id) if r > 0):",
        "for done_round in ():",
        "ape test tests/e2e/test_censorship.py -q -x -k agents",
    ),
    (
        "W2 agent reviews only the current round",
        "zkfl_dapp/apps/parties.py",
        "(round_id - 1, round_id)",
        "(round_id,)",
        "ape test tests/e2e/test_censorship.py -q -x -k agents",
    ),
    (
        "F1 finalize skips the exclusion check (forge)",
        "contracts/RoundManager.sol",
        "        if (excludedMask != 0) _applyExclusions(roundId, excludedMask);\n",
        "",
        "bash -c \"cd forge && forge test --offline --match-path 'test/exclusion/*'\"",
    ),
    (
        "F5 majority off by one (forge)",
        "contracts/RoundManager.sol",
        "if (uint256(e.supporters) * 2 <= r.members) return;",
        "if (uint256(e.supporters) * 2 < r.members - 1) return;",
        "bash -c \"cd forge && forge test --offline --match-path 'test/exclusion/*'\"",
    ),
    (
        "F3 no re-announce window (forge)",
        "contracts/RoundManager.sol",
        "                if (block.timestamp <= windowEnd) revert RoundManagerReannounceWindowOpen(roundId, slot, windowEnd);\n",  # noqa: E501
        "",
        "bash -c \"cd forge && forge test --offline --match-path 'test/exclusion/*'\"",
    ),
    (
        "C1 finalize skips the exclusion check",
        "contracts/RoundManager.sol",
        "        if (excludedMask != 0) _applyExclusions(roundId, excludedMask);\n",
        "",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'exclusionNotDeclared'",
    ),
    (
        "C2 undeclared slot accepted",
        "contracts/RoundManager.sol",
        "            if (e.reason == ExclusionReason.None) revert RoundManagerExclusionNotDeclared(roundId, slot);\n",
        "",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'exclusionNotDeclared'",
    ),
    (
        "C3 no re-announce window",
        "contracts/RoundManager.sol",
        "                if (block.timestamp <= windowEnd) revert RoundManagerReannounceWindowOpen(roundId, slot, windowEnd);\n",  # noqa: E501
        "",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'reannounceWindowOpen'",
    ),
    (
        "C4 re-announced slot excludable as unavailable",
        "contracts/RoundManager.sol",
        "                if (e.reannounced) revert RoundManagerUpdateReannounced(roundId, slot);\n",
        "",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'voidsTheUnavailable'",
    ),
    (
        "C5 majority off by one (2 of 5 upholds)",
        "contracts/RoundManager.sol",
        "if (uint256(e.supporters) * 2 <= r.members) return;",
        "if (uint256(e.supporters) * 2 < r.members - 1) return;",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'aMinorityCannotUphold'",
    ),
    (
        "C6 dispute after the window",
        "contracts/RoundManager.sol",
        "        if (block.timestamp > deadline) revert RoundManagerWindowClosed(roundId, slot, deadline);\n        if (e.disputed) revert",  # noqa: E501
        "        if (e.disputed) revert",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'disputeExclusion_revertsWhen_windowClosed'",
    ),
    (
        "C7 evidence-backed reason without evidence",
        "contracts/RoundManager.sol",
        "reason == ExclusionReason.None || (withEvidence && evidenceHash == bytes32(0))",
        "reason == ExclusionReason.None",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'evidenceDoesNotFitTheReason'",
    ),
    (
        "C8 upheld round stays Finalized",
        "contracts/RoundManager.sol",
        "        if (r.phase == Phase.Finalized) r.phase = Phase.Invalidated;\n",
        "",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'upheldByAMajority'",
    ),
    (
        "C9 anyone disputes a slot",
        "contracts/RoundManager.sol",
        "        if (slot >= subs.length || subs[slot].hospital != msg.sender) {",
        "        if (slot >= subs.length) {",
        "ape test tests/contracts/test_exclusions.py -q -x -k 'disputeExclusion_revertsWhen_notTheSlotsHospital'",
    ),
    (
        "P1 m' accepted without re-encapsulation check",
        "zkfl_dapp/crypto/evidence.py",
        "    if ciphertext != kem_ciphertext:\n",
        "    if False:\n",
        "python -m pytest -q -x tests/unit/test_exclusion_evidence.py -k 'forged or wrong_key'",
    ),
    (
        "P2 evidence hash not compared",
        "zkfl_dapp/protocol/exclusions.py",
        "    if hashlib.sha256(evidence_file).digest() != bytes(declared_hash):",
        "    if False:",
        "python -m pytest -q -x tests/unit/test_exclusion_evidence.py -k 'tampered'",
    ),
    (
        "P3 decrypting-and-opening update accepted as invalid content",
        "zkfl_dapp/protocol/exclusions.py",
        "    if fault is None:\n        return _fails(",
        "    if False:\n        return _fails(",
        "python -m pytest -q -x tests/unit/test_exclusion_evidence.py -k 'censorship'",
    ),
    (
        "P4 undecryptable claim not checked",
        "zkfl_dapp/protocol/exclusions.py",
        '        return _fails("the envelope decrypts under the proven key: it is not undecryptable")',
        '        return EvidenceVerdict(True, "x")',
        "python -m pytest -q -x tests/unit/test_exclusion_evidence.py -k 'censorship'",
    ),
    (
        "P5 evidence names not compared",
        "zkfl_dapp/protocol/exclusions.py",
        "    if actual != expected:\n",
        "    if False:\n",
        "python -m pytest -q -x tests/unit/test_exclusion_evidence.py -k 'tampered or wrong_key'",
    ),
    (
        "A1 audit skips exclusions",
        "zkfl_dapp/audit/round_checks.py",
        "        self._exclusions(ra)\n",
        "",
        "ape test tests/e2e/test_censorship.py -q -x -k 'INVALID'",
    ),
    (
        "H1 hospital never disputes",
        "zkfl_dapp/protocol/disputes.py",
        "            if mine and not bool(record.disputed):\n",
        "            if False:\n",
        "ape test tests/e2e/test_censorship.py -q -x -k 'INVALID'",
    ),
    (
        "E1 enclave declares nothing",
        "zkfl_dapp/protocol/enclave.py",
        "        declare_exclusions(round_manager, self.account, self.storage, round_id, outcomes)\n",
        "",
        "ape test tests/e2e/test_censorship.py -q -x -k 'honest'",
    ),
]


def main(only: list[str]) -> int:
    survived = 0
    for name, path, old, new, cmd in MUTANTS:
        if only and name.split()[0] not in only:
            continue
        target = ROOT / path
        source = target.read_text()
        if source.count(old) != 1:
            print(f"{name}: the text to mutate is not found once in {path}: update this list")
            return 2
        target.write_text(source.replace(old, new))
        try:
            result = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, check=False)
        finally:
            target.write_text(source)
        killed = result.returncode != 0
        survived += not killed
        print(f"{name}: {'KILLED' if killed else 'SURVIVED'}", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
