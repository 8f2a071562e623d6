// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";

/// @title RoundManagerStorage
/// @notice RoundManager's storage layout and the checks it shares with RoundManagerExclusions, which runs on
/// the same storage by delegatecall (so both contracts must inherit this and declare no other state).
abstract contract RoundManagerStorage {
    uint256 internal constant _MAX_CID_LENGTH = 128;
    uint64 internal constant _REANNOUNCE_WINDOW = 1 hours;
    uint64 internal constant _EXCLUSION_DISPUTE_WINDOW = 1 days;
    uint64 internal constant _FINALIZE_WINDOW = 1 days;

    IConsortiumRegistry internal immutable _registry;

    string internal _circuitCid;
    uint256 internal _currentRoundId;
    uint256[2][] internal _genesisCommitment;
    string internal _genesisCid;
    mapping(uint256 roundId => IRoundManager.RoundInfo) internal _rounds;
    // slither-disable-next-line uninitialized-state -- shared storage: RoundManager and RoundManagerExclusions each write what the other reads
    mapping(uint256 roundId => IRoundManager.Submission[]) internal _submissions;
    mapping(uint256 roundId => mapping(address hospital => bool)) internal _hasSubmitted;
    mapping(bytes32 pointHash => bool) internal _commitmentUsed;
    mapping(uint256 roundId => mapping(address hospital => bool)) internal _reported;
    /// chunked schemes only: keccak256(x || y) of each chunk point of the model round `roundId` made (0: genesis)
    // slither-disable-next-line uninitialized-state -- written through a storage pointer in _storeChunkHashes
    mapping(uint256 roundId => bytes32[]) internal _modelChunkHashes;
    /// optimistic deployments: keccak256(abi.encode(budgets, proofHashes)) of each slot's norm claim
    mapping(uint256 roundId => mapping(uint256 slot => bytes32)) internal _claims;
    mapping(uint256 roundId => uint256) internal _challengeEnds;
    mapping(uint256 roundId => uint256) internal _faultMasks;
    mapping(uint256 roundId => mapping(uint256 slot => IRoundManager.Exclusion)) internal _exclusions;
    // slither-disable-next-line uninitialized-state -- shared storage: RoundManager and RoundManagerExclusions each write what the other reads
    mapping(uint256 roundId => uint256) internal _disputeDeadlines;
    // slither-disable-next-line uninitialized-state -- shared storage: RoundManager and RoundManagerExclusions each write what the other reads
    mapping(uint256 roundId => mapping(uint256 slot => mapping(address hospital => bool))) internal _supported;
    mapping(uint256 roundId => RoundOpening) internal _openings;

    /// @dev When a round opened and how many hospitals were members then (rollback entitlement and threshold).
    struct RoundOpening {
        uint48 openedBlock;
        uint32 hospitals;
    }


    constructor(IConsortiumRegistry registry_) {
        _registry = registry_;
    }

    function _checkCid(string calldata cid) internal pure {
        uint256 length = bytes(cid).length;
        if (length == 0) revert IRoundManager.RoundManagerEmptyCid();
        if (length > _MAX_CID_LENGTH) revert IRoundManager.RoundManagerCidTooLong(length, _MAX_CID_LENGTH);
    }

    /// @dev What finalizing and declaring an exclusion both need: the aggregator calls, the round is open, every
    /// member at opening submitted or the deadline passed, and the aggregator's own deadline has not.
    function _requireAggregatorMayClose(uint256 roundId) internal view returns (IRoundManager.RoundInfo storage r) {
        if (msg.sender != _registry.aggregator()) revert IRoundManager.RoundManagerNotAggregator(msg.sender);
        r = _rounds[roundId];
        if (r.phase != IRoundManager.Phase.Open) revert IRoundManager.RoundManagerWrongPhase(roundId, IRoundManager.Phase.Open, r.phase);
        // "every member submitted" counts the hospitals admitted when the round opened: removing a member
        // meanwhile cannot let the round close early
        if (r.submissionCount < r.members && block.timestamp <= r.deadline) {
            revert IRoundManager.RoundManagerDeadlineNotReached(roundId, r.deadline, block.timestamp);
        }
        uint64 lastCall;
        unchecked {
            lastCall = r.deadline + _FINALIZE_WINDOW; // deadline <= opening + MAX_ROUND_DURATION: far from 2^64
        }
        if (block.timestamp > lastCall) revert IRoundManager.RoundManagerFinalizeDeadlinePassed(roundId, lastCall, block.timestamp);
    }
}
