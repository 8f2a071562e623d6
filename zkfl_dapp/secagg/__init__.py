"""Secure aggregation over committed updates (issue 19): no party sees one hospital's update, only the sum.

Masked inputs ``y_i = n_i u_i + m_i`` live in the BN254 scalar field, the field of the KZG commitments, so the
unmasked sum ``S = sum n_i u_i`` is exact and opens the commitment the chain derives from the hospitals' own
``C(u_i)``. The masks are SecAgg's (Bell et al., CCS 2020): a self mask per hospital plus pairwise masks that
cancel, the pairwise secrets from ML-KEM-768 encapsulations, every seed Shamir-shared t-of-n to the other members.
The chain (``contracts/SecAggCoordinator.sol``) is the one view of who set up, who submitted and who revealed what.

- :mod:`.field`: exact field vectors and mask expansion (SHAKE-256, wide reduction);
- :mod:`.shares`: pycryptodome's Shamir over 32-byte seeds, with published share digests;
- :mod:`.pairwise`: the pair secrets (deterministic ML-KEM encapsulation by the lower address);
- :mod:`.bundle`: a hospital's setup bundle (commitments, KEM ciphertexts, encrypted shares);
- :mod:`.masking`: a hospital's masked input; :mod:`.unmask`: the reveal rule and the exact sum;
- :mod:`.attribution`: who is at fault, from public data; :mod:`.statistics`: masked standardisation sums.

The protocol, its security argument and its costs are in docs/secagg.md. Importing this package loads neither
ezkl nor ape: the modules that need a commitment (bundle, masking, unmask, attribution) load ezkl when imported.
"""

from zkfl_dapp.secagg.field import FIELD_MODULUS, decode, encode, expand
from zkfl_dapp.secagg.shares import Share, combine_shares, split_secret

__all__ = ["FIELD_MODULUS", "Share", "combine_shares", "decode", "encode", "expand", "split_secret"]
