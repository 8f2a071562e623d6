"""zkfl_flower's pure parts: ArrayRecord <-> flat vectors, the strategy's refusals, the chain facade's decoding.
Runs in the Flower environment (see test_flower_app.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

pytest.importorskip("flwr", reason="runs in the Flower environment (.venv-flower); `make test` runs it there")

from flwr.app import Array, ArrayRecord  # noqa: E402
from flwr.serverapp.strategy import FedAdam, FedAvg, FedMedian, FedProx  # noqa: E402

from zkfl_dapp.config import Settings  # noqa: E402
from zkfl_dapp.exceptions import ConfigError, DataError  # noqa: E402
from zkfl_flower.chain import _outputs, _type_of, dev_account  # noqa: E402
from zkfl_flower.records import check_model, flatten, unflatten  # noqa: E402
from zkfl_flower.strategy import ZkflStrategy  # noqa: E402

TEMPLATE = ArrayRecord({"linear.weight": Array(np.zeros((1, 3), dtype=np.float32)), "linear.bias": Array(np.zeros(1))})


def test_unflatten_keeps_keys_and_shapes_and_is_exact() -> None:
    values = np.array([0.1, -2.5, 3.0, 1e-9])
    record = unflatten(values, TEMPLATE)
    assert list(record.keys()) == ["linear.weight", "linear.bias"]
    assert [tuple(a.shape) for a in record.values()] == [(1, 3), (1,)]
    assert np.array_equal(flatten(record), values)  # float64 throughout: no rounding


def test_unflatten_refuses_a_model_of_another_size() -> None:
    with pytest.raises(DataError, match="the Flower app's model is not the consortium's"):
        unflatten(np.zeros(5), TEMPLATE)


def test_flatten_refuses_an_empty_record_and_non_finite_values() -> None:
    with pytest.raises(DataError, match="empty"):
        flatten(ArrayRecord())
    with pytest.raises(DataError, match="NaN or inf"):
        flatten(ArrayRecord({"w": Array(np.array([1.0, np.nan]))}))


def _consortium(median: object | None) -> Any:
    return cast(Any, SimpleNamespace(settings=Settings(), circuits=SimpleNamespace(median=median)))


@pytest.mark.parametrize("inner", [FedAdam(), FedProx()])
def test_strategies_without_an_on_chain_rule_are_refused(inner: FedAvg) -> None:
    with pytest.raises(ConfigError, match="has no on-chain rule"):
        ZkflStrategy(inner, _consortium(None), admin=cast(Any, None), enclave=cast(Any, None))


def test_fedmedian_needs_the_median_circuit() -> None:
    with pytest.raises(ConfigError, match="median circuit"):
        ZkflStrategy(FedMedian(), _consortium(None), admin=cast(Any, None), enclave=cast(Any, None))
    strategy = ZkflStrategy(FedMedian(), _consortium(object()), admin=cast(Any, None), enclave=cast(Any, None))
    assert strategy.rule.name == "MEDIAN"


def test_structs_decode_with_attribute_access_like_ape() -> None:
    outputs = [
        {
            "name": "",
            "type": "tuple",
            "components": [
                {"name": "hospital", "type": "address"},
                {"name": "commitment", "type": "uint256[2]"},
                {"name": "cid", "type": "string"},
            ],
        }
    ]
    sub = _outputs(("0xabc", [1, 2], "bafk"), outputs)
    assert (sub.hospital, sub.commitment, sub.cid) == ("0xabc", [1, 2], "bafk")
    pair = _outputs((b"\x01" * 32, 7), [{"name": "hash", "type": "bytes32"}, {"name": "modelRound", "type": "uint64"}])
    h, model_round = pair
    assert (h, model_round, pair.modelRound) == (b"\x01" * 32, 7, 7)


def test_error_selectors_spell_tuples_out() -> None:
    param = {"type": "tuple[]", "components": [{"type": "uint256"}, {"type": "bytes32"}]}
    assert _type_of(param) == "(uint256,bytes32)[]"


def test_dev_accounts_are_anvils() -> None:
    # anvil's and ape's first test account of the public test mnemonic
    mnemonic = "test test test test test test test test test test test junk"
    assert dev_account(mnemonic, 0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_an_apps_own_model_needs_the_deployed_size_and_parameters_only() -> None:
    from torch import nn

    check_model(nn.Sequential(nn.Linear(30, 1)), 31)  # any architecture of the deployed size
    check_model(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 1)), 37)
    with pytest.raises(ConfigError, match="has 32 parameters .* deployed model 31"):
        check_model(nn.Linear(31, 1), 31)
    with pytest.raises(ConfigError, match="state beyond its parameters"):
        check_model(nn.Sequential(nn.BatchNorm1d(10), nn.Linear(10, 1)), 31)


def test_a_consortium_on_its_own_schema_has_no_bundled_shards_to_hand_out() -> None:
    from zkfl_dapp.ml.model import ModelSpec
    from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema
    from zkfl_flower.consortium import FlowerConsortium

    outcome = OutcomeSpec(column="y", positive=("1",), negative=("0",))
    schema = RecordSchema(features=(FeatureSpec(name="age", unit="years"),), outcome=outcome)
    none = cast(Any, None)
    c = FlowerConsortium(Settings(hospitals=2), none, none, none, none, none, none, ModelSpec(num_features=1), schema)
    with pytest.raises(ConfigError, match="deployed on its own schema"):
        c.hospital(0, dev_account(Settings().mnemonic, 2))
    assert c.hospital(0, dev_account(Settings().mnemonic, 2), num_examples=40).sample_count == 40
