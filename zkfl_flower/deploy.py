"""Flower's deployment engine for a zkFL app from this checkout: a SuperLink, SuperNodes and ``flwr run``, each a
separate process, started so that it works as documented and fails with a nonzero exit.

    python -m zkfl_flower.deploy superlink --port 9093 --insecure
    python -m zkfl_flower.deploy supernode --superlink 127.0.0.1:9093 --port 9094 --partition 0 --partitions 2 \
        --insecure
    python -m zkfl_flower.deploy run examples/flower-app --superlink 127.0.0.1:9093 --insecure \
        --run-config num-server-rounds=1

Why not the bare commands (flwr 1.42):

* ``flower-superlink`` and ``flower-supernode`` start their executor ``flower-superexec`` from ``PATH``: the bare
  ``.venv-flower/bin/flower-superlink`` dies with ``FileNotFoundError: ... 'flower-superexec'`` unless
  ``.venv-flower/bin`` is on ``PATH``. Here this interpreter's ``bin`` comes first on ``PATH``, this checkout first
  on ``PYTHONPATH`` (the apps import zkfl_flower and zkfl_dapp), runtime dependency installation is off (it
  would fetch the app's dependencies from the registry) and telemetry too. Other options pass through.
* ``flwr run`` returns once the run is submitted, whatever then happens to it, and with ``--format json`` exits 0
  even when it cannot reach the SuperLink ("Connection to the SuperLink is unavailable"). ``run`` fails on
  anything but a submitted run, follows it (``flwr list --run-id``) until it finishes, prints its log
  (``flwr log``) and exits 0 only for ``finished:completed``: 1 for an unreachable SuperLink, a refused, failed
  or stopped run; 2 when ``--timeout`` passes (the run is stopped).
* ``flwr run`` names its SuperLink by a connection in ``$FLWR_HOME/config.toml``: ``run`` writes one (``zkfl``:
  the ``--superlink`` address) into its own Flower home, ``<ZKFL_WORKDIR>/flwr-home`` unless ``--flwr-home``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zkfl_dapp.config import REPO_ROOT, Settings

CONNECTION = "zkfl"
#: Exit status of ``run``: the run did not complete; the run was still going at ``--timeout``.
FAILED, TIMED_OUT = 1, 2


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with this interpreter's ``bin`` first on ``PATH``, this
    checkout first on ``PYTHONPATH`` and Flower's telemetry off."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    return env


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        raise SystemExit(f"no {name} beside {sys.executable}: run this with the Flower environment's python")
    return str(path)


def superlink_command(port: int, extra: list[str]) -> list[str]:
    """``flower-superlink`` on loopback ``port`` (Fleet, Control and Runtime APIs), ServerApps in subprocesses."""
    return [_tool("flower-superlink"), "--isolation", "subprocess", "--disable-runtime-dependency-installation",
            "--port", str(port), *extra]  # fmt: skip


def supernode_command(superlink: str, port: int, partition: int, partitions: int, extra: list[str]) -> list[str]:
    """``flower-supernode`` for partition ``partition`` of ``partitions`` (its ``node-config``), ClientApps in
    subprocesses, its own Runtime API on loopback ``port``."""
    config = f"partition-id={partition} num-partitions={partitions}"
    return [_tool("flower-supernode"), "--superlink", superlink, "--port", str(port), "--node-config", config, *extra]


def write_connection(flwr_home: Path, address: str, *, insecure: bool) -> Path:
    """``flwr_home/config.toml`` naming the SuperLink at ``address`` as the connection ``zkfl`` (the default)."""
    flwr_home.mkdir(parents=True, exist_ok=True)
    path = flwr_home / "config.toml"
    text = f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\naddress = "{address}"\n'
    path.write_text(text + ("insecure = true\n" if insecure else ""))
    return path


def _flwr_json(args: list[str], env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    done = subprocess.run([_tool("flwr"), *args, "--format", "json"], env=env, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    start = done.stdout.find("{")
    try:
        data: dict[str, Any] = json.loads(done.stdout[start:]) if start >= 0 else {}
    except json.JSONDecodeError:
        data = {}
    if done.returncode != 0 or not data.get("success"):
        message = str(data.get("error-message") or done.stderr or done.stdout).strip()
        raise RunFailed(f"flwr {args[0]} failed (exit {done.returncode}): {message}")
    return data


class RunFailed(Exception):
    """The run could not be submitted or followed, or it did not complete."""


def run_app(
    app: Path, superlink: str, *, run_config: list[str], flwr_home: Path, insecure: bool, timeout: float,
    poll: float = 5.0, say: Any = print,
) -> str:  # fmt: skip
    """Submit the app to the SuperLink at ``superlink``, follow it to the end, print its log; returns its final
    status (``finished:completed`` ...).

    Raises:
        RunFailed: unreachable SuperLink, refused submission, a SuperLink that stops answering.
        TimeoutError: still running after ``timeout`` seconds (it is stopped).
    """
    env = environment()
    env["FLWR_HOME"] = str(flwr_home)
    write_connection(flwr_home, superlink, insecure=insecure)
    configs = [a for rc in run_config for a in ("--run-config", rc)]
    submitted = _flwr_json(["run", str(app), CONNECTION, *configs], env)
    run_id = str(submitted["run-id"])
    say(f"run {run_id} submitted to the SuperLink at {superlink}; following it")
    until = time.monotonic() + timeout
    status = ""
    while time.monotonic() < until:
        listed = _flwr_json(["list", "--run-id", run_id, CONNECTION], env)
        run = listed["runs"][0]
        status = str(run["status"])
        if status.startswith("finished"):
            break
        time.sleep(poll)
    else:
        subprocess.run([_tool("flwr"), "stop", run_id, CONNECTION], env=env, capture_output=True, timeout=120)
        raise TimeoutError(f"run {run_id} still {status or 'pending'} after {timeout:.0f} s: stopped")
    log = subprocess.run([_tool("flwr"), "log", run_id, CONNECTION, "--show"], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    say(log.stdout.rstrip())
    details = run.get("status-details")
    say(f"run {run_id}: {status}" + (f" ({details})" if details and details != "N/A" else ""))
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zkfl_flower.deploy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_link = sub.add_parser("superlink", help="run a SuperLink (other options go to flower-superlink)")
    p_link.add_argument("--port", type=int, default=9093)
    p_node = sub.add_parser("supernode", help="run a SuperNode (other options go to flower-supernode)")
    p_node.add_argument("--superlink", required=True, help="the SuperLink's host:port")
    p_node.add_argument("--port", type=int, required=True, help="this SuperNode's Runtime API port")
    p_node.add_argument("--partition", type=int, required=True)
    p_node.add_argument("--partitions", type=int, required=True)
    p_run = sub.add_parser("run", help="submit an app, follow it to the end; exit 0 only if it completed")
    p_run.add_argument("app", type=Path)
    p_run.add_argument("--superlink", required=True, help="the SuperLink's host:port")
    p_run.add_argument("--insecure", action="store_true", help="no TLS (a SuperLink started with --insecure)")
    p_run.add_argument("--run-config", action="append", default=[], help="as flwr run's (repeatable)")
    p_run.add_argument("--flwr-home", type=Path, default=None, help="default: <ZKFL_WORKDIR>/flwr-home")
    p_run.add_argument("--timeout", type=float, default=1800.0, help="seconds (default 1800)")
    args, extra = parser.parse_known_args(argv)
    if args.command == "run":
        if extra:
            parser.error(f"unknown options for run: {' '.join(extra)}")
        home = args.flwr_home or Settings().workdir / "flwr-home"
        try:
            status = run_app(args.app, args.superlink, run_config=args.run_config, flwr_home=home.resolve(),
                             insecure=args.insecure, timeout=args.timeout)  # fmt: skip
        except RunFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return FAILED
        except TimeoutError as exc:
            print(f"TIMED OUT: {exc}", file=sys.stderr)
            return TIMED_OUT
        return 0 if status == "finished:completed" else FAILED
    if args.command == "superlink":
        cmd = superlink_command(args.port, extra)
    else:
        cmd = supernode_command(args.superlink, args.port, args.partition, args.partitions, extra)
    os.execve(cmd[0], cmd, environment())  # this process becomes the SuperLink / SuperNode (signals reach it)


if __name__ == "__main__":
    raise SystemExit(main())
