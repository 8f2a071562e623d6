// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title InstanceLayout
/// @notice Where each circuit (ezkl, Halo2/KZG) puts its committed-input points and public instances. The one
/// Solidity source of these positions: RoundManager and PredictionRegistry bind proofs to on-chain state
/// through it (zkfl_dapp/circuits/layouts.py is the Python mirror, tests/contracts/test_interfaces.py checks both).
/// @dev An ezkl proof over `polycommit` inputs starts with one 64-byte KZG point (x || y, big-endian) per
/// committed input column, in input order. Instances are BN254 field elements (big-endian uint256).
///
/// Norm circuit (zkfl_dapp.circuits.kzg_chunk_norm: chunk c of n of one hospital's update u against the previous
/// aggregate's chunk S_c, with the chunk's budget b_c; a small model is one chunk), points and 9 instances:
///   point 0                    C(2^s u_c), which the contract derives from the submitted chunk point C(u_c)
///   point 1                    C(S_c), the previous aggregate's chunk c
///   point 2                    the committed [b_c, c, n, address limbs] vector (ignored: its values are the instances)
///   instances[0]               2^(2s) if rescale(||2^s u_c - S_c||^2) <= b_c, else 0 (the contract requires 2^(2s))
///   instances[1]               b_c (< NORM_RANGE; the budgets of a submission add up to at most the round's bound)
///   instances[2], [3]          c and n (= chunks())
///   instances[4 .. 8]          the prover's address in five 32-bit limbs, least significant first
///
/// Median circuit (S slots), points:
///   points 0 .. S-1            slot i: C(2^s u_i) for an included slot, C(S_prev) otherwise
///   point S                    the claimed new aggregate m (the coordinate-wise median): its commitment is stored
///   instances[0]               z = sum_j [A(A-2)(A-4) + B(B-2)(B-4)], 0 exactly when m is the median of the
///                              slots at every row (zkfl_dapp/circuits/kzg_median.py); the contract requires 0
///
/// Inference circuit (a patient's features against a finalized aggregate S), points and 6 instances:
///   point 0                    C(S): must equal the round's model commitment
///   point 1                    the committed features (hidden by random pad rows), then the [address] vector
///   instances[0]               the logit sum_j S_j x_j + S_bias at scale 2^(2s) (negative: wraps modulo p)
///   instances[1 .. 5]          the requester's address in five 32-bit limbs, least significant first
library InstanceLayout {
    /// @notice Norm circuit: number of public instances.
    uint256 internal constant NORM_COUNT = 9;
    /// @notice Norm circuit: the flag, 2^(2 scaleBits) if the chunk is within its budget, else 0.
    uint256 internal constant NORM_FLAG_INDEX = 0;
    /// @notice Norm circuit: the chunk's budget b_c.
    uint256 internal constant NORM_BUDGET_INDEX = 1;
    /// @notice Norm circuit: the chunk index c.
    uint256 internal constant NORM_CHUNK_INDEX = 2;
    /// @notice Norm circuit: the chunk count n.
    uint256 internal constant NORM_CHUNKS_INDEX = 3;
    /// @notice Norm circuit: first of the address limbs.
    uint256 internal constant NORM_ADDRESS_OFFSET = 4;
    /// @notice Address limbs (32 bits each) in the norm and inference circuits' instances.
    uint256 internal constant ADDRESS_LIMBS = 5;
    /// @notice Norm circuit: the point of the scaled update chunk 2^s u_c.
    uint256 internal constant NORM_UPDATE_POINT = 0;
    /// @notice Norm circuit: the point of the previous aggregate's chunk.
    uint256 internal constant NORM_AGGREGATE_POINT = 1;

    /// @notice Inference circuit: number of public instances.
    uint256 internal constant INFERENCE_COUNT = 6;
    /// @notice Inference circuit: the point of the committed aggregate C(S).
    uint256 internal constant INFERENCE_MODEL_POINT = 0;
    /// @notice Inference circuit: the logit.
    uint256 internal constant INFERENCE_LOGIT_INDEX = 0;
    /// @notice Inference circuit: first of the requester's address limbs.
    uint256 internal constant INFERENCE_ADDRESS_OFFSET = 1;

    /// @notice The `index`-th 64-byte committed-input point at the start of an ezkl proof (x || y, big-endian).
    /// A proof too short to hold it gives (0, 0), which is no commitment and matches none.
    function committedPoint(bytes calldata proof, uint256 index) internal pure returns (uint256[2] memory p) {
        uint256 at = 64 * index;
        if (proof.length < at + 64) return p;
        p[0] = uint256(bytes32(proof[at:at + 32]));
        p[1] = uint256(bytes32(proof[at + 32:at + 64]));
    }

    /// @notice Limb `i` (32 bits, least significant first) of `account`, as the norm and inference circuits
    /// carry the prover's address (zkfl_dapp.circuits.kzg_distance.address_limbs).
    function addressLimb(address account, uint256 i) internal pure returns (uint256) {
        return (uint256(uint160(account)) >> (32 * i)) & 0xffffffff;
    }

    /// @notice Median circuit: number of public instances.
    uint256 internal constant MEDIAN_COUNT = 1;
    /// @notice Median circuit: the certificate z, which must be 0.
    uint256 internal constant MEDIAN_CERTIFICATE_INDEX = 0;
}
