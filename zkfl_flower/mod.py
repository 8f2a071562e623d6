"""The client mod: a Flower ``ClientApp`` trains as it always did; the mod makes it a zkFL hospital.

On a train message the mod

1. reads the round named in the message's config (:data:`~zkfl_flower.records.ROUND_KEY`) from the chain,
   fetches the round's global model from the store and checks that it opens its on-chain KZG commitment,
   and hands the ClientApp *that* model (whatever arrays the server sent are replaced);
2. lets the ClientApp train;
3. takes the trained parameters and, as zkfl_dapp's own hospital does
   (:meth:`~zkfl_dapp.protocol.hospital.HospitalClient.prepare_update`): quantizes them, pads and commits
   them, proves the norm bound where the round has one, seals the update to the enclave's registered key,
   stores the ciphertext, and submits (commitment, CID, sample count, proof) on-chain with the hospital's key;
4. removes the parameters from the reply: the plaintext update never reaches the Flower server, which
   reads the submissions from the chain (:class:`~zkfl_flower.strategy.ZkflStrategy`).

Evaluate and query messages pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from flwr.app import ConfigRecord, Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.common import MessageType
from numpy.typing import NDArray

from zkfl_dapp.attestation.policy import policy_from_settings
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.exceptions import DataError, RoundError
from zkfl_dapp.ml.model import num_params
from zkfl_dapp.ml.training import TrainingContext
from zkfl_dapp.protocol.attested_key import fetch_attested_enclave_key
from zkfl_dapp.protocol.hospital import HospitalClient
from zkfl_flower.consortium import FlowerConsortium
from zkfl_flower.records import RECEIPT_KEY, ROUND_KEY, flatten, model_record

#: Builds, for a node's context, the consortium it belongs to and the hospital it acts as.
HospitalFor = Callable[[Context], tuple[FlowerConsortium, HospitalClient]]


@dataclass(frozen=True)
class TrainedParameters:
    """An update source (:class:`~zkfl_dapp.protocol.hospital.UpdateSource`): the parameters the Flower
    ClientApp trained. An honest hospital: it refuses to prove an update beyond the round's bound."""

    params: NDArray[np.float64]
    refuses_out_of_bound: bool = True

    def local_update(self, ctx: TrainingContext) -> NDArray[np.float64]:
        return self.params


def _round_id(msg: Message, configrecord_key: str) -> int:
    config = msg.content.config_records.get(configrecord_key)
    if config is None or ROUND_KEY not in config:
        raise RoundError(
            f"the train message carries no {ROUND_KEY!r} in its {configrecord_key!r} config: the server app must "
            "use zkfl_flower.ZkflStrategy (it opens the on-chain round)"
        )
    return int(config[ROUND_KEY])  # type: ignore[arg-type]


def _num_examples(msg: Message, weighted_by_key: str) -> int:
    for record in msg.content.metric_records.values():
        if weighted_by_key in record:
            return int(record[weighted_by_key])  # type: ignore[arg-type]
    raise DataError(f"the ClientApp's train reply has no {weighted_by_key!r} metric: the sample count to declare")


def zkfl_mod(
    hospital_for: HospitalFor,
    *,
    arrayrecord_key: str = "arrays",
    configrecord_key: str = "config",
    weighted_by_key: str = "num-examples",
) -> Mod:
    """The mod for ``ClientApp(mods=[zkfl_mod(hospital_for)])``.

    ``hospital_for(context)`` gives the consortium and the node's hospital: its account and the sample count it
    declares on-chain (:meth:`FlowerConsortium.hospital`: ``num_examples``, the size of the app's own training
    data, or the bundled split's shard). The ClientApp trains whatever PyTorch model it has, on its own loaders,
    as long as the model has the deployed model's parameter count (:meth:`FlowerConsortium.check_model`). The
    keys are the strategy's (FedAvg's defaults).

    The mod raises (Flower turns it into an error reply, and nothing is submitted) when the round is not
    open, the global model does not open its commitment, the ClientApp's model is not the consortium's, its
    declared sample count is not the hospital's, or the update is beyond the round's norm bound.
    """

    def mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, context)
        round_id = _round_id(msg, configrecord_key)
        consortium, hospital = hospital_for(context)
        rm = consortium.round_manager
        info = read_round(rm, round_id)
        if info.phase != Phase.OPEN:
            raise RoundError(f"round {round_id} is {info.phase.name.lower()}, not open: not training for it")
        global_model = consortium.model_of(info.prev_model_commitment, info.prev_model_cid)
        template = msg.content.array_records.get(arrayrecord_key)
        if template is None:
            raise DataError(f"the train message has no {arrayrecord_key!r} ArrayRecord")
        msg.content[arrayrecord_key] = model_record(global_model, template)

        reply = call_next(msg, context)
        if reply.has_error():
            return reply
        trained = reply.content.array_records.get(arrayrecord_key)
        if trained is None:
            raise DataError(f"the ClientApp's train reply has no {arrayrecord_key!r} ArrayRecord")
        local = flatten(trained)
        expected = num_params(consortium.spec)
        if len(local) != expected:
            raise DataError(f"the ClientApp trained {len(local)} parameters, the consortium's model has {expected}")
        declared = _num_examples(reply, weighted_by_key)
        if declared != hospital.record_count:
            raise DataError(
                f"the ClientApp reports {declared} training examples, {hospital.name} declared "
                f"{hospital.record_count}: the sample count on-chain (the FedAvg weight, {hospital.sample_count} "
                "after coarsening) must come from the true one"
            )
        # the hospital's own attestation policy: it seals only to a key whose evidence it verified
        policy = policy_from_settings(consortium.settings, local=consortium.chain.is_local_dev)
        enclave_key, _check = fetch_attested_enclave_key(
            consortium.storage, consortium.registry, consortium.chain.chain_id, policy
        )
        update = hospital.with_source(TrainedParameters(local)).prepare_update(
            round_id, global_model, enclave_key, norm_bound_sq=info.norm_bound_sq
        )
        receipt = hospital.submit(rm, update)
        del reply.content[arrayrecord_key]  # the plaintext update never leaves the hospital
        reply.content[RECEIPT_KEY] = ConfigRecord(
            {"round-id": round_id, "cid": update.cid, "tx": str(receipt.txn_hash), "gas": int(receipt.gas_used)}
        )
        return reply

    return mod
