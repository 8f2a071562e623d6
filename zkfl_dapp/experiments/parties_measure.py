"""Round wall time: every party its own process against the in-process runner, in one run.

Both run the same consortium (5 hospitals, the logistic regression, FedAvg with norm-bound proofs, the
bound policy) for ``--rounds`` rounds, each on its own new local anvil and work directory:

* separate processes (:func:`zkfl_dapp.apps.launcher.run_rounds`): the admin (this process) opens a round and
  waits until the aggregator process finalized it; the five hospital processes train and prove in parallel;
* in-process (run first; :meth:`zkfl_dapp.protocol.consortium.Consortium.run_round`): one process plays every party, the
  hospitals one after the other; its wall time also covers the report's float FedAvg baseline (5 local
  trainings) and publishing the report.

A round's wall time runs from opening it to seeing it finalized. Process start-up (about 5 s per process
on an idle machine) comes before the first round and is reported apart.

With ``--with-flower`` (needs ``make flower-env``) the same invocation then runs the Flower bench
(:mod:`zkfl_flower.bench`, in the Flower environment) with the same hospitals, data and rounds: a plain Flower
FedAvg round and the zkFL-wrapped Flower round, so all four figures come from one run on one machine state.

    python -m zkfl_dapp.experiments.parties_measure --rounds 3 [--with-flower] [--out build/parties-measure.json]

Nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from zkfl_dapp.config import REPO_ROOT, Settings


def _separate(settings: Settings, rounds: int) -> tuple[list[float], float]:
    from zkfl_dapp.apps.launcher import run_rounds
    from zkfl_dapp.apps.session import say

    started = time.perf_counter()
    closed = run_rounds(settings, rounds, progress=say)
    total = time.perf_counter() - started
    walls = [c.wall_seconds for c in closed]
    return walls, total - sum(walls)


def _in_process(settings: Settings, rounds: int) -> tuple[list[float], float]:
    from zkfl_dapp.apps.process import clear_workdir, workdir_lock
    from zkfl_dapp.apps.session import session

    started = time.perf_counter()
    walls = []
    with workdir_lock(settings.workdir):
        clear_workdir(settings.workdir)
        with session(settings, None) as s:
            consortium = s.bootstrap()
            for _ in range(rounds):
                t0 = time.perf_counter()
                consortium.run_round()
                walls.append(time.perf_counter() - t0)
    return walls, time.perf_counter() - started - sum(walls)


def _flower(hospitals: int, rounds: int, anvil_port: int) -> dict[str, object]:
    """The Flower bench in the Flower environment (plain FedAvg and zkFL rounds, same data), its JSON."""
    python = REPO_ROOT / ".venv-flower" / "bin" / "python"
    if not python.exists():
        raise SystemExit("--with-flower needs the Flower environment: run `make flower-env` first")
    with tempfile.TemporaryDirectory(prefix="zkfl-parties-flower-") as tmp:
        out = Path(tmp) / "flower.json"
        args = ["--hospitals", str(hospitals), "--rounds", str(rounds), "--anvil-port", str(anvil_port)]
        env = {**os.environ, "FLWR_TELEMETRY_ENABLED": "0"}
        subprocess.run([str(python), "-m", "zkfl_flower.bench", *args, "--json", str(out)], check=True, env=env)
        loaded: dict[str, object] = json.loads(out.read_text())
        return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "build" / "parties-measure")
    parser.add_argument("--anvil-port", type=int, default=8571)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--with-flower", action="store_true", help="also plain and zkFL Flower rounds")
    args = parser.parse_args(argv)
    separate = Settings(workdir=args.workdir / "separate", anvil_port=args.anvil_port)
    inproc = Settings(workdir=args.workdir / "in-process", anvil_port=args.anvil_port + 1)
    in_walls, in_setup = _in_process(inproc, args.rounds)
    sep_walls, sep_setup = _separate(separate, args.rounds)
    load = os.getloadavg()[0]
    result = {
        "hospitals": separate.hospitals,
        "model": separate.model,
        "rounds": args.rounds,
        "separate_processes": {"round_wall_s": [round(w, 2) for w in sep_walls], "setup_s": round(sep_setup, 1)},
        "in_process": {"round_wall_s": [round(w, 2) for w in in_walls], "setup_s": round(in_setup, 1)},
        "median_round_wall_s": {
            "separate_processes": round(statistics.median(sep_walls), 2),
            "in_process": round(statistics.median(in_walls), 2),
        },
        # the first round of each hospital process also pays its first torch/ezkl use
        "median_after_first_round_s": {
            "separate_processes": round(statistics.median(sep_walls[1:] or sep_walls), 2),
            "in_process": round(statistics.median(in_walls[1:] or in_walls), 2),
        },
        "cpu_cores": os.cpu_count(),
        "load_average_1min_at_end": round(load, 1),
    }
    if args.with_flower:
        result["flower"] = _flower(separate.hospitals, args.rounds, args.anvil_port + 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
