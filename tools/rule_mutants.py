"""Mutants of issue 18's round rules: delete each check from RoundManager, one at a time, and rerun forge.

Usage: ``python tools/rule_mutants.py [M1 M2 ...]`` from the repository root (forge and the solc shim installed).
Works on a copy of ``contracts/`` and ``forge/`` in a temporary directory (the checkout is never modified) and
prints, per mutant, whether the forge suite killed it and the first failing assertions. docs/rules.md lists the
results and the ape test that kills each mutant too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> (what it deletes, the exact source, its replacement)
MUTANTS: dict[str, tuple[str, str, str]] = {
    "M1": (
        "member sample-cap check",
        "        if (cap != 0 && sampleCount > cap) {\n"
        "            revert RoundManagerSampleCountAboveMemberCap(roundId, msg.sender, sampleCount, cap);\n"
        "        }",
        "",
    ),
    "M2": ("share cap", "uint256 cap = _shareCap(included);", "uint256 cap = uint256(1) << scaleBits;"),
    "M3": (
        "finalize deadline",
        "if (block.timestamp > lastCall) revert RoundManagerFinalizeDeadlinePassed("
        "roundId, lastCall, block.timestamp);",
        "",
    ),
    "M4": (
        "abort within the finalize window",
        "        if (r.submissionCount >= r.quorum && block.timestamp <= lastCall) {\n"
        "            revert RoundManagerFinalizeWindowOpen(roundId, lastCall, block.timestamp);\n"
        "        }",
        "",
    ),
    "M5": (
        "reporter entitlement",
        "if (since >= o.openedBlock) revert RoundManagerReporterNotEntitled("
        "roundId, msg.sender, since, o.openedBlock);",
        "",
    ),
    "M6": ("current model", "if (roundId != current) revert RoundManagerModelNotCurrent(roundId, current);", ""),
    "M7": (
        "majority threshold",
        "if (r.unavailableReports >= _rollbackThreshold(roundId)) {",
        "if (r.unavailableReports >= r.quorum) {",
    ),
    "M8": (
        "rollback aborts the open round",
        "            if (latest != roundId && open.phase == Phase.Open) {",
        "            if (false) {",
    ),
    "M9": (
        "early finalization needs every member",
        "        if (r.submissionCount < r.members && block.timestamp <= r.deadline) {\n"
        "            revert RoundManagerDeadlineNotReached(roundId, r.deadline, block.timestamp);\n"
        "        }",
        "",
    ),
    "M10": (
        "FedAvg quorum",
        "        if (included < r.quorum) revert RoundManagerQuorumNotMet(roundId, included, r.quorum);\n"
        '        _finalize(roundId, commitment, newModelCid, included, excludedMask, bytes32(0), "");',
        '        _finalize(roundId, commitment, newModelCid, included, excludedMask, bytes32(0), "");',
    ),
    "M11": (
        "median quorum",
        "        if (included < r.quorum) revert RoundManagerQuorumNotMet(roundId, included, r.quorum);\n"
        "        bytes32 proofHash",
        "        bytes32 proofHash",
    ),
    "M12": (
        "abort before the deadline",
        "if (block.timestamp <= r.deadline) revert RoundManagerDeadlineNotReached("
        "roundId, r.deadline, block.timestamp);",
        "",
    ),
}


def main(names: list[str]) -> int:
    survived = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "contracts", work / "contracts")
        (work / "forge").mkdir()
        shutil.copytree(ROOT / "forge" / "test", work / "forge" / "test")
        shutil.copy(ROOT / "forge" / "foundry.toml", work / "forge" / "foundry.toml")
        (work / ".toolchain").symlink_to((ROOT / ".toolchain").resolve())
        source = work / "contracts" / "RoundManager.sol"
        original = source.read_text()
        for name in names or list(MUTANTS):
            what, old, new = MUTANTS[name]
            if original.count(old) != 1:
                print(f"{name} ({what}): source not found once: update the mutant", flush=True)
                survived.append(name)
                continue
            source.write_text(original.replace(old, new))
            run = subprocess.run(
                ["forge", "test", "--offline"], cwd=work / "forge", capture_output=True, text=True, check=False
            )
            fails = [line for line in run.stdout.splitlines() if line.startswith("[FAIL")]
            if "Compiler run failed" in run.stdout or not fails:
                survived.append(name)
            verdict = "COMPILE ERROR" if "Compiler run failed" in run.stdout else "killed" if fails else "SURVIVED"
            print(f"{name} ({what}): {verdict}  {' | '.join(f[:120] for f in fails[:3])}", flush=True)
        source.write_text(original)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
