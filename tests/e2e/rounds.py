"""Steps of a round that the end-to-end tests play by hand (to deviate from the protocol in between)."""

from __future__ import annotations

import ape

from zkfl_dapp.chain.views import read_round
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.protocol.consortium import Consortium
from zkfl_dapp.protocol.hospital import fetch_enclave_key, fetch_global_model


def open_round(c: Consortium) -> tuple[int, ModelFile, bytes]:
    """Open a round as the admin; returns its id, the checked global model and the enclave's key."""
    rm = c.deployment.round_manager
    rm.openRoundWithPolicy(ape.chain.pending_timestamp + 3600, c.settings.quorum, 0, 0, sender=c.roles.admin)
    round_id = int(rm.currentRoundId())
    info = read_round(rm, round_id)
    model = fetch_global_model(
        c.storage, c.spec, info.prev_model_commitment, info.prev_model_cid, suite=c.enclave.circuits
    )
    return round_id, model, fetch_enclave_key(c.storage, c.deployment.registry)


def submit_honestly(c: Consortium, round_id: int, model: ModelFile, key: bytes, skip: int) -> None:
    """Every hospital but ``skip`` trains, commits, encrypts and submits as the protocol says."""
    for i, h in enumerate(c.hospitals):
        if i != skip:
            h.submit(c.deployment.round_manager, h.prepare_update(round_id, model, key))
