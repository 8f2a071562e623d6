// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";
import {IPredictionRegistry} from "./interfaces/IPredictionRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {InstanceLayout} from "./libraries/InstanceLayout.sol";
import {VerifierCalls} from "./libraries/VerifierCalls.sol";

/// @title PredictionRegistry
/// @notice Accepts an inference proof only if it verifies, was made with the committed global model of the
/// named finalized round and names the caller as requester; records a receipt (round, logit, proof hash) as an
/// event. Permissionless.
contract PredictionRegistry is IPredictionRegistry {
    using VerifierCalls for IHalo2Verifier;

    uint256 private constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @inheritdoc IPredictionRegistry
    uint256 public immutable LOGIT_SCALE_BITS;
    /// @inheritdoc IPredictionRegistry
    IRoundManager public immutable roundManager;
    /// @inheritdoc IPredictionRegistry
    IHalo2Verifier public immutable inferenceVerifier;

    mapping(bytes32 proofHash => bool) private _recorded;

    constructor(IRoundManager roundManager_, IHalo2Verifier inferenceVerifier_) {
        roundManager = roundManager_;
        inferenceVerifier = inferenceVerifier_;
        LOGIT_SCALE_BITS = 2 * roundManager_.scaleBits();
    }

    /// @inheritdoc IPredictionRegistry
    function recordPrediction(uint256 roundId, bytes calldata proof, uint256[] calldata instances)
        external
        returns (int256 logit)
    {
        uint256 expectedLength = InstanceLayout.INFERENCE_COUNT;
        if (instances.length != expectedLength) {
            revert PredictionRegistryWrongInstanceCount(expectedLength, instances.length);
        }
        IRoundManager.Phase phase = roundManager.getRound(roundId).phase;
        if (phase != IRoundManager.Phase.Finalized) revert PredictionRegistryRoundNotFinalized(roundId, phase);
        bytes32 model = roundManager.modelOf(roundId);
        uint256[2] memory point = InstanceLayout.committedPoint(proof, InstanceLayout.INFERENCE_MODEL_POINT);
        bytes32 actual = keccak256(abi.encode(point[0], point[1]));
        if (actual != model) revert PredictionRegistryModelMismatch(roundId, model, actual);
        for (uint256 i = 0; i < InstanceLayout.ADDRESS_LIMBS; i++) {
            uint256 j = InstanceLayout.INFERENCE_ADDRESS_OFFSET + i;
            uint256 limb = InstanceLayout.addressLimb(msg.sender, i);
            if (instances[j] != limb) revert PredictionRegistryRequesterMismatch(j, limb, instances[j]);
        }
        bytes32 proofHash = keccak256(proof);
        if (_recorded[proofHash]) revert PredictionRegistryProofAlreadyRecorded(proofHash);
        if (!inferenceVerifier.accepts(proof, instances, PredictionRegistryVerifierOutOfGas.selector)) revert PredictionRegistryProofRejected(roundId);

        // slither-disable-next-line reentrancy-no-eth -- the only external call is the immutable inference verifier
        _recorded[proofHash] = true;
        uint256 v = instances[InstanceLayout.INFERENCE_LOGIT_INDEX];
        // a field element above (p - 1) / 2 stands for the negative value v - p
        logit = v > FIELD_MODULUS / 2 ? -int256(FIELD_MODULUS - v) : int256(v);
        emit PredictionRecorded(roundId, msg.sender, logit, proofHash);
    }

    /// @inheritdoc IPredictionRegistry
    function isRecorded(bytes32 proofHash) external view returns (bool) {
        return _recorded[proofHash];
    }
}
