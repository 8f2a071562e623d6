"""The ServerApp: ordinary Flower code; zkFL is the wrapper around FedAvg."""

from __future__ import annotations

from flwr.app import ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from flower_app import task
from zkfl_flower import ZkflStrategy

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    run_config = dict(context.run_config)
    hospitals = task.consortium(run_config).settings.hospitals
    fedavg = FedAvg(min_train_nodes=hospitals, min_evaluate_nodes=hospitals, min_available_nodes=hospitals)
    # zkFL: rounds opened, aggregated from the chain's submissions and finalized on-chain.
    strategy = ZkflStrategy.on_dev_chain(fedavg, task.consortium(run_config))
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(task.Net().state_dict()),
        num_rounds=int(run_config.get("num-server-rounds", 2)),
        train_config=ConfigRecord({"lr": float(run_config.get("lr", 0.1))}),
    )
    task.save_result(run_config, result.arrays)
