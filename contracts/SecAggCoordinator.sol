// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {ISecAggCoordinator} from "./interfaces/ISecAggCoordinator.sol";

/// @title SecAggCoordinator
/// @notice Who set up, who submitted and who revealed what in a secure-aggregation round, decided by the chain.
/// @dev Reads RoundManager (deadline, opening, phase, submissions) and never writes to it.
contract SecAggCoordinator is ISecAggCoordinator {
    struct KeyRecord {
        bytes32 keyHash;
        uint64 registeredBlock;
    }

    /// @dev Written by startUnmasking (the roster size copied from `_liveRoster`).
    struct RoundState {
        uint64 startedAt;
        uint16 rosterSize;
    }

    /// @dev The roster count of the round in setup. RoundManager opens one round at a time, so one slot serves every
    /// round and stays non-zero: a setup updates it for 5k gas instead of filling a fresh slot for 22k.
    struct LiveRoster {
        uint64 roundId;
        uint16 size;
        /// always true: keeps the slot non-zero from deployment on, so even the first setup pays 5k, not 22k
        bool live;
    }

    /// @dev One slot: written by startUnmasking, so every responder updates a non-zero slot.
    struct Masks {
        uint128 submitted;
        uint128 responded;
    }

    /// @dev Most roster positions (one bit each in a uint128 bitmap).
    uint256 private constant MAX_ROSTER = 128;
    /// @inheritdoc ISecAggCoordinator
    uint256 public constant REVEAL_BYTES = 72;

    /// @inheritdoc ISecAggCoordinator
    IRoundManager public immutable roundManager;
    /// @inheritdoc ISecAggCoordinator
    IConsortiumRegistry public immutable registry;
    /// @inheritdoc ISecAggCoordinator
    uint256 public immutable threshold;
    /// @inheritdoc ISecAggCoordinator
    uint64 public immutable maskingWindow;
    /// @inheritdoc ISecAggCoordinator
    uint64 public immutable unmaskingWindow;
    uint64 private immutable _finalizeWindow;

    mapping(address hospital => KeyRecord) private _keys;
    mapping(uint256 roundId => RoundState) private _rounds;
    LiveRoster private _liveRoster;
    mapping(uint256 roundId => Masks) private _masks;
    /// @dev roster position + 1 (0: not on the roster)
    mapping(uint256 roundId => mapping(address hospital => uint256)) private _positions;

    constructor(IRoundManager roundManager_, uint256 threshold_, uint64 maskingWindow_, uint64 unmaskingWindow_) {
        if (threshold_ < 2 || threshold_ > MAX_ROSTER || maskingWindow_ == 0 || unmaskingWindow_ == 0) {
            revert SecAggCoordinatorInvalidParameters();
        }
        roundManager = roundManager_;
        registry = roundManager_.registry();
        threshold = threshold_;
        maskingWindow = maskingWindow_;
        unmaskingWindow = unmaskingWindow_;
        _finalizeWindow = roundManager_.FINALIZE_WINDOW();
        _liveRoster = LiveRoster(0, 0, true);
    }

    /// @inheritdoc ISecAggCoordinator
    function registerKey(bytes32 keyHash, string calldata keyCid) external {
        if (!registry.isHospital(msg.sender)) revert SecAggCoordinatorNotHospital(msg.sender);
        if (keyHash == bytes32(0) || bytes(keyCid).length == 0) revert SecAggCoordinatorEmptyRecord();
        _keys[msg.sender] = KeyRecord(keyHash, uint64(block.number));
        emit SecAggKeyRegistered(msg.sender, keyHash, keyCid);
    }

    /// @inheritdoc ISecAggCoordinator
    function postSetup(uint256 roundId, bytes32 bundleHash, string calldata bundleCid) external {
        if (!registry.isHospital(msg.sender)) revert SecAggCoordinatorNotHospital(msg.sender);
        if (bundleHash == bytes32(0) || bytes(bundleCid).length == 0) revert SecAggCoordinatorEmptyRecord();
        // slither-disable-next-line unused-return -- the rollback threshold is not needed here
        (uint256 openedBlock, uint256 hospitalsAtOpening,) = roundManager.roundOpening(roundId);
        uint256 keyBlock = _keys[msg.sender].registeredBlock;
        // slither-disable-next-line incorrect-equality -- 0 is the "no key" sentinel of a block number: == is exact
        if (keyBlock == 0 || keyBlock >= openedBlock) {
            revert SecAggCoordinatorKeyNotRegistered(roundId, msg.sender, keyBlock, openedBlock);
        }
        mapping(address => uint256) storage positions = _positions[roundId];
        if (positions[msg.sender] != 0) revert SecAggCoordinatorAlreadyPosted(roundId, msg.sender);
        LiveRoster memory live = _liveRoster;
        uint256 size = live.roundId == roundId ? live.size : 0;
        uint256 closesAt = setupDeadline(roundId);
        if (
            block.timestamp >= closesAt || roundId < live.roundId || size >= hospitalsAtOpening || size >= MAX_ROSTER
        ) revert SecAggCoordinatorSetupClosed(roundId, closesAt, block.timestamp);
        _liveRoster = LiveRoster(uint64(roundId), uint16(size + 1), true);
        positions[msg.sender] = size + 1;
        emit SetupPosted(roundId, msg.sender, size, bundleHash, bundleCid);
    }

    /// @inheritdoc ISecAggCoordinator
    function startUnmasking(uint256 roundId) external {
        RoundState storage s = _rounds[roundId];
        if (s.startedAt != 0) revert SecAggCoordinatorUnmaskingAlreadyStarted(roundId);
        IRoundManager.RoundInfo memory r = roundManager.getRound(roundId);
        if (r.phase != IRoundManager.Phase.Open) revert SecAggCoordinatorRoundNotOpen(roundId, r.phase);
        if (r.submissionCount < r.members && block.timestamp <= r.deadline) {
            revert SecAggCoordinatorSubmissionsOpen(roundId, r.deadline, block.timestamp);
        }
        mapping(address => uint256) storage positions = _positions[roundId];
        uint256 mask = 0;
        uint256 count = 0;
        for (uint256 slot; slot < r.submissionCount; ++slot) {
            uint256 position = positions[roundManager.getSubmission(roundId, slot).hospital];
            if (position != 0) {
                mask |= 1 << (position - 1);
                ++count;
            }
        }
        if (count < threshold) revert SecAggCoordinatorTooFewSubmitters(roundId, count, threshold);
        uint256 size = rosterSize(roundId);
        _masks[roundId].submitted = uint128(mask);
        s.startedAt = uint64(block.timestamp);
        s.rosterSize = uint16(size);
        emit UnmaskingStarted(roundId, mask, size, block.timestamp + unmaskingWindow);
    }

    /// @inheritdoc ISecAggCoordinator
    function reveal(uint256 roundId, bytes calldata reveals) external {
        if (reveals.length % REVEAL_BYTES != 0) revert SecAggCoordinatorMalformedReveals(reveals.length);
        uint256 startedAt = _rounds[roundId].startedAt;
        // slither-disable-next-line incorrect-equality -- 0 is the "not started" sentinel, not a compared time
        if (startedAt == 0) revert SecAggCoordinatorUnmaskingNotStarted(roundId);
        if (block.timestamp > startedAt + unmaskingWindow) {
            revert SecAggCoordinatorUnmaskingClosed(roundId, startedAt + unmaskingWindow, block.timestamp);
        }
        mapping(address => uint256) storage positions = _positions[roundId];
        uint256 position = positions[msg.sender];
        if (position == 0) revert SecAggCoordinatorNotOnRoster(roundId, msg.sender);
        Masks storage m = _masks[roundId];
        uint256 bit = 1 << (position - 1);
        uint256 responded = m.responded;
        if (responded & bit != 0) revert SecAggCoordinatorAlreadyRevealed(roundId, msg.sender);
        uint256 submitted = m.submitted;
        for (uint256 off; off < reveals.length; off += REVEAL_BYTES) {
            address dealer = address(bytes20(reveals[off:off + 20]));
            address partner = address(bytes20(reveals[off + 20:off + 40]));
            _checkRevealable(roundId, positions, submitted, dealer, partner);
        }
        m.responded = uint128(responded | bit);
        emit SharesRevealed(roundId, msg.sender, reveals);
    }

    /// @dev The rule of docs/secagg.md: a self-mask share only of a submitter; a pair share only of a pair held by
    /// its lower address with exactly one submitter.
    function _checkRevealable(
        uint256 roundId,
        mapping(address => uint256) storage positions,
        uint256 submitted,
        address dealer,
        address partner
    ) private view {
        uint256 d = positions[dealer];
        if (d == 0) revert SecAggCoordinatorNotOnRoster(roundId, dealer);
        bool dealerSubmitted = submitted & (1 << (d - 1)) != 0;
        if (dealer == partner) {
            if (!dealerSubmitted) revert SecAggCoordinatorSelfMaskOfDropped(roundId, dealer);
            return;
        }
        uint256 p = positions[partner];
        if (p == 0) revert SecAggCoordinatorNotOnRoster(roundId, partner);
        if (uint160(dealer) >= uint160(partner)) revert SecAggCoordinatorNotPairHolder(roundId, dealer, partner);
        if (dealerSubmitted == (submitted & (1 << (p - 1)) != 0)) {
            revert SecAggCoordinatorPairNotRevealable(roundId, dealer, partner);
        }
    }

    /// @inheritdoc ISecAggCoordinator
    function keyOf(address hospital) external view returns (bytes32 keyHash, uint256 registeredBlock) {
        KeyRecord storage k = _keys[hospital];
        return (k.keyHash, k.registeredBlock);
    }

    /// @inheritdoc ISecAggCoordinator
    function positionOf(uint256 roundId, address hospital) external view returns (bool onRoster, uint256 position) {
        uint256 p = _positions[roundId][hospital];
        return p == 0 ? (false, 0) : (true, p - 1);
    }

    /// @inheritdoc ISecAggCoordinator
    function rosterSize(uint256 roundId) public view returns (uint256) {
        if (_rounds[roundId].startedAt != 0) return _rounds[roundId].rosterSize;
        LiveRoster memory live = _liveRoster;
        return live.roundId == roundId ? live.size : 0;
    }

    /// @inheritdoc ISecAggCoordinator
    function setupDeadline(uint256 roundId) public view returns (uint256) {
        uint256 finalizeBy = roundManager.finalizeDeadline(roundId);
        uint256 deadline = finalizeBy > _finalizeWindow ? finalizeBy - _finalizeWindow : 0;
        return deadline > maskingWindow ? deadline - maskingWindow : 0;
    }

    /// @inheritdoc ISecAggCoordinator
    function setupClosed(uint256 roundId) external view returns (bool) {
        // slither-disable-next-line unused-return -- only the hospitals at opening are needed here
        (, uint256 hospitalsAtOpening,) = roundManager.roundOpening(roundId);
        return block.timestamp >= setupDeadline(roundId) || rosterSize(roundId) >= hospitalsAtOpening;
    }

    /// @inheritdoc ISecAggCoordinator
    function unmasking(uint256 roundId)
        external
        view
        returns (uint256 startedAt, uint256 deadline, uint256 submittedMask, uint256 respondedMask)
    {
        startedAt = _rounds[roundId].startedAt;
        // slither-disable-next-line incorrect-equality -- 0 is the "not started" sentinel, not a compared time
        deadline = startedAt == 0 ? 0 : startedAt + unmaskingWindow;
        Masks storage m = _masks[roundId];
        return (startedAt, deadline, m.submitted, m.responded);
    }

    /// @inheritdoc ISecAggCoordinator
    function responders(uint256 roundId) public view returns (uint256 count) {
        for (uint256 m = _masks[roundId].responded; m != 0; m &= m - 1) {
            ++count;
        }
    }

    /// @inheritdoc ISecAggCoordinator
    function requireUnmasked(uint256 roundId) external view {
        uint256 count = responders(roundId);
        if (count < threshold) revert SecAggCoordinatorThresholdNotMet(roundId, count, threshold);
    }
}
