"""Re-verification of the proofs a round's chain state rests on, from the chain and the content store alone.

* ``norm proofs`` (a round with a norm bound): every submission's norm claim, one proof per chunk (a small
  model is one chunk), re-verified and bound to it: :mod:`.chunk_proof_checks`;
* ``median proof`` (a median round, one-chunk deployments only): the proof file under the ``RoundFinalized``
  CID hashes (keccak) to the round's ``proofHash``, holds the proof and instances of the
  ``finalizeMedianRound`` calldata, verifies with the median circuit's published files, and its slot points
  are ``C(2^13 u_i)`` of the included slots' commitments (the previous model's commitment for the others),
  its point ``slots`` the new model's. Without a median circuit in the manifest the check is not applicable:
  :mod:`.median_proof_checks`. What they share (calldata, proof files, points): :mod:`.proof_evidence`.
"""

from __future__ import annotations

from zkfl_dapp.audit.chunk_proof_checks import ChunkProofChecks
from zkfl_dapp.audit.median_proof_checks import MedianProofChecks
from zkfl_dapp.audit.report import RoundAudit
from zkfl_dapp.chain.views import Commitment


class ProofChecks(ChunkProofChecks, MedianProofChecks):
    """Norm proofs (one per update, or one per chunk) of a bounded round and the median proof of a median round."""

    def _norm_proofs(self, ra: RoundAudit, prev: Commitment) -> None:
        """Every submission's norm claim (``faultedSlots``: the slots a challenge excluded)."""
        ra.checks["norm proofs"] = True
        faulted = int(self.rm.faultedSlots(ra.round_id))
        for sub in list(ra.submissions):
            self._claim_proofs(ra, sub, prev, bool((faulted >> sub.slot) & 1))
