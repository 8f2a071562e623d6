// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier} from "./IHalo2Verifier.sol";
import {IRoundManager} from "./IRoundManager.sol";

/// @title IPredictionRegistry
/// @notice Records risk predictions proven (ezkl, Halo2/KZG) to come from the global model of a finalized
/// round, without revealing the patient's features.
/// @dev An inference proof's public instances are the risk followed by the d = `modelSize()` parameters of the
/// model it ran (layout: contracts/libraries/InstanceLayout.sol); the patient's features are private inputs of
/// the circuit. The proof is bound to round `roundId` by requiring keccak256 over its d model instances
/// (InstanceLayout.modelCommitment) == getRound(roundId).newModelCommitment, the commitment RoundManager
/// computed the same way from the aggregation proof when it finalized the round.
interface IPredictionRegistry {
    /// @notice The proof carries the wrong number of public instances (expected 1 + modelSize).
    error PredictionRegistryWrongInstanceCount(uint256 expected, uint256 actual);
    /// @notice The named round is not finalized, so it has no proven global model.
    error PredictionRegistryRoundNotFinalized(uint256 roundId, IRoundManager.Phase phase);
    /// @notice The proof was made with another model than the named round's global model.
    error PredictionRegistryModelMismatch(uint256 roundId, uint256 expected, uint256 actual);
    /// @notice The inference verifier rejected the proof (for example: a changed risk or a tampered proof).
    error PredictionRegistryProofRejected(uint256 roundId);
    /// @notice This exact proof was recorded before.
    error PredictionRegistryProofAlreadyRecorded(bytes32 proofHash);

    /// @notice A verified prediction receipt: the risk that round `roundId`'s global model gives a patient
    /// whose features only the requester knows. `proofHash` = keccak256 of the proof bytes.
    event PredictionRecorded(uint256 indexed roundId, address indexed requester, uint256 risk, bytes32 proofHash);

    /// @notice Verify an inference proof against round `roundId`'s finalized global model and record it.
    /// Anyone may call (a patient's app need not be a consortium member). Reverts with a typed error unless
    /// the instance count fits, the round is finalized, the proof's model is the round's model, the verifier
    /// accepts the proof and this proof was not recorded before.
    /// @return risk the proven risk, round(P(y = 1) * 2^13) (probability = risk / 8192)
    function recordPrediction(uint256 roundId, bytes calldata proof, uint256[] calldata instances)
        external
        returns (uint256 risk);

    /// @notice Whether a proof with this keccak256 hash was recorded.
    function isRecorded(bytes32 proofHash) external view returns (bool);

    /// @notice Fixed-point scale of the risk: probability = risk / 2^RISK_SCALE_BITS.
    function RISK_SCALE_BITS() external view returns (uint256);

    /// @notice The round manager whose finalized models predictions must come from.
    function roundManager() external view returns (IRoundManager);

    /// @notice The generated inference circuit's verifier (contracts/generated/InferenceVerifier.sol).
    function inferenceVerifier() external view returns (IHalo2Verifier);

    /// @notice Number of model parameters d, read from the round manager at deployment.
    function modelSize() external view returns (uint256);
}
