// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title InstanceLayout
/// @notice Where each circuit (ezkl, Halo2/KZG) puts its committed-input points and public instances. The one
/// Solidity source of these positions: RoundManager and PredictionRegistry bind proofs to on-chain state
/// through it (zkfl_dapp/circuits/layouts.py is the Python mirror, tests/contracts/test_interfaces.py checks both).
/// @dev An ezkl proof over `polycommit` inputs starts with one 64-byte KZG point (x || y, big-endian) per
/// committed input column, in input order. Instances are BN254 field elements (big-endian uint256).
///
/// Norm circuit (one hospital's update u against the previous aggregate S, bound b), points and 7 instances:
///   point 0                    C(2^s u), which the contract derives from the submitted C(u)
///   point 1                    C(S_prev), the round's previous aggregate commitment
///   point 2                    the committed [b, address limbs] vector (ignored: its values are the instances)
///   instances[0]               2^(2s) if rescale(||2^s u - S||^2) <= b, else 0
///   instances[1]               b (= the round's `normBoundSq`)
///   instances[2 .. 6]          the prover's address in five 32-bit limbs, least significant first
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
    uint256 internal constant NORM_COUNT = 7;
    /// @notice Norm circuit: the flag, 2^(2 scaleBits) if the update is within the bound, else 0.
    uint256 internal constant NORM_FLAG_INDEX = 0;
    /// @notice Norm circuit: the bound b itself.
    uint256 internal constant NORM_BOUND_INDEX = 1;
    /// @notice Norm circuit: first of the address limbs.
    uint256 internal constant NORM_ADDRESS_OFFSET = 2;
    /// @notice Address limbs (32 bits each) in the norm and inference circuits' instances.
    uint256 internal constant ADDRESS_LIMBS = 5;
    /// @notice Norm circuit: the point of the scaled update 2^s u.
    uint256 internal constant NORM_UPDATE_POINT = 0;
    /// @notice Norm circuit: the point of the previous aggregate.
    uint256 internal constant NORM_AGGREGATE_POINT = 1;

    /// @notice Chunk norm proof (zkfl_dapp.circuits.kzg_chunk_norm): [ss_c, c, n, address limbs..]; points
    /// [C(2^scaleBits u_c), C(S_c), C(p)].
    uint256 internal constant CHUNK_COUNT = 8;
    uint256 internal constant CHUNK_SUM_INDEX = 0;
    uint256 internal constant CHUNK_INDEX_INDEX = 1;
    uint256 internal constant CHUNK_TOTAL_INDEX = 2;
    uint256 internal constant CHUNK_ADDRESS_OFFSET = 3;

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
    /// carry the prover's address (zkfl_dapp.circuits.kzg_norm.address_limbs).
    function addressLimb(address account, uint256 i) internal pure returns (uint256) {
        return (uint256(uint160(account)) >> (32 * i)) & 0xffffffff;
    }

    /// @notice Median circuit: number of public instances.
    uint256 internal constant MEDIAN_COUNT = 1;
    /// @notice Median circuit: the certificate z, which must be 0.
    uint256 internal constant MEDIAN_CERTIFICATE_INDEX = 0;
}
