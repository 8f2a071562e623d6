"""The multi-process demo: anvil, the aggregator and every hospital as separate OS processes, each with its own
keyfile; this process is the admin, opens the rounds and shows them as they close.

On one machine the parties share the work directory's embedded store and deployment record; each has its own
keyfile (``keys/<role>.json``), lock and journal (``parties/<role>/``) and log (``logs/<role>.log``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from zkfl_dapp.apps import keys as keystore
from zkfl_dapp.apps import parties
from zkfl_dapp.apps.parties.context import _quiet
from zkfl_dapp.apps.parties.reports import build_round_report, publish_round_report
from zkfl_dapp.apps.process import clear_workdir, replaceable_workdir, terminate_as_exit, workdir_lock
from zkfl_dapp.apps.session import build_circuits, make_storage
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round, read_submissions
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.exceptions import ConfigError, RoundError, ZkflError
from zkfl_dapp.ml.model import accuracy
from zkfl_dapp.protocol.wiring import load_split, model_spec_for

Progress = Callable[[str], None]


def parse_dropout(text: str) -> dict[int, int]:
    """``"ROUND:HOSPITAL"`` (or ``""``) as {round: hospital index}.

    Raises:
        ConfigError: anything else.
    """
    if not text:
        return {}
    try:
        r, h = (int(x) for x in text.split(":"))
    except ValueError as exc:
        raise ConfigError(f"--dropout {text!r}: expected ROUND:HOSPITAL, e.g. 4:4") from exc
    return {r: h}


def party_command(settings: Settings, *args: str) -> list[str]:
    """``python -m zkfl_dapp.apps.zkfl ARGS --workdir ... --anvil-port ...`` with this process's settings."""
    common = ["--workdir", str(settings.workdir), "--anvil-port", str(settings.anvil_port)]
    common += ["--storage", settings.storage, "--kubo-api-url", settings.kubo_api_url]
    common += ["--split", settings.split, "--seed", str(settings.seed)]
    return [sys.executable, "-m", "zkfl_dapp.apps.zkfl", *args, *common]


@dataclass
class PartyProcess:
    """One party's OS process, its output in ``log``."""

    role: str
    args: list[str]
    log: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    _out: IO[bytes] | None = None

    def start(self) -> PartyProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.log.open("ab")
        self.proc = subprocess.Popen(self.args, stdout=self._out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=self.env)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash (no cleanup runs)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (unwinds like Ctrl-C), then SIGKILL after ``timeout``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._out is not None:
            self._out.close()
            self._out = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def party_processes(
    settings: Settings, *, absent: dict[int, int] | None = None, interval: float = 0.5
) -> list[PartyProcess]:
    """The aggregator and one process per hospital (not started).

    Unless ``ZKFL_ENCLAVE_PASSPHRASE`` is set, the enclave key file is encrypted under a random passphrase drawn
    for this run and held only in the aggregator process's environment: never written to disk, so the work
    folder alone does not decrypt the updates (docs/operators.md, "Attestation").
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    aggregator_env = dict(env)
    if settings.enclave_passphrase is None or not settings.enclave_passphrase.get_secret_value():
        aggregator_env["ZKFL_ENCLAVE_PASSPHRASE"] = secrets.token_urlsafe(32)
    logs = settings.workdir / "logs"
    poll = ["--poll", str(interval)]
    aggregator = party_command(settings, "aggregator", *poll)
    out = [PartyProcess("aggregator", aggregator, logs / "aggregator.log", aggregator_env)]
    for i in range(settings.hospitals):
        sit_out = [arg for r, h in (absent or {}).items() if h == i for arg in ("--sit-out", str(r))]
        args = party_command(settings, "hospital", "--index", str(i), *poll, *sit_out)
        out.append(PartyProcess(f"hospital-{i}", args, logs / f"hospital-{i}.log", env))
    return out


@contextlib.contextmanager
def running(processes: Sequence[PartyProcess]) -> Iterator[Sequence[PartyProcess]]:
    """Start every process; stop them all (SIGTERM, then SIGKILL) on the way out, Ctrl-C included."""
    try:
        for p in processes:
            p.start()
        yield processes
    finally:
        for p in processes:
            if p.proc is not None and p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in processes:
            p.stop()


def require_alive(processes: Sequence[PartyProcess]) -> None:
    """Raises ZkflError naming a party process that exited (with its log's tail)."""
    for p in processes:
        if p.proc is not None and p.proc.poll() is not None:
            raise ZkflError(f"{p.role} exited with code {p.proc.returncode}; its log {p.log} ends:\n{p.tail()}")


@dataclass(frozen=True)
class ClosedRound:
    """A round as the admin saw it close."""

    round_id: int
    phase: str
    #: the hospitals whose submissions the round holds
    participants: tuple[str, ...]
    model_cid: str
    accuracy: float | None
    wall_seconds: float
    finalized: dict[str, Any] | None  # the aggregator's journal entry, where on this machine


def wait_closed(
    conn: parties.Connection,
    deployment: Any,
    round_id: int,
    processes: Sequence[PartyProcess],
    *,
    expected: int,
    timeout: float = 600.0,
    progress: Progress = _quiet,
) -> Phase:
    """Wait for round ``round_id`` to close. On the local chain, once ``expected`` submissions are in but the
    round waits for members who sit it out, chain time is moved past the deadline (the round then closes on
    quorum). Returns the final phase.

    Raises:
        RoundError: not closed within ``timeout`` seconds.
        ZkflError: a party process died.
    """
    rm = deployment.round_manager
    until = time.monotonic() + timeout
    warped = False
    while time.monotonic() < until:
        info = read_round(rm, round_id)
        if info.phase != Phase.OPEN:
            return info.phase
        require_alive(processes)
        if not warped and conn.local and expected < info.members and info.submission_count >= expected:
            progress(f"admin: round {round_id}: {info.submission_count} submitted, the rest sit it out: "
                     "moving the local chain past the deadline")  # fmt: skip
            parties.warp_past_deadline(conn, info.deadline)
            warped = True
        time.sleep(0.25)
    raise RoundError(f"round {round_id} did not close within {timeout:.0f} s")


def run_rounds(
    settings: Settings,
    rounds: int,
    *,
    absent: dict[int, int] | None = None,
    progress: Progress = _quiet,
    on_close: Callable[[ClosedRound], None] = lambda _: None,
) -> list[ClosedRound]:
    """Deploy a new consortium in ``settings.workdir`` (replaced) on a new local anvil, start the aggregator and
    the hospitals as processes, open ``rounds`` rounds one after the other and return them as they closed."""
    absent = absent or {}
    if not replaceable_workdir(settings.workdir):
        raise ConfigError(f"{settings.workdir} exists and is not a zkFL work directory: give a new --workdir")
    build_circuits(settings)
    with contextlib.ExitStack() as stack:
        stack.enter_context(workdir_lock(settings.workdir))
        stack.enter_context(terminate_as_exit())
        if clear_workdir(settings.workdir):
            progress(f"replaced the previous consortium in {settings.workdir}")
        members = keystore.dev_keyfiles(settings.workdir, settings.mnemonic, settings.hospitals)
        anvil = stack.enter_context(
            LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic)
        )
        stack.enter_context(anvil.durable_in_background())  # the parties call a transaction done once saved
        progress(f"chain: anvil at {anvil.url} (its own process), state in {settings.chain_state}")
        conn = stack.enter_context(parties.connect(settings, rpc_url=anvil.url))
        admin = keystore.load_signer(keystore.keyfile_path(settings.workdir, "admin"), keystore.DEV_KEY_PASSPHRASE)
        storage = make_storage(settings)
        del members["admin"]
        deployment = parties.deploy(settings, conn, admin, storage, members, progress=progress)
        anvil.persist()
        split = load_split(settings)
        spec = model_spec_for(settings, split)
        processes = stack.enter_context(running(party_processes(settings, absent=absent)))
        progress(f"started {', '.join(f'{p.role} (pid {p.proc.pid if p.proc else 0})' for p in processes)}")
        _wait_for_key(deployment, processes, progress)
        closed: list[ClosedRound] = []
        aggregator_journal = parties.journal_for(settings.workdir, "aggregator")
        for r in range(1, rounds + 1):
            started = time.perf_counter()
            round_id = parties.open_round(settings, conn, deployment, admin, progress=progress)
            expected = settings.hospitals - (1 if r in absent else 0)
            phase = wait_closed(conn, deployment, round_id, processes, expected=expected, progress=progress)
            wall = time.perf_counter() - started
            info = read_round(deployment.round_manager, round_id)
            acc = None
            if phase == Phase.FINALIZED:
                model = ModelFile.parse(storage.get(info.new_model_cid))
                acc = accuracy(spec, dequantize(model.training_values(), settings.scale_bits), split.test)
            fin = _journal_entry(aggregator_journal, round_id) if phase == Phase.FINALIZED else None
            names = {address.lower(): role for role, address in members.items()}
            subs = read_submissions(deployment.round_manager, round_id)
            who = tuple(names.get(sub.hospital.lower(), sub.hospital) for sub in subs)
            c = ClosedRound(round_id, phase.name.lower(), who, info.new_model_cid, acc, wall, fin)
            if phase == Phase.FINALIZED:
                report = build_round_report(
                    settings, deployment, round_id, participants=who, accuracy_value=acc, finalized=fin,
                    wall_seconds=wall, runner="separate processes",
                )  # fmt: skip
                publish_round_report(settings, deployment, admin, storage, report)
            anvil.persist()
            closed.append(c)
            on_close(c)
    return closed


def _journal_entry(journal: Any, round_id: int, timeout: float = 10.0) -> dict[str, Any] | None:
    """The aggregator's ``finalized`` entry for the round (written just after the receipt; None if it never
    comes, e.g. when the aggregator crashed in between)."""
    until = time.monotonic() + timeout
    while True:
        entry = next((e for e in journal.entries("finalized") if e["round"] == round_id), None)
        if entry is not None or time.monotonic() > until:
            return entry
        time.sleep(0.1)


def _wait_for_key(deployment: Any, processes: Sequence[PartyProcess], progress: Progress, timeout: float = 300) -> None:
    """Wait until the aggregator process registered its enclave key (hospitals encrypt to it)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        _hash, cid, _m = deployment.registry.enclaveKey()
        if cid:
            progress(f"enclave key registered by the aggregator process ({cid})")
            return
        require_alive(processes)
        time.sleep(0.5)
    raise ZkflError(f"the aggregator registered no enclave key within {timeout:.0f} s")


def format_round(c: ClosedRound) -> str:
    acc = f", global-model accuracy {c.accuracy:.2%}" if c.accuracy is not None else ""
    who = f" ({', '.join(c.participants)})" if c.participants else ""
    line = (
        f"round {c.round_id}: {c.phase}, {len(c.participants)} submissions{who}{acc}, closed in {c.wall_seconds:.1f} s"
    )
    if c.finalized:
        line += f"\n  model {c.model_cid}, finalize gas {int(c.finalized.get('gas', 0)):,}"
        for ex in c.finalized.get("excluded", []):
            line += f"\n  excluded {ex['hospital']}: {ex['reason']}"
    return line


def run_demo(
    settings: Settings, *, absent: dict[int, int], progress: Progress, show: Callable[[str], None]
) -> list[ClosedRound]:
    """``zkfl demo`` / ``make demo``."""
    closed = run_rounds(
        settings, settings.rounds, absent=absent, progress=progress, on_close=lambda c: show(format_round(c))
    )
    w = settings.workdir
    progress(f"logs: {w / 'logs'}; journals: {w / 'parties'}; keys: {w / 'keys'}; chain state: {settings.chain_state}")
    return closed
