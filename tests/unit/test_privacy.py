"""Nothing published is one hospital's figure, and no plaintext outlives its prover: the minimum shard, the
coarsened sample counts, the refusal message that names no distance, and the sweep of a killed prover's
plaintext folder at every party's start-up (docs/privacy.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODEL_SIZE, padded_update
from zkfl_dapp.circuits.proving import private_scratch, sweep_stale_scratch, write_private
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.config import Settings
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized, squared_distance
from zkfl_dapp.core.privacy import check_shard_size, declared_sample_count
from zkfl_dapp.exceptions import ConfigError, NormBoundError, ShardTooSmallError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.hospital import HospitalClient


def _shard(n: int) -> Dataset:
    rng = np.random.default_rng(n)
    return Dataset(rng.normal(size=(n, 30)).astype(np.float32), (rng.random(n) < 0.5).astype(np.float32))


def _hospital(suite: CircuitSuite, n: int, **kw: object) -> HospitalClient:
    return HospitalClient("hospital-7", None, _shard(n), ModelSpec(num_features=30), TrainConfig(), None, suite, **kw)


def test_a_hospital_with_fewer_records_than_the_minimum_refuses_to_train(suite: CircuitSuite) -> None:
    with pytest.raises(ShardTooSmallError, match="hospital-7 holds 1 record.*minimum of 10.*ZKFL_MIN_SHARD_SAMPLES"):
        _hospital(suite, 1)
    with pytest.raises(ShardTooSmallError):
        _hospital(suite, 9)
    assert _hospital(suite, 10).shard.num_samples == 10
    assert _hospital(suite, 3, min_samples=3).shard.num_samples == 3  # the consortium's setting
    with pytest.raises(ConfigError):
        check_shard_size(5, 0)


def test_the_declared_count_is_the_shard_size_rounded_down_to_the_granularity(suite: CircuitSuite) -> None:
    assert [declared_sample_count(n, 10) for n in (9, 10, 19, 91, 99, 100)] == [9, 10, 10, 90, 90, 100]
    assert declared_sample_count(91, 1) == 91
    assert _hospital(suite, 91).sample_count == 90
    assert _hospital(suite, 91, count_granularity=1).sample_count == 91
    with pytest.raises(ConfigError):
        declared_sample_count(5, 0)


def test_a_refusal_names_the_public_bound_and_never_the_updates_distance(
    suite: CircuitSuite, genesis: tuple[int, ...]
) -> None:
    """The message travels to logs, journals and round reports: the review read a refused hospital's distance
    there to four digits."""
    update = padded_update(3, genesis, step=400)
    distance = bound_from_quantized(squared_distance(update, genesis, 13, MODEL_SIZE), 13)
    hospital = _hospital(suite, 20)
    with pytest.raises(NormBoundError) as refused:
        hospital._check_provable(update, genesis, bound_sq_quantized(distance / 2, 13))
    text = str(refused.value)
    assert f"{distance / 2:.4g}" in text  # the round's bound: public
    assert f"{distance:.4g}" not in text and f"{distance:.3g}" not in text


def _killed_prover(workdir: Path) -> Path:
    """A process that writes an update's plaintext into a private scratch folder, then is SIGKILLed in ezkl's
    place: its folder stays behind."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from zkfl_dapp.circuits.proving import private_scratch, write_private
        with private_scratch(Path({str(workdir)!r})) as scratch:
            write_private(scratch / "input.json", b'{{"input_data": [[1, 2, 3]]}}')
            print(scratch, flush=True)
            time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    scratch = Path(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (scratch / "input.json").exists()
    return scratch


def test_a_killed_provers_plaintext_is_swept_and_a_running_ones_kept(tmp_path: Path) -> None:
    rounds = tmp_path / "norm-proofs" / "hospital-0-round-3"
    stale = _killed_prover(rounds)
    legacy = rounds / ".private-abc123xy"  # an older release's name: no pid
    legacy.mkdir(mode=0o700)
    store = tmp_path / "ipfs"
    (store / ".private-1-x").mkdir(parents=True)  # never walked: the content store
    with private_scratch(tmp_path / "enclave") as running:  # this process is alive: its folder is kept
        write_private(running / "input.json", b"{}")
        assert sorted(sweep_stale_scratch(tmp_path, skip=[store])) == sorted([stale, legacy])
        assert running.exists() and not stale.exists() and not legacy.exists()
    assert (store / ".private-1-x").exists()
    assert sweep_stale_scratch(tmp_path / "absent") == []


def test_every_zkfl_party_sweeps_at_start_up(tmp_path: Path) -> None:
    """`zkfl hospital|aggregator|admin|auditor` sweep the work folder before anything else (here the keyfile is
    missing, so the party stops right after)."""
    from zkfl_dapp.apps.zkfl import acting_as

    settings = Settings(workdir=tmp_path)
    stale = _killed_prover(tmp_path / "norm-proofs" / "hospital-0-round-1")
    with pytest.raises(ConfigError), acting_as("hospital-0", settings, None, None):
        pass
    assert not stale.exists()


def test_the_in_process_consortium_and_predictions_sweep_at_start_up(tmp_path: Path) -> None:
    """`ape run demo|round|attack` (through the Consortium) and `ape run predict` sweep too."""
    from types import SimpleNamespace

    from zkfl_dapp.prediction.flow import predict_for_round
    from zkfl_dapp.protocol.consortium import Consortium

    settings = Settings(workdir=tmp_path)
    stale = _killed_prover(tmp_path / "enclave" / "proofs" / "round-2")
    Consortium(settings, None, None, None, None, SimpleNamespace(spec=None), [], None)  # type: ignore[arg-type]
    assert not stale.exists()
    stale = _killed_prover(tmp_path / "predictions" / "proofs" / "round-1")
    with pytest.raises(AttributeError):  # no chain here: it stops right after the sweep
        predict_for_round(
            project=None, chain=None, round_manager=None, artifacts=None, record=None, stats=None,  # type: ignore[arg-type]
            load_aggregate=None, workdir=tmp_path / "predictions", sender=None, round_id=1,  # type: ignore[arg-type]
        )  # fmt: skip
    assert not stale.exists()
