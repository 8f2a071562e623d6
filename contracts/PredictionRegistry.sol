// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";
import {IPredictionRegistry} from "./interfaces/IPredictionRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {InstanceLayout} from "./libraries/InstanceLayout.sol";
import {VerifierCalls} from "./libraries/VerifierCalls.sol";

/// @title PredictionRegistry
/// @notice Accepts an inference proof only if it verifies and was made with the global model of the named
/// finalized round; records a receipt (round, risk, proof hash) as an event. Permissionless.
contract PredictionRegistry is IPredictionRegistry {
    using VerifierCalls for IHalo2Verifier;

    /// @inheritdoc IPredictionRegistry
    uint256 public constant RISK_SCALE_BITS = 13;

    /// @inheritdoc IPredictionRegistry
    IRoundManager public immutable roundManager;
    /// @inheritdoc IPredictionRegistry
    IHalo2Verifier public immutable inferenceVerifier;
    /// @inheritdoc IPredictionRegistry
    uint256 public immutable modelSize;

    mapping(bytes32 proofHash => bool) private _recorded;

    constructor(IRoundManager roundManager_, IHalo2Verifier inferenceVerifier_) {
        roundManager = roundManager_;
        inferenceVerifier = inferenceVerifier_;
        modelSize = roundManager_.modelSize();
    }

    /// @inheritdoc IPredictionRegistry
    function recordPrediction(uint256 roundId, bytes calldata proof, uint256[] calldata instances)
        external
        returns (uint256 risk)
    {
        uint256 d = modelSize;
        uint256 expectedLength = InstanceLayout.inferenceCount(d);
        if (instances.length != expectedLength) {
            revert PredictionRegistryWrongInstanceCount(expectedLength, instances.length);
        }
        IRoundManager.RoundInfo memory info = roundManager.getRound(roundId);
        if (info.phase != IRoundManager.Phase.Finalized) {
            revert PredictionRegistryRoundNotFinalized(roundId, info.phase);
        }
        uint256 actual = InstanceLayout.modelCommitment(instances, InstanceLayout.INFERENCE_MODEL_OFFSET, d);
        if (actual != info.newModelCommitment) {
            revert PredictionRegistryModelMismatch(roundId, info.newModelCommitment, actual);
        }
        bytes32 proofHash = keccak256(proof);
        if (_recorded[proofHash]) revert PredictionRegistryProofAlreadyRecorded(proofHash);
        if (!inferenceVerifier.accepts(proof, instances)) revert PredictionRegistryProofRejected(roundId);

        _recorded[proofHash] = true;
        risk = instances[InstanceLayout.INFERENCE_RISK_INDEX];
        emit PredictionRecorded(roundId, msg.sender, risk, proofHash);
    }

    /// @inheritdoc IPredictionRegistry
    function isRecorded(bytes32 proofHash) external view returns (bool) {
        return _recorded[proofHash];
    }
}
