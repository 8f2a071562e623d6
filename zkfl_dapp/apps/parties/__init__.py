"""Each party as its own process: the hospital agent, the aggregator (enclave) service, the admin's actions
and the auditor's follow mode. They share nothing but the chain and the content store.

* :class:`HospitalAgent` polls the chain; for each open round it has not submitted to (chain state, so a
  restarted agent resumes where the chain says it is) it fetches and checks the global model, trains on its
  own records, commits, seals to the registered enclave key, proves its norm bound and submits; it records
  ``sent`` in its journal only after the receipt. A round it cannot serve is skipped with a reason (journal
  ``skipped``); a transient problem (no enclave key yet, the store unreachable) is retried.
* :class:`AggregatorService` polls the chain; when a round is finalizable (every member submitted, or the
  deadline passed with a quorum) the enclave opens, checks, aggregates and finalizes it. Idempotent: a round
  found finalized (a crash after the transaction) is only recorded; re-publishing the model file is harmless
  (content addressed). At start it registers its ML-KEM key unless the chain already holds it.
* :func:`deploy`, :func:`open_round`, :func:`abort_round`: the admin's actions.
* :class:`AuditFollower`: audits each round as it closes.
"""

from zkfl_dapp.apps.journal import journal_for, party_dir
from zkfl_dapp.apps.parties.admin import abort_round, admit, deploy, open_round, policy_of, remove, warp_past_deadline
from zkfl_dapp.apps.parties.aggregator_service import AggregatorService, aggregator_service, enclave_key_pair
from zkfl_dapp.apps.parties.audit_follower import AuditFollower
from zkfl_dapp.apps.parties.context import (
    CLOSED,
    Connection,
    Progress,
    chain_reachable,
    check_basis,
    connect,
    consortium_circuits,
    hospital_dataset,
    poll,
    poll_chain,
    train_config,
)
from zkfl_dapp.apps.parties.durability import Durability
from zkfl_dapp.apps.parties.hospital_agent import HospitalAgent, Skip, hospital_agent

__all__ = [
    "CLOSED",
    "AggregatorService",
    "AuditFollower",
    "Connection",
    "Durability",
    "HospitalAgent",
    "Progress",
    "Skip",
    "abort_round",
    "admit",
    "aggregator_service",
    "chain_reachable",
    "check_basis",
    "connect",
    "consortium_circuits",
    "deploy",
    "enclave_key_pair",
    "hospital_agent",
    "hospital_dataset",
    "journal_for",
    "open_round",
    "party_dir",
    "policy_of",
    "poll",
    "poll_chain",
    "remove",
    "train_config",
    "warp_past_deadline",
]
