// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title InstanceLayout
/// @notice Where each circuit (ezkl, Halo2/KZG) puts its public instances, as functions of the number of
/// update slots S and of the number of model parameters d. The one Solidity source of these offsets:
/// RoundManager and PredictionRegistry bind proofs to on-chain state through it.
/// @dev Every instance is a BN254 field element (big-endian uint256). Models are quantized fixed point,
/// value = round(x * 2^scaleBits); a model's on-chain commitment is keccak256 over its d instances
/// (see `modelCommitment`).
///
/// Aggregation (FedAvg) circuit, 2S + 1 + d instances:
///   instances[0 .. S-1]        Poseidon hash of slot i's quantized update (= the hospital's commitment)
///   instances[S]               Poseidon hash of the weight vector (bound to the public weights below)
///   instances[S+1 .. S+d]      the new global model
///   instances[S+1+d .. 2S+d]   the weights w_i = round(n_i * 2^scaleBits / sum(n)) of included slots, 0 otherwise
///
/// Median circuit (the poisoning-resistant rule; a slot without an included update carries the previous model g),
/// S + 1 + 2d instances:
///   instances[0 .. S-1]        Poseidon hash of slot i's update, or of g for an empty or excluded slot
///   instances[S]               Poseidon hash of g
///   instances[S+1 .. S+d]      the new global model: the coordinate-wise median of the S slots
///   instances[S+1+d .. S+2d]   g, whose keccak256 must equal the round's previous-model commitment
///
/// Norm circuit (one hospital's update u against the previous model g and a bound b), 5 + d instances:
///   instances[0]               Poseidon hash of u (= the submitted commitment)
///   instances[1], [2]          Poseidon hashes of g and of b
///   instances[3]               2^scaleBits if sum_j rescale((u_j - g_j)^2) <= b, else 0
///   instances[4]               b (= the round's `normBoundSq`)
///   instances[5 .. 4+d]        g, whose keccak256 must equal the round's previous-model commitment
///
/// Inference circuit (logistic regression; the patient's features are private inputs), 1 + d instances:
///   instances[0]               the risk: round(P(y = 1) * 2^13), probability = risk / 8192
///   instances[1 .. d]          the global model (the flat logreg layout [w_0 .. w_{d-2}, b])
library InstanceLayout {
    /// @notice Norm circuit: Poseidon hash of the update (the submitted commitment).
    uint256 internal constant NORM_COMMITMENT_INDEX = 0;
    /// @notice Norm circuit: the flag, 2^scaleBits if the update is within the bound, else 0.
    uint256 internal constant NORM_FLAG_INDEX = 3;
    /// @notice Norm circuit: the bound b itself.
    uint256 internal constant NORM_BOUND_INDEX = 4;
    /// @notice Norm circuit: first of the d previous-model instances.
    uint256 internal constant NORM_PREVIOUS_MODEL_OFFSET = 5;

    /// @notice Inference circuit: the proven risk.
    uint256 internal constant INFERENCE_RISK_INDEX = 0;
    /// @notice Inference circuit: first of the d model instances.
    uint256 internal constant INFERENCE_MODEL_OFFSET = 1;

    // --- aggregation (FedAvg) ------------------------------------------------------------------

    /// @notice Number of instances of the aggregation circuit.
    function aggregationCount(uint256 slots, uint256 modelSize) internal pure returns (uint256) {
        return 2 * slots + 1 + modelSize;
    }

    /// @notice Index of the first of the d new-model instances (aggregation and median circuits).
    function newModelOffset(uint256 slots) internal pure returns (uint256) {
        return slots + 1;
    }

    /// @notice Index of the first of the S public weights of the aggregation circuit.
    function weightsOffset(uint256 slots, uint256 modelSize) internal pure returns (uint256) {
        return slots + 1 + modelSize;
    }

    // --- median --------------------------------------------------------------------------------

    /// @notice Number of instances of the median circuit.
    function medianCount(uint256 slots, uint256 modelSize) internal pure returns (uint256) {
        return slots + 1 + 2 * modelSize;
    }

    /// @notice Index of the Poseidon hash of the previous model g in the median circuit.
    function medianPreviousModelHashIndex(uint256 slots) internal pure returns (uint256) {
        return slots;
    }

    /// @notice Index of the first of the d previous-model instances of the median circuit.
    function medianPreviousModelOffset(uint256 slots, uint256 modelSize) internal pure returns (uint256) {
        return slots + 1 + modelSize;
    }

    // --- norm and inference --------------------------------------------------------------------

    /// @notice Number of instances of the norm circuit.
    function normCount(uint256 modelSize) internal pure returns (uint256) {
        return NORM_PREVIOUS_MODEL_OFFSET + modelSize;
    }

    /// @notice Number of instances of the inference circuit.
    function inferenceCount(uint256 modelSize) internal pure returns (uint256) {
        return INFERENCE_MODEL_OFFSET + modelSize;
    }

    // --- models --------------------------------------------------------------------------------

    /// @notice The on-chain commitment of the d-parameter model at `instances[offset .. offset + d - 1]`:
    /// uint256(keccak256(abi.encodePacked(those instances))).
    function modelCommitment(uint256[] calldata instances, uint256 offset, uint256 modelSize)
        internal
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encodePacked(instances[offset:offset + modelSize])));
    }
}
