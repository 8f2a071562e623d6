"""The ClientApp: ordinary Flower code; zkFL is the one mod in ``ClientApp(mods=[...])``."""

from __future__ import annotations

from typing import cast

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from flower_app import task
from zkfl_flower import zkfl_mod

# zkFL: train from the chain's verified model; commit, prove, seal and submit the update on-chain.
app = ClientApp(mods=[zkfl_mod(task.hospital_for)])


@app.train()
def train(msg: Message, context: Context) -> Message:
    run_config = dict(context.run_config)
    model = task.build_model(run_config)
    model.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
    shard, _test = task.load_data(run_config, int(context.node_config["partition-id"]))
    loss = task.train(
        model,
        shard,
        epochs=int(run_config.get("local-epochs", 5)),
        lr=float(run_config.get("lr", 0.1)),
        batch_size=int(run_config.get("batch-size", 32)),
        seed=int(cast(int, msg.content.config_records["config"]["server-round"])),
    )
    metrics = MetricRecord({"train-loss": loss, "num-examples": shard.num_samples})
    return Message(RecordDict({"arrays": ArrayRecord(model.state_dict()), "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    run_config = dict(context.run_config)
    model = task.build_model(run_config)
    model.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
    _shard, test = task.load_data(run_config, int(context.node_config["partition-id"]))
    loss, acc = task.evaluate(model, test)
    metrics = MetricRecord({"eval-loss": loss, "eval-acc": acc, "num-examples": test.num_samples})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
