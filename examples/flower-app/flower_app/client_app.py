"""The ClientApp: ordinary Flower code on the app's own model and loaders; zkFL is the one mod in
``ClientApp(mods=[...])``."""

from __future__ import annotations

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from flower_app import task
from zkfl_flower import zkfl_mod

# zkFL: train from the chain's verified model; commit, prove, seal and submit the update on-chain.
app = ClientApp(mods=[zkfl_mod(task.hospital_for)])


@app.train()
def train(msg: Message, context: Context) -> Message:
    run_config = dict(context.run_config)
    net = task.Net()
    net.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
    partition_id, num_partitions = int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])
    trainloader, _ = task.load_data(partition_id, num_partitions, int(run_config.get("batch-size", 32)))
    loss = task.train(
        net, trainloader, epochs=int(run_config.get("local-epochs", 5)), lr=float(run_config.get("lr", 0.1))
    )
    metrics = MetricRecord({"train-loss": loss, "num-examples": len(trainloader.dataset)})  # type: ignore[arg-type]
    return Message(RecordDict({"arrays": ArrayRecord(net.state_dict()), "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    net = task.Net()
    net.load_state_dict(msg.content.array_records["arrays"].to_torch_state_dict())
    partition_id, num_partitions = int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])
    _, testloader = task.load_data(partition_id, num_partitions)
    loss, acc = task.test(net, testloader)
    metrics = MetricRecord({"eval-loss": loss, "eval-acc": acc, "num-examples": len(testloader.dataset)})  # type: ignore[arg-type]
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
