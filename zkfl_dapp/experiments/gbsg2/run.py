"""GBSG2 end to end, as a new consortium would run it from the docs: every party a separate ``zkfl`` process with a
fresh passphrase-protected key, on the local chain, on the consortium's own schema and three hospitals' files.

0. the data set is loaded from SurvSet and split (seed 21) into ``<workdir>/data``: three hospitals' files (2 CSV,
   1 Parquet) and the held-out test file;
1. ``zkfl chain``; ``zkfl keys new --role R`` for the admin, the aggregator, three hospitals and the auditor, each
   under a random passphrase handed over in ``ZKFL_<ROLE>_PASSPHRASE`` (funded on the local chain);
2. each hospital: ``zkfl hospital --index I --contribute-statistics`` on its own file (2 CSV, 1 Parquet);
3. ``zkfl admin deploy --schema examples/gbsg2/schema.json --model logreg --contribution ...`` (builds the d = 9
   circuits and compiles their verifier when absent);
4. ``zkfl aggregator`` and ``zkfl hospital --index I`` (each with its records file) run as services; the admin
   opens ``--rounds`` rounds (``zkfl admin open-round``), each once the previous one is finalized;
5. the chain is stopped (its state saved) and ``ape run audit`` re-checks every round;
6. every round's finalized model (read from the store by the CID ``zkfl status`` reports) is scored on the held-out
   test file, beside a central model on the pooled training rows and plain float FedAvg on the same files.

    python -m zkfl_dapp.experiments.gbsg2.run [--rounds 5] [--workdir build/gbsg2] [--anvil-port 8561] [--kill-chain]

Writes ``<workdir>/gbsg2-report.json`` and prints it. Nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zkfl_dapp.config import REPO_ROOT

PARTY_ROLES = ("admin", "aggregator", "hospital-0", "hospital-1", "hospital-2", "auditor")


def _env(workdir: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ZKFL_WORKDIR": str(workdir),
        "ZKFL_ANVIL_PORT": str(port),
        "ZKFL_HOSPITALS": "3",
        "ZKFL_QUORUM": "2",
        "ZKFL_ENCLAVE_PASSPHRASE": secrets.token_urlsafe(24),
    }
    for role in PARTY_ROLES:  # fresh passphrases, never written anywhere
        env["ZKFL_" + role.upper().replace("-", "_") + "_PASSPHRASE"] = secrets.token_urlsafe(24)
    bin_dirs = [str(REPO_ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent)]
    env["PATH"] = os.pathsep.join([*bin_dirs, env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    return env


def _zkfl(*args: str) -> list[str]:
    return [sys.executable, "-m", "zkfl_dapp.apps.zkfl", *args]


def _say(text: str) -> None:
    print(f"[gbsg2 {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _run(cmd: list[str], env: dict[str, str], **kw: Any) -> str:
    done = subprocess.run(cmd, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800, **kw)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def _records_env(env: dict[str, str], index: int) -> dict[str, str]:
    from zkfl_dapp.experiments.gbsg2.data import HOSPITAL_FILES, SCHEMA_FILE

    data = Path(env["ZKFL_WORKDIR"]) / "data"
    return {**env, "ZKFL_RECORDS": str(data / HOSPITAL_FILES[index]), "ZKFL_RECORDS_SCHEMA": str(SCHEMA_FILE)}


def _wait_finalized(workdir: Path, round_id: int, processes: list[Any], timeout: float = 1200) -> dict[str, Any]:
    from zkfl_dapp.apps.journal import journal_for
    from zkfl_dapp.apps.launcher import require_alive

    journal = journal_for(workdir, "aggregator")
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        found = [*journal.entries("finalized"), *journal.entries("found-finalized")]
        entry = next((e for e in found if e.get("round") == round_id), None)
        if entry is not None:
            return entry
        require_alive(processes)
        time.sleep(1.0)
    raise SystemExit(f"round {round_id} was not finalized within {timeout:.0f} s (logs in {workdir / 'logs'})")


def _wait_key(workdir: Path, processes: list[Any], timeout: float = 600) -> None:
    from zkfl_dapp.apps.journal import journal_for
    from zkfl_dapp.apps.launcher import require_alive

    until = time.monotonic() + timeout
    while not journal_for(workdir, "aggregator").entries("key-registered"):
        if time.monotonic() > until:
            raise SystemExit(f"the aggregator registered no enclave key within {timeout:.0f} s")
        require_alive(processes)
        time.sleep(0.5)
    _say("the aggregator registered its enclave key")


class _Chain:
    """``zkfl chain`` in its own process group: SIGKILL takes its anvil down with it, without a clean dump."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> _Chain:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        before = self.log.read_text().count("saved after every block") if self.log.is_file() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(_zkfl("chain"), env=self.env, cwd=REPO_ROOT, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        until = time.monotonic() + 120
        while self.log.read_text().count("saved after every block") == before:
            if self.proc.poll() is not None or time.monotonic() > until:
                raise SystemExit(f"zkfl chain did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the chain's state is saved
            self.proc.wait(timeout=60)

    def restart(self, why: str) -> None:
        self.kill()
        _say(f"chain killed (SIGKILL, no clean dump) {why}; restarting it, no party is restarted")
        self.start()


def _sent(workdir: Path) -> list[tuple[str, int, str]]:
    """Every submission a hospital journaled as sent: (role, round, CID)."""
    from zkfl_dapp.apps.journal import journal_for

    journals = [(f"hospital-{i}", journal_for(workdir, f"hospital-{i}")) for i in range(3)]
    return [(h, int(e["round"]), str(e["cid"])) for h, journal in journals for e in journal.entries("sent")]


def _pid(party: Any) -> int:
    if party.proc is None:
        raise SystemExit(f"{party.role} is not running")
    return int(party.proc.pid)


def _finalized_journaled(workdir: Path, round_id: int) -> bool:
    from zkfl_dapp.apps.journal import journal_for

    return any(e.get("round") == round_id for e in journal_for(workdir, "aggregator").entries("finalized"))


def _kill_mid_round(chain: _Chain, aggregator: Any, workdir: Path, round_id: int) -> dict[str, Any]:
    """Kill the chain right after the first hospital journals ``round_id``'s submission as sent, before the round is
    finalized. The aggregator is paused (SIGSTOP, not restarted) from before the round opens until the chain is
    dead, so that the kill cannot come after the finalization (the hospitals prove and the aggregator finalizes
    within a second or two of each other); it is continued (SIGCONT) while the chain is down and reconnects by
    itself like the hospitals."""
    until = time.monotonic() + 600
    while not any(r == round_id for _h, r, _c in _sent(workdir)):
        if time.monotonic() > until:
            raise SystemExit(f"no hospital journaled round {round_id} as sent within 600 s")
        time.sleep(0.05)
    first = next(h for h, r, _c in _sent(workdir) if r == round_id)
    finalized = _finalized_journaled(workdir, round_id)
    chain.kill()
    sent = sum(r == round_id for _h, r, _c in _sent(workdir))
    os.kill(_pid(aggregator), signal.SIGCONT)
    _say(f"chain killed (SIGKILL, no clean dump) right after {first} journaled round {round_id} as sent "
         f"({sent} of 3 journaled as sent at the kill; round finalized at the kill: {finalized})")  # fmt: skip
    time.sleep(2.0)  # the parties meet a dead chain (and must not exit)
    chain.start()
    _say("chain restarted from its saved state; no party is restarted")
    return {"when": f"after {first} journaled round {round_id} as sent, before finalization", "round": round_id,
            "sent_at_kill": sent, "finalized_at_kill": finalized}  # fmt: skip


def consortium_run(workdir: Path, port: int, rounds: int, *, kill_chain: bool = False) -> dict[str, Any]:
    """Steps 1-5 of the module docstring; returns the rounds as ``zkfl status`` shows them and the audit's JSON.
    With ``kill_chain``, the chain is SIGKILLed twice and restarted: right after a hospital journals round 2's
    submission as sent, before round 2 is finalized (:func:`_kill_mid_round`), and between rounds, right after
    ``open-round`` returns round 4."""
    from zkfl_dapp.apps.launcher import PartyProcess, running
    from zkfl_dapp.experiments.gbsg2.data import SCHEMA_FILE

    env = _env(workdir, port)
    logs = workdir / "logs"
    chain = _Chain(env, logs / "chain.log").start()
    kills: list[dict[str, Any]] = []
    try:
        time.sleep(2.0)
        for role in PARTY_ROLES:
            _say(_run(_zkfl("keys", "new", "--role", role), env).strip().splitlines()[-1])
        contributions = []
        for i in range(3):
            out = workdir / "contributions" / f"hospital-{i}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            _run(_zkfl("hospital", "--index", str(i), "--contribute-statistics", str(out)), _records_env(env, i))
            contributions += ["--contribution", str(out)]
        _say("deploying on examples/gbsg2/schema.json (logreg over 8 features: d = 9)")
        started = time.perf_counter()
        schema = str(SCHEMA_FILE)
        _say(_run(_zkfl("admin", "deploy", "--schema", schema, "--model", "logreg", *contributions), env).strip())
        deploy_seconds = time.perf_counter() - started
        services = [PartyProcess("aggregator", _zkfl("aggregator"), logs / "aggregator.log", env)]
        services += [
            PartyProcess(f"hospital-{i}", _zkfl("hospital", "--index", str(i)), logs / f"hospital-{i}.log",
                         _records_env(env, i))
            for i in range(3)
        ]  # fmt: skip
        walls: list[float] = []
        with running(services):
            _wait_key(workdir, services)  # the registry refuses a new enclave key while a round is open
            for _ in range(rounds):
                t0 = time.perf_counter()
                mid_round = kill_chain and len(walls) + 1 == 2
                if mid_round:
                    os.kill(_pid(services[0]), signal.SIGSTOP)  # the aggregator: see _kill_mid_round
                opened = _run(_zkfl("admin", "open-round"), env).strip().splitlines()[-1]
                if mid_round:
                    kills.append(_kill_mid_round(chain, services[0], workdir, int(opened)))
                if kill_chain and int(opened) == 4:
                    chain.restart("right after open-round returned round 4")
                    kills.append({"when": "between rounds, right after open-round returned round 4", "round": 4})
                entry = _wait_finalized(workdir, int(opened), services)
                walls.append(round(time.perf_counter() - t0, 1))
                _say(f"round {opened} finalized ({entry['model_cid']}) in {walls[-1]} s")
            status = json.loads(_run(_zkfl("status"), env))
    finally:
        chain.stop()
    audit_json = workdir / "audit.json"
    ape = [str(Path(sys.executable).parent / "ape"), "run", "audit", "--workdir", str(workdir)]
    audited = subprocess.run(
        [*ape, "--anvil-port", str(port), "--json", str(audit_json)], env=env, cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    _say(f"ape run audit: exit {audited.returncode}")
    audit = json.loads(audit_json.read_text()) if audit_json.is_file() else {"passed": False}
    sent = _sent(workdir)
    on_chain = [(sub["role"], r["round"], sub["cid"]) for r in status["rounds"] for sub in r["submissions"]]
    journal = {
        "sent": len(sent),
        "on_chain": len(on_chain),
        "all_on_chain": all(x in on_chain for x in sent),
        # one submission per hospital and round, on the chain and in the journals
        "none_sent_twice": len({x[:2] for x in on_chain}) == len(on_chain) and len({x[:2] for x in sent}) == len(sent),
    }
    return {"status": status, "audit": audit, "audit_exit": audited.returncode, "round_seconds": walls,
            "deploy_seconds": round(deploy_seconds, 1), "chain_kills": kills, "journal": journal}  # fmt: skip


def evaluate(workdir: Path, status: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Step 6: each finalized model and the two baselines on the held-out test file."""
    from zkfl_dapp.core.fixedpoint import dequantize
    from zkfl_dapp.core.formats import ModelFile
    from zkfl_dapp.experiments.gbsg2.data import (
        HOSPITAL_FILES,
        TEST_FILE,
        central_params,
        fedavg_params,
        schema,
        scores,
        standardized,
    )
    from zkfl_dapp.ml.contributions import StatisticsContribution, combine_contributions
    from zkfl_dapp.ml.model import ModelSpec
    from zkfl_dapp.ml.records import read_records
    from zkfl_dapp.ml.training import TrainConfig
    from zkfl_dapp.storage.embedded import EmbeddedStore

    s = schema()
    hospitals = [f"hospital-{i}" for i in range(3)]
    parts = [StatisticsContribution.load(workdir / "contributions" / f"{h}.json") for h in hospitals]
    statistics = combine_contributions(s, parts, hospitals)  # what the deployment published
    data = workdir / "data"
    shards = [standardized(read_records(data / f, s), statistics) for f in HOSPITAL_FILES]
    test = standardized(read_records(data / TEST_FILE, s), statistics)
    spec, cfg = ModelSpec(num_features=len(s.features)), TrainConfig()
    store = EmbeddedStore(workdir / "ipfs")
    proven = []
    for r in status["rounds"]:
        model = ModelFile.parse(store.get(r["model_cid"]))
        proven.append({"round": r["round"], **scores(spec, dequantize(model.training_values(), 13), test)})
    return {
        "proven": proven,
        "central": scores(spec, central_params(spec, shards, cfg, rounds), test),
        "fedavg": scores(spec, fedavg_params(spec, shards, cfg, rounds), test),
        "rows": {"train": [sh.num_samples for sh in shards], "test": test.num_samples},
        "test_positive_fraction": round(float(test.y.mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "build" / "gbsg2")
    parser.add_argument("--anvil-port", type=int, default=8561)
    parser.add_argument("--kill-chain", action="store_true", help="SIGKILL and restart the chain twice mid-run")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    if workdir.exists():
        if not (workdir / "deployment.json").is_file() and any(workdir.iterdir()):
            raise SystemExit(f"{workdir} exists and is not a zkFL work directory: give a new --workdir")
        shutil.rmtree(workdir)
    started = time.perf_counter()
    from zkfl_dapp.experiments.gbsg2.data import write_split

    sizes = write_split(workdir / "data")  # never committed: made from SurvSet's copy at every run
    _say(f"GBSG2 from SurvSet split into {workdir / 'data'}: {sizes}")
    run = consortium_run(workdir, args.anvil_port, args.rounds, kill_chain=args.kill_chain)
    report = {
        "data": "GBSG2 (SurvSet 0.2.11, GPLv3): 557 women with a known 3-year recurrence status, 8 features",
        "hospitals": 3,
        "rounds": args.rounds,
        "model": "logreg (d = 9)",
        "audit_passed": bool(run["audit"].get("passed")) and run["audit_exit"] == 0,
        "finalized_rounds": sum(r["phase"] == "FINALIZED" for r in run["status"]["rounds"]),
        "chain_kills": run["chain_kills"],
        "journal": run["journal"],
        "deploy_seconds": run["deploy_seconds"],
        "round_seconds": run["round_seconds"],
        **evaluate(workdir, run["status"], args.rounds),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    (workdir / "gbsg2-report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    ok = report["audit_passed"] and report["finalized_rounds"] == args.rounds
    return 0 if ok and report["journal"]["all_on_chain"] and report["journal"]["none_sent_twice"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
