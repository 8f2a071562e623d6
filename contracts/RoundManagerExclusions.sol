// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {IRoundManagerExclusionEvents} from "./interfaces/IRoundManagerExclusionEvents.sol";
import {RoundManagerStorage} from "./RoundManagerStorage.sol";

/// @title RoundManagerExclusions
/// @notice Exclusions with evidence, re-announcements and disputes (docs/exclusions.md): RoundManager's
/// `declareExclusion`, `reannounceUpdate`, `disputeExclusion` and `supportDispute`, run by delegatecall on
/// RoundManager's storage (RoundManager creates this contract in its constructor). Called directly it would act
/// on its own empty storage: it refuses.
contract RoundManagerExclusions is IRoundManagerExclusionEvents, RoundManagerStorage {
    address private immutable _self;

    /// @notice Called directly, not through RoundManager.
    error RoundManagerExclusionsDirectCall();

    constructor(IConsortiumRegistry registry_) RoundManagerStorage(registry_) {
        _self = address(this);
    }

    modifier viaRoundManager() {
        if (address(this) == _self) revert RoundManagerExclusionsDirectCall();
        _;
    }

    /// @notice IRoundManager.declareExclusion
    function declareExclusion(
        uint256 roundId,
        uint256 slot,
        ExclusionReason reason,
        bytes32 evidenceHash,
        string calldata evidenceCid
    ) external viaRoundManager {
        IRoundManager.RoundInfo storage r = _requireAggregatorMayClose(roundId);
        if (slot >= r.submissionCount) revert IRoundManager.RoundManagerNoSubmissionInSlot(roundId, slot);
        bool withEvidence = reason == ExclusionReason.Undecryptable || reason == ExclusionReason.InvalidContent;
        bool evidenceGiven = evidenceHash != bytes32(0) || bytes(evidenceCid).length != 0;
        if (
            reason == ExclusionReason.None || (withEvidence && evidenceHash == bytes32(0))
                || (!withEvidence && evidenceGiven)
        ) revert IRoundManager.RoundManagerInvalidExclusionEvidence(roundId, slot, reason);
        if (withEvidence) _checkCid(evidenceCid);
        IRoundManager.Exclusion storage e = _exclusions[roundId][slot];
        // only an Unavailable exclusion the hospital answered on-chain may be replaced, and only with evidence
        bool replaceable = e.reason == ExclusionReason.Unavailable && e.reannounced && withEvidence;
        if (e.reason != ExclusionReason.None && !replaceable) {
            revert IRoundManager.RoundManagerExclusionAlreadyDeclared(roundId, slot, e.reason);
        }

        e.reason = reason;
        e.declaredAt = uint64(block.timestamp);
        e.aggregator = msg.sender;
        e.evidenceHash = evidenceHash;
        emit ExclusionDeclared(roundId, _submissions[roundId][slot].hospital, slot, reason, evidenceHash, evidenceCid);
    }

    /// @notice IRoundManager.reannounceUpdate
    function reannounceUpdate(uint256 roundId, uint256 slot, bytes calldata envelope) external viaRoundManager {
        _requireSlotHospital(roundId, slot);
        IRoundManager.RoundInfo storage r = _rounds[roundId];
        if (r.phase != IRoundManager.Phase.Open) revert IRoundManager.RoundManagerWrongPhase(roundId, IRoundManager.Phase.Open, r.phase);
        IRoundManager.Exclusion storage e = _exclusions[roundId][slot];
        if (e.reason != ExclusionReason.Unavailable || e.reannounced) {
            revert IRoundManager.RoundManagerNotDeclaredUnavailable(roundId, slot);
        }
        uint256 windowEnd = uint256(e.declaredAt) + _REANNOUNCE_WINDOW;
        if (block.timestamp > windowEnd) revert IRoundManager.RoundManagerWindowClosed(roundId, slot, windowEnd);

        e.reannounced = true;
        emit UpdateReannounced(roundId, msg.sender, slot, sha256(envelope), envelope);
    }

    /// @notice IRoundManager.disputeExclusion
    function disputeExclusion(uint256 roundId, uint256 slot) external viaRoundManager {
        _requireSlotHospital(roundId, slot);
        IRoundManager.RoundInfo storage r = _rounds[roundId];
        if (r.phase != IRoundManager.Phase.Finalized) revert IRoundManager.RoundManagerWrongPhase(roundId, IRoundManager.Phase.Finalized, r.phase);
        IRoundManager.Exclusion storage e = _exclusions[roundId][slot];
        if (!e.applied || e.reason >= ExclusionReason.Unavailable) {
            revert IRoundManager.RoundManagerNotDisputable(roundId, slot, e.reason, e.applied);
        }
        uint256 deadline = _requireDisputeWindow(roundId, slot);
        if (e.disputed) revert IRoundManager.RoundManagerAlreadyDisputed(roundId, slot);

        e.disputed = true;
        emit ExclusionDisputed(roundId, msg.sender, slot, deadline);
        _support(roundId, slot, e);
    }

    /// @notice IRoundManager.supportDispute
    function supportDispute(uint256 roundId, uint256 slot) external viaRoundManager {
        if (!_registry.isHospital(msg.sender)) revert IRoundManager.RoundManagerNotHospital(msg.sender);
        IRoundManager.Exclusion storage e = _exclusions[roundId][slot];
        if (!e.disputed) revert IRoundManager.RoundManagerNotDisputed(roundId, slot);
        if (e.upheld) revert IRoundManager.RoundManagerDisputeUpheld(roundId, slot);
        _requireDisputeWindow(roundId, slot);
        if (_supported[roundId][slot][msg.sender]) revert IRoundManager.RoundManagerAlreadySupported(roundId, slot, msg.sender);
        _support(roundId, slot, e);
    }

    /// @dev The round's dispute window is open; returns its end.
    function _requireDisputeWindow(uint256 roundId, uint256 slot) internal view returns (uint256 deadline) {
        deadline = _disputeDeadlines[roundId];
        if (block.timestamp > deadline) revert IRoundManager.RoundManagerWindowClosed(roundId, slot, deadline);
    }

    /// @dev The caller supports the dispute of `slot` (the disputing hospital first); upheld at a majority.
    function _support(uint256 roundId, uint256 slot, IRoundManager.Exclusion storage e) internal {
        _supported[roundId][slot][msg.sender] = true;
        e.supporters += 1;
        emit DisputeSupported(roundId, slot, msg.sender, e.supporters);
        _upholdIfMajority(roundId, slot, e);
    }

    function _requireSlotHospital(uint256 roundId, uint256 slot) internal view {
        IRoundManager.Submission[] storage subs = _submissions[roundId];
        if (slot >= subs.length || subs[slot].hospital != msg.sender) {
            revert IRoundManager.RoundManagerNotSlotHospital(roundId, slot, msg.sender);
        }
    }

    /// @dev More than half of the members at opening support the dispute: upheld, the round invalid (its model is
    /// no longer current: `_modelRound()` skips it), the declaring aggregator named.
    function _upholdIfMajority(uint256 roundId, uint256 slot, IRoundManager.Exclusion storage e) internal {
        IRoundManager.RoundInfo storage r = _rounds[roundId];
        if (uint256(e.supporters) * 2 <= r.members) return;
        e.upheld = true;
        if (r.phase == IRoundManager.Phase.Finalized) r.phase = IRoundManager.Phase.Invalidated;
        emit ExclusionDisputeUpheld(roundId, _submissions[roundId][slot].hospital, slot, e.aggregator);
    }
}
