// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier} from "./IHalo2Verifier.sol";
import {IRoundManager} from "./IRoundManager.sol";

/// @title IPredictionRegistry
/// @notice Records risk predictions proven (ezkl, Halo2/KZG) to come from the global model of a finalized
/// round, without revealing the patient's features.
/// @dev The inference circuit takes the global aggregate S as a committed (polycommit) input in the same KZG
/// basis as RoundManager: keccak256 of the proof's first point must equal the round's stored model hash
/// (RoundManager.modelOf). Its instances (InstanceLayout) are the logit at scale 2^(2 scaleBits) (a field
/// element; negative values wrap modulo FIELD_MODULUS) and the requester's address in five 32-bit limbs, so a
/// proof copied from the mempool records nothing for the copier. The risk is sigmoid(logit), a public,
/// monotone function of the proven logit that anyone applies (zkfl_dapp.prediction.proofs.risk_of_logit).
interface IPredictionRegistry {
    /// @notice The proof carries the wrong number of public instances.
    /// @notice A verifier call ran out of gas: neither acceptance nor rejection (VerifierCalls; retry with more gas).
    error PredictionRegistryVerifierOutOfGas();
    error PredictionRegistryWrongInstanceCount(uint256 expected, uint256 actual);
    /// @notice The named round is not finalized, so it has no global model.
    error PredictionRegistryRoundNotFinalized(uint256 roundId, IRoundManager.Phase phase);
    /// @notice The proof was made with another model than the named round's global model.
    /// @param expected keccak256(x || y) of the round's model commitment (RoundManager.modelOf)
    /// @param actual keccak256 of the proof's first 64 bytes
    error PredictionRegistryModelMismatch(uint256 roundId, bytes32 expected, bytes32 actual);
    /// @notice The proof names another requester than the caller (limb `index` of the address differs).
    error PredictionRegistryRequesterMismatch(uint256 index, uint256 expected, uint256 actual);
    /// @notice The inference verifier rejected the proof (for example: a changed logit or a tampered proof).
    error PredictionRegistryProofRejected(uint256 roundId);
    /// @notice This exact proof was recorded before.
    error PredictionRegistryProofAlreadyRecorded(bytes32 proofHash);

    /// @notice A verified prediction receipt: the logit that round `roundId`'s global model gives a patient
    /// whose features only the requester knows (scale 2^(2 scaleBits); risk = sigmoid(logit / 2^(2 scaleBits))).
    /// `proofHash` = keccak256 of the proof bytes.
    event PredictionRecorded(uint256 indexed roundId, address indexed requester, int256 logit, bytes32 proofHash);

    /// @notice Verify an inference proof against round `roundId`'s finalized global model and record it.
    /// Anyone may call (a patient's app need not be a consortium member), but only for a proof made for
    /// the caller's address. Reverts with a typed error unless the instance count fits, the round is
    /// finalized, the proof's committed model is the round's model, the requester is the caller, the
    /// verifier accepts the proof and this proof was not recorded before.
    /// @return logit the proven logit at scale 2^(2 scaleBits)
    function recordPrediction(uint256 roundId, bytes calldata proof, uint256[] calldata instances)
        external
        returns (int256 logit);

    /// @notice Whether a proof with this keccak256 hash was recorded.
    function isRecorded(bytes32 proofHash) external view returns (bool);

    /// @notice Fixed-point scale bits of the logit (2 scaleBits of the round manager).
    function LOGIT_SCALE_BITS() external view returns (uint256);

    /// @notice The round manager whose finalized models predictions must come from.
    function roundManager() external view returns (IRoundManager);

    /// @notice The generated inference circuit's verifier (contracts/generated/InferenceVerifier.sol).
    function inferenceVerifier() external view returns (IHalo2Verifier);
}
