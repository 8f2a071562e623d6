"""The commitments that the proofs and the contracts expose, computed from quantized integers.

* :func:`poseidon_commitment`: ezkl's Poseidon hash of the vector, bit for bit the hashed public
  instance of the aggregation proof. Hospitals submit it for their updates.
* :func:`model_commitment`: keccak256 over the field elements as 32-byte big-endian words: what the
  RoundManager computes from the proof's public output for each new global model.

Neither hash is salted: an attacker who can enumerate a low-entropy vector can confirm a guess.
Model updates are high-entropy real vectors, but see README ("Trust model") before committing to
anything small.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import keccak

from zkfl_dapp.core.fixedpoint import felt_from_hex, felt_hex, to_field
from zkfl_dapp.exceptions import QuantizationError


def poseidon_commitment(values: Sequence[int]) -> int:
    """ezkl's Poseidon hash of a quantized vector, as the uint256 a contract sees."""
    import ezkl  # the prover's own hash; imported on first use so that the core stays light

    digest = ezkl.poseidon_hash([felt_hex(v) for v in values])
    if len(digest) != 1:
        raise QuantizationError(f"expected one Poseidon digest, got {len(digest)}")
    return felt_from_hex(digest[0])


def model_commitment(values: Sequence[int]) -> int:
    """keccak256 over the 32-byte big-endian field elements, as RoundManager computes it."""
    packed = b"".join(to_field(v).to_bytes(32, "big") for v in values)
    return int.from_bytes(keccak(packed), "big")

