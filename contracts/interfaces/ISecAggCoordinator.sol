// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {IRoundManager} from "./IRoundManager.sol";

/// @title ISecAggCoordinator
/// @notice The chain's side of secure aggregation (docs/secagg.md): each hospital's ML-KEM-768 key (once per
/// membership), its setup bundle per round (SHA-256 and CID of a file holding its mask commitments, its pairwise KEM
/// ciphertexts and its encrypted Shamir shares), the submitters as RoundManager recorded them, and the unmasking:
/// a responder reveals, per roster hospital, its self-mask share if that hospital submitted and pairwise shares only
/// of pairs with exactly one submitter, never what would unmask a submitted input. The contract derives which from
/// the chain; the aggregator has no say.
/// @dev Roster positions are 0-based, in posting order (`SetupPosted`); bitmaps use bit p for position p. Gas is kept
/// low per hospital (issue 19's budget: at most 150k extra per round): the roster lives in events and one mapping.
interface ISecAggCoordinator {
    /// @notice The caller is not a member hospital.
    error SecAggCoordinatorNotHospital(address caller);
    /// @notice A key registration carried a zero hash or an empty CID, or a setup a zero hash or an empty CID.
    error SecAggCoordinatorEmptyRecord();
    /// @notice The round is not open in RoundManager.
    error SecAggCoordinatorRoundNotOpen(uint256 roundId, IRoundManager.Phase phase);
    /// @notice The hospital registered no key before the round opened (block `registeredBlock`, 0: never).
    error SecAggCoordinatorKeyNotRegistered(uint256 roundId, address hospital, uint256 registeredBlock, uint256 openedBlock);
    /// @notice The hospital already posted its setup bundle in this round.
    error SecAggCoordinatorAlreadyPosted(uint256 roundId, address hospital);
    /// @notice The setup phase is closed: every hospital at opening posted, or `setupDeadline` passed.
    error SecAggCoordinatorSetupClosed(uint256 roundId, uint256 setupDeadline, uint256 timestamp);
    /// @notice Submissions are still open in RoundManager: the submitters are not final yet.
    error SecAggCoordinatorSubmissionsOpen(uint256 roundId, uint64 deadline, uint256 timestamp);
    /// @notice The unmasking phase already started.
    error SecAggCoordinatorUnmaskingAlreadyStarted(uint256 roundId);
    /// @notice The unmasking phase has not started.
    error SecAggCoordinatorUnmaskingNotStarted(uint256 roundId);
    /// @notice The unmasking window closed at `unmaskingDeadline`.
    error SecAggCoordinatorUnmaskingClosed(uint256 roundId, uint256 unmaskingDeadline, uint256 timestamp);
    /// @notice Fewer roster hospitals submitted than the threshold: unmasking would reveal too little-aggregated data.
    error SecAggCoordinatorTooFewSubmitters(uint256 roundId, uint256 submitters, uint256 threshold);
    /// @notice The account did not post a setup bundle in this round.
    error SecAggCoordinatorNotOnRoster(uint256 roundId, address account);
    /// @notice The responder already revealed in this round.
    error SecAggCoordinatorAlreadyRevealed(uint256 roundId, address responder);
    /// @notice A self-mask share of a hospital that did not submit: with its pairwise shares it would unmask nothing,
    /// but the self mask is only ever revealed for a submitter (the dropped-hospital attack's other half).
    error SecAggCoordinatorSelfMaskOfDropped(uint256 roundId, address hospital);
    /// @notice A pairwise share of two submitters (or of two hospitals that both dropped): never revealed.
    error SecAggCoordinatorPairNotRevealable(uint256 roundId, address lower, address higher);
    /// @notice A pair is held by its lower address: `dealer` must be below `partner`.
    error SecAggCoordinatorNotPairHolder(uint256 roundId, address dealer, address partner);
    /// @notice Fewer responders than the threshold: the round cannot be unmasked (yet, or at all once the window
    /// closed).
    error SecAggCoordinatorThresholdNotMet(uint256 roundId, uint256 responders, uint256 threshold);
    /// @notice Packed reveals are a whole number of `REVEAL_BYTES()`-byte entries.
    error SecAggCoordinatorMalformedReveals(uint256 length);
    /// @notice Constructor parameters out of range (threshold at least 2, windows positive).
    error SecAggCoordinatorInvalidParameters();

    /// @notice `hospital` registered (or rotated) its ML-KEM-768 encapsulation key: SHA-256 `keyHash`, file `keyCid`.
    event SecAggKeyRegistered(address indexed hospital, bytes32 keyHash, string keyCid);
    /// @notice `hospital` posted its setup bundle for `roundId` at roster `position`.
    event SetupPosted(uint256 indexed roundId, address indexed hospital, uint256 position, bytes32 bundleHash, string bundleCid);
    /// @notice The submitters are final (bit p: roster position p submitted in RoundManager); reveals are accepted
    /// until `unmaskingDeadline`.
    event UnmaskingStarted(uint256 indexed roundId, uint256 submittedMask, uint256 rosterSize, uint256 unmaskingDeadline);
    /// @notice `responder` revealed these shares, packed as in `reveal` (public: anyone rebuilds the masks from them).
    event SharesRevealed(uint256 indexed roundId, address indexed responder, bytes reveals);

    /// @notice Register (or rotate) the caller's ML-KEM-768 key. Member hospitals only. A key counts for rounds
    /// opened after the block it was registered in.
    function registerKey(bytes32 keyHash, string calldata keyCid) external;

    /// @notice Post the caller's setup bundle for `roundId`: the caller a member hospital whose key was registered before
    /// the round opened, once, while the setup phase is open (before `setupDeadline`, and not every hospital at
    /// opening has posted yet). The phase is not read: a round finalized or aborted early makes a setup useless, not
    /// harmful.
    function postSetup(uint256 roundId, bytes32 bundleHash, string calldata bundleCid) external;

    /// @notice Fix the submitters from RoundManager (anyone, once, after its submissions closed: every member
    /// submitted or the deadline passed) and open the unmasking window. Reverts below `threshold()` submitters.
    function startUnmasking(uint256 roundId) external;

    /// @notice Reveal the caller's shares (a roster hospital, once, in the unmasking window). `reveals` packs
    /// `REVEAL_BYTES()`-byte entries `dealer (20) || partner (20) || share (32)`: `dealer`'s self-mask seed share
    /// (`partner == dealer`) or its share of the message of the pair (`dealer`, `partner`). Each entry must be
    /// revealable: a self-mask share of a submitter, or a pair share of a pair with exactly one submitter, named by
    /// its lower address first; both on the roster. (Packed, not an ABI struct array: a third less gas.)
    function reveal(uint256 roundId, bytes calldata reveals) external;

    /// @notice Bytes of one packed reveal entry (72).
    function REVEAL_BYTES() external view returns (uint256);

    /// @notice `hospital`'s key and the block it was registered in (0: none).
    function keyOf(address hospital) external view returns (bytes32 keyHash, uint256 registeredBlock);

    /// @notice Roster position of `hospital` in `roundId` (`onRoster` false: it posted no setup bundle).
    function positionOf(uint256 roundId, address hospital) external view returns (bool onRoster, uint256 position);

    /// @notice Number of hospitals on the roster of `roundId` (their addresses: the `SetupPosted` events).
    function rosterSize(uint256 roundId) external view returns (uint256);

    /// @notice When the setup phase of `roundId` closes: RoundManager's deadline minus `maskingWindow()`.
    function setupDeadline(uint256 roundId) external view returns (uint256);

    /// @notice Whether the setup phase of `roundId` is closed (hospitals mask only after it is).
    function setupClosed(uint256 roundId) external view returns (bool);

    /// @notice The unmasking state: when it started (0: not yet), its deadline, submitters and responders bitmaps.
    function unmasking(uint256 roundId)
        external
        view
        returns (uint256 startedAt, uint256 deadline, uint256 submittedMask, uint256 respondedMask);

    /// @notice Number of responders so far.
    function responders(uint256 roundId) external view returns (uint256);

    /// @notice Reverts with `SecAggCoordinatorThresholdNotMet` unless at least `threshold()` roster hospitals revealed: what a
    /// secagg finalization requires before it may proceed.
    function requireUnmasked(uint256 roundId) external view;

    /// @notice The RoundManager whose rounds and submissions this coordinator reads.
    function roundManager() external view returns (IRoundManager);

    /// @notice The consortium registry (RoundManager's).
    function registry() external view returns (IConsortiumRegistry);

    /// @notice Shamir threshold t: shares of every seed are t-of-n; unmasking needs t submitters and t responders.
    function threshold() external view returns (uint256);

    /// @notice Seconds before RoundManager's deadline in which hospitals mask and submit (the setup phase ends then).
    function maskingWindow() external view returns (uint64);

    /// @notice Seconds the unmasking phase accepts reveals.
    function unmaskingWindow() external view returns (uint64);
}
