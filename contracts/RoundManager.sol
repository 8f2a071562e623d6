// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {Bn254} from "./libraries/Bn254.sol";
import {InstanceLayout} from "./libraries/InstanceLayout.sol";
import {VerifierCalls} from "./libraries/VerifierCalls.sol";
import {RoundManagerExclusions} from "./RoundManagerExclusions.sol";
import {RoundManagerStorage} from "./RoundManagerStorage.sol";

/// @title RoundManager
/// @notice Federated-learning rounds over homomorphic KZG commitments: FedAvg's new model commitment is
/// computed here from the hospitals' own commitments (no aggregation proof); every update in a bounded round
/// carries one norm proof per chunk, bound to its chunk, the previous aggregate's chunk, its budget and its
/// sender: verified at submission, or (a challenge window) off-chain with any member able to challenge one here.
/// @dev Point arithmetic: Bn254 (ecAdd/ecMul precompiles); instance offsets: InstanceLayout; every verifier
/// call goes through VerifierCalls.
contract RoundManager is IRoundManager, RoundManagerStorage {
    using VerifierCalls for IHalo2Verifier;

    /// @inheritdoc IRoundManager
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @inheritdoc IRoundManager
    uint64 public constant MAX_SAMPLE_COUNT = 1_000_000;
    /// @inheritdoc IRoundManager
    uint64 public constant MAX_ROUND_DURATION = 30 days;
    /// @inheritdoc IRoundManager
    uint256 public constant MAX_CID_LENGTH = _MAX_CID_LENGTH;
    /// @inheritdoc IRoundManager
    uint256 public constant NORM_RANGE = 1 << 36;
    /// @inheritdoc IRoundManager
    uint64 public constant REANNOUNCE_WINDOW = _REANNOUNCE_WINDOW;
    /// @inheritdoc IRoundManager
    uint64 public constant EXCLUSION_DISPUTE_WINDOW = _EXCLUSION_DISPUTE_WINDOW;
    /// @inheritdoc IRoundManager
    uint64 public constant FINALIZE_WINDOW = _FINALIZE_WINDOW;
    /// @inheritdoc IRoundManager
    uint256 public constant MAX_SHARE_DENOMINATOR = 3;

    /// @inheritdoc IRoundManager
    IHalo2Verifier public immutable medianVerifier;
    /// @inheritdoc IRoundManager
    IHalo2Verifier public immutable normVerifier;
    /// @inheritdoc IRoundManager
    uint256 public immutable slots;
    /// @inheritdoc IRoundManager
    uint256 public immutable modelSize;
    /// @inheritdoc IRoundManager
    uint256 public immutable padRows;
    /// @inheritdoc IRoundManager
    uint256 public immutable scaleBits;
    /// @inheritdoc IRoundManager
    uint256 public immutable chunks;
    /// @inheritdoc IRoundManager
    bytes32 public immutable kzgBasisDigest;
    /// @inheritdoc IRoundManager
    uint64 public immutable challengeWindow;
    uint256 private immutable _kx;
    uint256 private immutable _ky;
    bytes32 private immutable _genesisHash;
    /// the declarations, re-announcements and disputes of exclusions (delegatecalled: this contract's storage)
    address private immutable _exclusionsCode;

    constructor(
        IConsortiumRegistry registry_,
        IHalo2Verifier medianVerifier_,
        IHalo2Verifier normVerifier_,
        CommitmentScheme memory scheme,
        uint256[2][] memory genesisCommitment,
        string memory genesisCid,
        string memory circuitCid_
    ) RoundManagerStorage(registry_) {
        Bn254.validate(Bn254.G1Point(scheme.zeroCommitment[0], scheme.zeroCommitment[1]));
        if (scheme.chunks == 0 || genesisCommitment.length != scheme.chunks) {
            revert RoundManagerWrongChunkCount(scheme.chunks, genesisCommitment.length);
        }
        for (uint256 c = 0; c < genesisCommitment.length; c++) {
            Bn254.validate(Bn254.G1Point(genesisCommitment[c][0], genesisCommitment[c][1]));
            _genesisCommitment.push(genesisCommitment[c]);
        }
        _exclusionsCode = address(new RoundManagerExclusions(registry_));
        medianVerifier = medianVerifier_;
        normVerifier = normVerifier_;
        slots = scheme.slots;
        modelSize = scheme.modelSize;
        padRows = scheme.padRows;
        scaleBits = scheme.scaleBits;
        chunks = scheme.chunks;
        _kx = scheme.zeroCommitment[0];
        _ky = scheme.zeroCommitment[1];
        kzgBasisDigest = scheme.kzgBasisDigest;
        uint64 window = scheme.challengeWindow;
        if (window != 0 && (window < 2 * REANNOUNCE_WINDOW || window > FINALIZE_WINDOW / 2)) {
            revert RoundManagerInvalidRoundParameters(window, 0);
        }
        challengeWindow = window;
        _genesisHash = _hashPoints(genesisCommitment);
        if (scheme.chunks > 1) _storeChunkHashes(0, genesisCommitment);
        _genesisCid = genesisCid;
        _circuitCid = circuitCid_;
        emit CircuitPublished(circuitCid_);
    }

    /// @inheritdoc IRoundManager
    function openRoundWithPolicy(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        external
        returns (uint256 roundId)
    {
        return _openRound(deadline, quorum, rule, normBoundSq);
    }

    /// @inheritdoc IRoundManager
    function submitUpdate(
        uint256 roundId,
        uint256[2][] calldata commitment,
        string calldata cid,
        uint64 sampleCount,
        NormClaim calldata claim
    ) external {
        _checkSubmission(roundId, commitment, cid, sampleCount);
        _checkClaim(roundId, commitment, claim);
        // slither-disable-next-line reentrancy-no-eth,reentrancy-benign,reentrancy-events -- the only external calls are the immutable norm verifier
        _recordSubmission(roundId, commitment, cid, sampleCount);
    }

    /// @dev The norm claim of a submission (IRoundManager.NormClaim): its shape, the budgets' sum, and every
    /// chunk proof (no challenge window) or the claim's hash and the round's challenge end (a window).
    function _checkClaim(uint256 roundId, uint256[2][] calldata commitment, NormClaim calldata claim) internal {
        RoundInfo storage r = _rounds[roundId];
        uint256 bound = r.normBoundSq;
        uint256 n = bound == 0 ? 0 : chunks;
        uint256[] calldata budgets = claim.budgets;
        bool eager = challengeWindow == 0;
        if (
            budgets.length != n || claim.proofs.length != (eager ? n : 0) || claim.proofHashes.length != (eager ? 0 : n)
                || (eager || n == 0) != (bytes(claim.proofCid).length == 0)
        ) revert RoundManagerInvalidNormClaim(roundId);
        if (n == 0) return;
        uint256 total = 0;
        for (uint256 c = 0; c < n; c++) {
            if (budgets[c] >= NORM_RANGE) revert RoundManagerInvalidNormClaim(roundId);
            total += budgets[c];
        }
        if (total > bound) revert RoundManagerNormBoundExceeded(roundId, msg.sender, bound);
        if (eager) {
            // verified here; the proofs and budgets are in this transaction's calldata (no event: less gas)
            for (uint256 c = 0; c < n; c++) {
                ProofFault fault = _chunkFault(roundId, msg.sender, c, commitment[c], budgets[c], claim.proofs[c]);
                if (fault != ProofFault.None) revert RoundManagerChunkProofRejected(roundId, msg.sender, c, fault);
            }
            return;
        }
        _checkCid(claim.proofCid);
        _claims[roundId][r.submissionCount] = keccak256(abi.encode(budgets, claim.proofHashes));
        _challengeEnds[roundId] = block.timestamp + challengeWindow;
        emit NormClaimed(roundId, msg.sender, r.submissionCount, budgets, claim.proofHashes, claim.proofCid);
    }

    // slither-disable-start reentrancy-no-eth,reentrancy-benign,reentrancy-events
    // the only external call is the immutable norm verifier (ezkl's generated code), made before the effects
    /// @inheritdoc IRoundManager
    function challengeChunk(
        uint256 roundId,
        uint256 slot,
        uint256 chunk,
        uint256[] calldata budgets,
        bytes32[] calldata proofHashes,
        bytes calldata proof
    ) external {
        _checkChallenge(roundId, slot, chunk, budgets, proofHashes, proof);
        (ProofFault fault, address hospital) = _slotFault(roundId, slot, chunk, budgets[chunk], proof);
        if (fault == ProofFault.None) revert RoundManagerChallengeFailed(roundId, slot, chunk);

        _faultMasks[roundId] |= 1 << slot;
        Exclusion storage e = _exclusions[roundId][slot];
        e.reason = ExclusionReason.InvalidProof;
        e.declaredAt = uint64(block.timestamp);
        e.aggregator = msg.sender;
        e.evidenceHash = proofHashes[chunk];
        emit ChunkProofFaulted(roundId, hospital, slot, chunk, fault, msg.sender);
    }
    // slither-disable-end reentrancy-no-eth,reentrancy-benign,reentrancy-events

    /// @dev A challenge's caller (a member), timing (open round, within the challenge window) and data (the slot's
    /// posted claim, the proof whose hash it posted for `chunk`, not already faulted).
    function _checkChallenge(
        uint256 roundId,
        uint256 slot,
        uint256 chunk,
        uint256[] calldata budgets,
        bytes32[] calldata proofHashes,
        bytes calldata proof
    ) internal view {
        if (!_registry.isHospital(msg.sender) && !_registry.isAuditor(msg.sender) && msg.sender != _registry.aggregator()) {
            revert RoundManagerNotMember(msg.sender);
        }
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        uint256 end = _challengeEnds[roundId];
        if (block.timestamp > end) revert RoundManagerWindowClosed(roundId, slot, end);
        if (
            slot >= r.submissionCount || keccak256(abi.encode(budgets, proofHashes)) != _claims[roundId][slot]
                || chunk >= chunks || keccak256(proof) != proofHashes[chunk]
        ) revert RoundManagerClaimMismatch(roundId, slot, chunk);
        ExclusionReason reason = _exclusions[roundId][slot].reason;
        // slither-disable-next-line incorrect-equality -- enum reason, not a balance or timestamp: == is exact
        if (reason == ExclusionReason.InvalidProof) revert RoundManagerExclusionAlreadyDeclared(roundId, slot, reason);
    }

    /// @dev `_chunkFault` of chunk `chunk` of slot `slot`'s stored commitment; and the slot's hospital.
    function _slotFault(uint256 roundId, uint256 slot, uint256 chunk, uint256 budget, bytes calldata proof)
        internal
        returns (ProofFault fault, address hospital)
    {
        Submission[] storage subs = _submissions[roundId];
        (uint256 x, uint256 y) = _storedPoint(subs, slot, chunk);
        hospital = subs[slot].hospital;
        fault = _chunkFault(roundId, hospital, chunk, [x, y], budget, proof);
    }

    /// @inheritdoc IRoundManager
    function challengeEnd(uint256 roundId) external view returns (uint256) {
        return _challengeEnds[roundId];
    }

    /// @inheritdoc IRoundManager
    function faultedSlots(uint256 roundId) external view returns (uint256) {
        return _faultMasks[roundId];
    }

    /// @inheritdoc IRoundManager
    function finalizeRound(uint256 roundId, string calldata newModelCid, uint256 excludedMask) external {
        RoundInfo storage r = _rounds[roundId];
        _checkFinalizable(roundId, AggregationRule.FedAvg, excludedMask);
        _checkCid(newModelCid);
        (uint256[2][] memory commitment, uint256 included) = _aggregate(roundId, excludedMask);
        if (included < r.quorum) revert RoundManagerQuorumNotMet(roundId, included, r.quorum);
        _finalize(roundId, commitment, newModelCid, included, excludedMask, bytes32(0), "");
    }

    /// @inheritdoc IRoundManager
    function finalizeMedianRound(
        uint256 roundId,
        bytes calldata proof,
        uint256[] calldata instances,
        string calldata newModelCid,
        string calldata proofCid,
        uint256 excludedMask
    ) external {
        RoundInfo storage r = _rounds[roundId];
        _checkFinalizable(roundId, AggregationRule.Median, excludedMask);
        _checkCid(newModelCid);
        _checkCid(proofCid);
        uint256 included = _checkMedianProof(roundId, proof, instances, excludedMask);
        if (included < r.quorum) revert RoundManagerQuorumNotMet(roundId, included, r.quorum);
        bytes32 proofHash = keccak256(proof);
        // slither-disable-next-line reentrancy-no-eth -- the only external call is the immutable median verifier
        r.proofHash = proofHash;
        uint256[2][] memory median = new uint256[2][](1);
        median[0] = InstanceLayout.committedPoint(proof, slots);
        _finalize(roundId, median, newModelCid, included, excludedMask, proofHash, proofCid);
    }

    /// @dev The round whose model is current: the latest finalized one (rolled-back and aborted rounds made
    /// none), 0 for the genesis model. Computed, not stored: finalizing writes one slot less.
    function _modelRound() internal view returns (uint32) {
        for (uint256 id = _currentRoundId; id > 0; id--) {
            // slither-disable-next-line incorrect-equality -- enum phase, not a balance or timestamp: == is exact
            if (_rounds[id].phase == Phase.Finalized) return uint32(id);
        }
        return 0;
    }

    /// @inheritdoc IRoundManager
    function abortRound(uint256 roundId) external {
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        if (block.timestamp <= r.deadline) revert RoundManagerDeadlineNotReached(roundId, r.deadline, block.timestamp);
        uint64 lastCall = r.deadline + FINALIZE_WINDOW;
        if (r.submissionCount >= r.quorum && block.timestamp <= lastCall) {
            revert RoundManagerFinalizeWindowOpen(roundId, lastCall, block.timestamp);
        }

        r.phase = Phase.Aborted;
        emit RoundAborted(roundId, r.submissionCount, msg.sender);
    }

    /// @inheritdoc IRoundManager
    function reportModelUnavailable(uint256 roundId) external {
        if (!_registry.isHospital(msg.sender)) revert RoundManagerNotHospital(msg.sender);
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Finalized) revert RoundManagerWrongPhase(roundId, Phase.Finalized, r.phase);
        uint32 current = _modelRound();
        if (roundId != current) revert RoundManagerModelNotCurrent(roundId, current);
        RoundOpening storage o = _openings[roundId];
        uint256 since = _registry.memberSince(msg.sender);
        if (since >= o.openedBlock) revert RoundManagerReporterNotEntitled(roundId, msg.sender, since, o.openedBlock);
        if (_reported[roundId][msg.sender]) revert RoundManagerAlreadyReported(roundId, msg.sender);

        _reported[roundId][msg.sender] = true;
        r.unavailableReports += 1;
        emit ModelUnavailableReported(roundId, msg.sender, r.unavailableReports);
        if (r.unavailableReports >= _rollbackThreshold(roundId)) {
            r.phase = Phase.RolledBack; // the previous model is current again: see _modelRound()
            emit RoundRolledBack(roundId, r.prevModelHash, r.prevModelRound);
            // a round open now trains from the model just rolled back (it opened while that model was current):
            // it can make no valid model, so it ends here and the next round trains from the restored one
            uint256 latest = _currentRoundId;
            RoundInfo storage open = _rounds[latest];
            // slither-disable-next-line incorrect-equality -- enum phase, not a balance or timestamp: == is exact
            if (latest != roundId && open.phase == Phase.Open) {
                open.phase = Phase.Aborted;
                emit RoundAborted(latest, open.submissionCount, msg.sender);
            }
        }
    }

    /// @inheritdoc IRoundManager
    function recordAudit(uint256 roundId, bool passed, string calldata reportCid) external {
        if (!_registry.isAuditor(msg.sender)) revert RoundManagerNotAuditor(msg.sender);
        _requireClosed(roundId);
        _checkCid(reportCid);
        emit AuditRecorded(roundId, msg.sender, passed, reportCid);
    }

    /// @inheritdoc IRoundManager
    function publishRoundReport(uint256 roundId, string calldata reportCid) external {
        if (msg.sender != _registry.admin()) revert RoundManagerNotAdmin(msg.sender);
        _requireClosed(roundId);
        _checkCid(reportCid);
        emit RoundReportPublished(roundId, reportCid);
    }

    /// @inheritdoc IRoundManager
    function registry() external view returns (IConsortiumRegistry) {
        return _registry;
    }

    /// @inheritdoc IRoundManager
    function circuitCid() external view returns (string memory) {
        return _circuitCid;
    }

    /// @inheritdoc IRoundManager
    function currentRoundId() external view returns (uint256) {
        return _currentRoundId;
    }

    /// @inheritdoc IRoundManager
    function getRound(uint256 roundId) external view returns (RoundInfo memory) {
        return _rounds[roundId];
    }

    /// @inheritdoc IRoundManager
    function getSubmission(uint256 roundId, uint256 slot) external view returns (Submission memory) {
        return _submissions[roundId][slot];
    }

    /// @inheritdoc IRoundManager
    function currentModel() external view returns (bytes32 modelHash, uint256 modelRound) {
        modelRound = _modelRound();
        modelHash = _modelOf(modelRound);
    }

    /// @inheritdoc IRoundManager
    function modelOf(uint256 roundId) external view returns (bytes32 modelHash) {
        return _modelOf(roundId);
    }

    /// @inheritdoc IRoundManager
    function genesisModelCommitment() external view returns (uint256[2][] memory) {
        return _genesisCommitment;
    }

    /// @inheritdoc IRoundManager
    function genesisModelCid() external view returns (string memory) {
        return _genesisCid;
    }

    /// @inheritdoc IRoundManager
    function expectedWeights(uint256 roundId, uint256 excludedMask) external view returns (uint256[] memory) {
        return _expectedWeights(roundId, excludedMask);
    }

    /// @inheritdoc IRoundManager
    function aggregateCommitment(uint256 roundId, uint256 excludedMask) external view returns (uint256[2][] memory c) {
        (c,) = _aggregate(roundId, excludedMask);
    }

    /// @inheritdoc IRoundManager
    function zeroCommitment() external view returns (uint256[2] memory) {
        return [_kx, _ky];
    }

    /// @inheritdoc IRoundManager
    function finalizeDeadline(uint256 roundId) external view returns (uint64) {
        uint64 deadline = _rounds[roundId].deadline;
        return deadline > 0 ? deadline + FINALIZE_WINDOW : 0;
    }

    /// @inheritdoc IRoundManager
    function roundOpening(uint256 roundId)
        external
        view
        returns (uint256 openedBlock, uint256 hospitalsAtOpening, uint256 rollbackThreshold)
    {
        RoundOpening storage o = _openings[roundId];
        return (o.openedBlock, o.hospitals, _rollbackThreshold(roundId));
    }

    /// @dev A strict majority of the hospitals that were members when the round opened.
    function _rollbackThreshold(uint256 roundId) internal view returns (uint256) {
        return uint256(_openings[roundId].hospitals) / 2 + 1;
    }

    // --- rounds and submissions: guards, then effects and events ----------------------------------

    function _openRound(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        internal
        returns (uint256 roundId)
    {
        if (msg.sender != _registry.admin()) revert RoundManagerNotAdmin(msg.sender);
        uint256 previous = _currentRoundId;
        // slither-disable-next-line incorrect-equality -- enum phase, not a balance or timestamp: == is exact
        if (previous != 0 && _rounds[previous].phase == Phase.Open) revert RoundManagerRoundStillOpen(previous);
        if (
            quorum == 0 || quorum > slots || deadline <= block.timestamp
                || deadline > block.timestamp + MAX_ROUND_DURATION
        ) revert RoundManagerInvalidRoundParameters(deadline, quorum);
        if (
            (rule == AggregationRule.Median && (address(medianVerifier) == address(0) || chunks != 1))
                || (normBoundSq != 0 && (address(normVerifier) == address(0) || normBoundSq >= NORM_RANGE))
        ) revert RoundManagerInvalidPolicy(rule, normBoundSq);

        roundId = previous + 1;
        _currentRoundId = roundId;
        RoundInfo storage r = _rounds[roundId];
        r.phase = Phase.Open;
        r.rule = rule;
        r.deadline = deadline;
        r.quorum = quorum;
        uint256 members = _registry.hospitalCount();
        r.members = uint16(members < slots ? members : slots);
        _openings[roundId] = RoundOpening(uint48(block.number), uint32(members));
        uint32 modelRound = _modelRound();
        r.prevModelRound = modelRound;
        bytes32 prevHash = _modelOf(modelRound);
        r.prevModelHash = prevHash;
        r.normBoundSq = normBoundSq;
        emit RoundOpened(roundId, prevHash, modelRound, deadline, quorum);
        emit RoundPolicySet(roundId, rule, normBoundSq);
        emit RoundTermsSet(roundId, deadline + FINALIZE_WINDOW, uint32(members), uint32(members / 2 + 1));
    }

    /// @dev Every check of a submission except the norm proof: caller, phase, timing, slot, commitment, count, CID.
    function _checkSubmission(
        uint256 roundId,
        uint256[2][] calldata commitment,
        string calldata cid,
        uint64 sampleCount
    ) internal view {
        if (!_registry.isHospital(msg.sender)) revert RoundManagerNotHospital(msg.sender);
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        if (block.timestamp > r.deadline) revert RoundManagerDeadlinePassed(roundId, r.deadline, block.timestamp);
        if (_hasSubmitted[roundId][msg.sender]) revert RoundManagerAlreadySubmitted(roundId, msg.sender);
        if (r.submissionCount >= slots) revert RoundManagerRoundFull(roundId, slots);
        if (commitment.length != chunks) revert RoundManagerWrongChunkCount(chunks, commitment.length);
        for (uint256 c = 0; c < commitment.length; c++) {
            _checkCommitment(commitment[c]);
        }
        if (sampleCount == 0 || sampleCount > MAX_SAMPLE_COUNT) {
            revert RoundManagerInvalidSampleCount(sampleCount, MAX_SAMPLE_COUNT);
        }
        uint64 cap = _registry.sampleCapOf(msg.sender);
        if (cap != 0 && sampleCount > cap) {
            revert RoundManagerSampleCountAboveMemberCap(roundId, msg.sender, sampleCount, cap);
        }
        _checkCid(cid);
    }

    /// @dev A finite curve point with canonical coordinates, not K (an all-zero update or chunk), never used
    /// before (a replayed commitment is someone else's update or this hospital's old one). Each point of a
    /// chunked commitment is checked; the same point twice in one commitment is caught when it is recorded.
    function _checkCommitment(uint256[2] calldata c) internal view {
        (uint256 x, uint256 y) = (c[0], c[1]);
        bool onCurve = x < Bn254.P && y < Bn254.P && !(x == 0 && y == 0)
            && mulmod(y, y, Bn254.P) == addmod(mulmod(mulmod(x, x, Bn254.P), x, Bn254.P), 3, Bn254.P);
        if (!onCurve || (x == _kx && y == _ky) || _commitmentUsed[keccak256(abi.encode(x, y))]) {
            revert RoundManagerInvalidCommitment(x, y);
        }
    }

    function _recordSubmission(
        uint256 roundId,
        uint256[2][] calldata commitment,
        string calldata cid,
        uint64 sampleCount
    ) internal {
        RoundInfo storage r = _rounds[roundId];
        uint256 slot = r.submissionCount;
        r.submissionCount += 1;
        _hasSubmitted[roundId][msg.sender] = true;
        Submission storage sub = _submissions[roundId].push();
        sub.hospital = msg.sender;
        sub.sampleCount = sampleCount;
        sub.cid = cid;
        for (uint256 c = 0; c < commitment.length; c++) {
            bytes32 h = keccak256(abi.encode(commitment[c][0], commitment[c][1]));
            if (_commitmentUsed[h]) revert RoundManagerInvalidCommitment(commitment[c][0], commitment[c][1]);
            _commitmentUsed[h] = true;
            sub.commitment.push(commitment[c]);
        }
        emit UpdateSubmitted(roundId, msg.sender, slot, commitment, cid, sampleCount);
    }

    /// @dev Caller, rule, phase and timing checks of a finalization: also past the challenge window, and every
    /// faulted slot left out.
    function _checkFinalizable(uint256 roundId, AggregationRule rule, uint256 excludedMask) internal view {
        RoundInfo storage r = _requireAggregatorMayClose(roundId);
        if (r.rule != rule) revert RoundManagerWrongRule(roundId, r.rule);
        if (challengeWindow == 0) return; // proofs verified at submission: no window, no faults
        uint256 end = _challengeEnds[roundId];
        if (block.timestamp <= end) revert RoundManagerChallengeWindowOpen(roundId, end);
        if (_faultMasks[roundId] & ~excludedMask != 0) revert RoundManagerInvalidExclusion(roundId, excludedMask);
    }

    /// @dev Effects and events of a successful finalization.
    function _finalize(
        uint256 roundId,
        uint256[2][] memory commitment,
        string calldata newModelCid,
        uint256 included,
        uint256 excludedMask,
        bytes32 proofHash,
        string memory proofCid
    ) internal {
        // exclusions carry a declaration (with public evidence, or an unanswered re-announce window); none: no read
        if (excludedMask != 0) _applyExclusions(roundId, excludedMask);
        RoundInfo storage r = _rounds[roundId];
        r.phase = Phase.Finalized;
        r.newModelHash = _hashPoints(commitment);
        if (chunks > 1) _storeChunkHashes(roundId, commitment);
        r.finalizedBlock = uint48(block.number);

        Submission[] storage subs = _submissions[roundId];
        uint256 totalSamples = 0;
        for (uint256 i = 0; i < subs.length; i++) {
            if ((excludedMask >> i) & 1 == 1) {
                emit UpdateExcluded(roundId, subs[i].hospital, i);
            } else {
                totalSamples += subs[i].sampleCount;
            }
        }
        emit RoundFinalized(roundId, commitment, newModelCid, proofHash, proofCid, included, totalSamples);
    }

    function _requireClosed(uint256 roundId) internal view {
        Phase phase = _rounds[roundId].phase;
        // slither-disable-next-line incorrect-equality -- enum phase, not a balance or timestamp: == is exact
        if (phase == Phase.None || phase == Phase.Open) revert RoundManagerRoundNotClosed(roundId, phase);
    }

    function _modelOf(uint256 roundId) internal view returns (bytes32) {
        if (roundId == 0) return _genesisHash;
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Finalized && r.phase != Phase.RolledBack && r.phase != Phase.Invalidated) {
            revert RoundManagerWrongPhase(roundId, Phase.Finalized, r.phase);
        }
        return r.newModelHash;
    }

    // --- aggregation -------------------------------------------------------------------------------

    /// @dev Weights at scale 2^scaleBits that sum to exactly 2^scaleBits over the included slots, no one above the
    /// share cap c = ceil(2^scaleBits / min(m, MAX_SHARE_DENOMINATOR)) for m included slots (c * m >= 2^scaleBits, so
    /// the cap is always feasible). Water-filling, deterministic: over the slots not yet capped (the free set F,
    /// with R = 2^scaleBits - c * |capped| units and N their total count), w_i = 1 + floor(n_i * (R - |F|) / N), and
    /// what the floors leave (fewer than |F| units) goes to the first slot of F; every slot of F above c is capped
    /// at c and leaves F, and the step repeats until none is above c (at most m steps; F never empties because
    /// R <= c * |F|). Without a capped slot this is the plain sample-count formula. Every included slot weighs at
    /// least 1; excluded and empty slots weigh 0. zkfl_dapp.core.aggregation.normalized_weights is the same
    /// integers.
    function _expectedWeights(uint256 roundId, uint256 excludedMask) internal view returns (uint256[] memory w) {
        (w,) = _weights(roundId, excludedMask);
    }

    /// @dev `_expectedWeights` and the number of included slots.
    function _weights(uint256 roundId, uint256 excludedMask)
        internal
        view
        returns (uint256[] memory w, uint256 included)
    {
        Submission[] storage subs = _submissions[roundId];
        if (excludedMask >> subs.length != 0) revert RoundManagerInvalidExclusion(roundId, excludedMask);
        uint256[] memory counts = new uint256[](subs.length); // 0: excluded, or capped
        uint256 total = 0;
        uint256 first = type(uint256).max;
        for (uint256 i = 0; i < counts.length; i++) {
            if ((excludedMask >> i) & 1 == 0) {
                counts[i] = subs[i].sampleCount;
                total += counts[i];
                included += 1;
                if (first == type(uint256).max) first = i;
            }
        }
        w = new uint256[](slots);
        if (included == 0) return (w, 0);
        uint256 cap = _shareCap(included);
        uint256 free = included;
        while (_share(w, counts, (uint256(1) << scaleBits) - cap * (included - free), free, total, first, cap)) {
            (total, free, first) = _capOver(w, counts, cap);
        }
    }

    /// @dev ceil(2^scaleBits / min(included, MAX_SHARE_DENOMINATOR)): included * cap >= 2^scaleBits.
    function _shareCap(uint256 included) internal view returns (uint256) {
        uint256 k = included < MAX_SHARE_DENOMINATOR ? included : MAX_SHARE_DENOMINATOR;
        return ((uint256(1) << scaleBits) + k - 1) / k;
    }

    /// @dev One water-filling share: `rest` units among the `free` slots (counts[i] != 0, `total` their count,
    /// `first` the first): w_i = 1 + floor(n_i * (rest - free) / total), the floors' remainder to `first`.
    /// Returns whether a free slot is above `cap`.
    function _share(
        uint256[] memory w,
        uint256[] memory counts,
        uint256 rest,
        uint256 free,
        uint256 total,
        uint256 first,
        uint256 cap
    ) internal pure returns (bool over) {
        uint256 spare = rest - free;
        uint256 assigned = 0;
        for (uint256 i = 0; i < counts.length; i++) {
            uint256 count = counts[i];
            if (count != 0) {
                uint256 wi = 1 + (count * spare) / total;
                w[i] = wi;
                assigned += wi;
                if (wi > cap) over = true;
            }
        }
        w[first] += rest - assigned;
        return over || w[first] > cap;
    }

    /// @dev Caps every free slot above `cap` (w_i = cap; it leaves the free set) and returns the free set's total
    /// count, size and first slot.
    function _capOver(uint256[] memory w, uint256[] memory counts, uint256 cap)
        internal
        pure
        returns (uint256 total, uint256 free, uint256 first)
    {
        first = type(uint256).max;
        for (uint256 i = 0; i < counts.length; i++) {
            if (counts[i] == 0) continue;
            if (w[i] > cap) {
                w[i] = cap;
                counts[i] = 0;
            } else {
                total += counts[i];
                free += 1;
                if (first == type(uint256).max) first = i;
            }
        }
    }

    /// @dev Per chunk c, C(S_c) = K + sum_i w_i (C(u_ic) - K) over the included slots, with the weights of
    /// `_expectedWeights` (they sum to 2^scaleBits, so this is Bn254.affineCombination's point), and the number of
    /// included slots. The stored commitments were validated at submission; each point is read once. Reverts
    /// without an included slot.
    function _aggregate(uint256 roundId, uint256 excludedMask)
        internal
        view
        returns (uint256[2][] memory commitment, uint256 included)
    {
        uint256[] memory w;
        (w, included) = _weights(roundId, excludedMask);
        if (included == 0) revert RoundManagerQuorumNotMet(roundId, 0, _rounds[roundId].quorum);
        Submission[] storage subs = _submissions[roundId];
        Bn254.G1Point memory k = Bn254.G1Point(_kx, _ky);
        Bn254.G1Point memory minusK = Bn254.negate(k);
        commitment = new uint256[2][](chunks);
        for (uint256 c = 0; c < chunks; c++) {
            Bn254.G1Point memory acc = k;
            for (uint256 i = 0; i < w.length; i++) {
                if (w[i] == 0) continue;
                (uint256 x, uint256 y) = _storedPoint(subs, i, c);
                acc = Bn254.add(acc, Bn254.mul(Bn254.add(Bn254.G1Point(x, y), minusK), w[i]));
            }
            if (acc.x == 0 && acc.y == 0) revert Bn254.Bn254InvalidPoint(0, 0);
            commitment[c][0] = acc.x;
            commitment[c][1] = acc.y;
        }
    }

    /// @dev Point `c` of slot `i`'s stored commitment, read without Solidity's two bounds checks (a cold SLOAD of
    /// the points array's length per slot): callers pass an `i` that has a submission (a non-zero weight) and
    /// c < chunks, the length every stored commitment has (checked at submission). Submission's storage layout:
    /// slot 0 hospital and sampleCount, slot 1 the points array, slot 2 cid (3 slots per element).
    function _storedPoint(Submission[] storage subs, uint256 i, uint256 c) internal view returns (uint256 x, uint256 y) {
        // slither-disable-next-line assembly -- Solidity's storage layout of arrays and structs is fixed
        assembly {
            mstore(0x00, subs.slot)
            let element := add(keccak256(0x00, 0x20), mul(i, 3))
            mstore(0x00, add(element, 1))
            let base := add(keccak256(0x00, 0x20), mul(c, 2))
            x := sload(base)
            y := sload(add(base, 1))
        }
    }

    /// @dev C(2^scaleBits u) = K + 2^scaleBits (C(u) - K): the norm and median circuits take the update at the
    /// aggregate's scale.
    function _scaled(uint256[2] memory c) internal view returns (uint256[2] memory) {
        Bn254.G1Point memory k = Bn254.G1Point(_kx, _ky);
        Bn254.G1Point memory d = Bn254.add(Bn254.G1Point(c[0], c[1]), Bn254.negate(k));
        Bn254.G1Point memory r = Bn254.add(k, Bn254.mul(d, uint256(1) << scaleBits));
        return [r.x, r.y];
    }

    // --- proof bindings: committed points and instances against this round's records ----------------

    /// @dev keccak256(x || y) of one point.
    function _hash(uint256[2] memory p) internal pure returns (bytes32) {
        return keccak256(abi.encode(p[0], p[1]));
    }

    /// @dev keccak256(x_0 || y_0 || x_1 || ..), how the contract stores a model commitment (for one point the
    /// same as `_hash`).
    function _hashPoints(uint256[2][] memory points) internal pure returns (bytes32) {
        if (points.length == 1) return _hash(points[0]);
        return keccak256(abi.encodePacked(points));
    }

    function _storeChunkHashes(uint256 roundId, uint256[2][] memory points) internal {
        bytes32[] storage hashes = _modelChunkHashes[roundId];
        for (uint256 c = 0; c < points.length; c++) {
            hashes.push(_hash(points[c]));
        }
    }

    function _requirePoint(uint256 roundId, bytes calldata proof, uint256 index, bytes32 expected) internal pure {
        bytes32 actual = _hash(InstanceLayout.committedPoint(proof, index));
        if (actual != expected) revert RoundManagerProofPointMismatch(roundId, index, expected, actual);
    }

    /// @dev The one check of a chunk norm proof (at submission and in a challenge): its first committed point is
    /// C(2^scaleBits u_c) of `point`, its second the previous model's chunk, and the verifier accepts it for the
    /// instances [2^(2 scaleBits), budget, chunk, chunks, hospital's limbs] (InstanceLayout), built here.
    function _chunkFault(
        uint256 roundId,
        address hospital,
        uint256 chunk,
        uint256[2] memory point,
        uint256 budget,
        bytes calldata proof
    ) internal returns (ProofFault) {
        RoundInfo storage r = _rounds[roundId];
        if (_hash(InstanceLayout.committedPoint(proof, InstanceLayout.NORM_UPDATE_POINT)) != _hash(_scaled(point))) {
            return ProofFault.UpdatePoint;
        }
        bytes32 prev = chunks == 1 ? r.prevModelHash : _modelChunkHashes[r.prevModelRound][chunk];
        if (_hash(InstanceLayout.committedPoint(proof, InstanceLayout.NORM_AGGREGATE_POINT)) != prev) {
            return ProofFault.AggregatePoint;
        }
        uint256[] memory instances = new uint256[](InstanceLayout.NORM_COUNT);
        instances[InstanceLayout.NORM_FLAG_INDEX] = uint256(1) << (2 * scaleBits);
        instances[InstanceLayout.NORM_BUDGET_INDEX] = budget;
        instances[InstanceLayout.NORM_CHUNK_INDEX] = chunk;
        instances[InstanceLayout.NORM_CHUNKS_INDEX] = chunks;
        for (uint256 i = 0; i < InstanceLayout.ADDRESS_LIMBS; i++) {
            instances[InstanceLayout.NORM_ADDRESS_OFFSET + i] = InstanceLayout.addressLimb(hospital, i);
        }
        return normVerifier.accepts(proof, instances, RoundManagerVerifierOutOfGas.selector) ? ProofFault.None : ProofFault.Rejected;
    }

    /// @dev Median: slot points are C(2^scaleBits u_i) for included slots, the previous aggregate for the others;
    /// the proof verifies. Returns the number of included slots (the caller checks the quorum and takes the
    /// result's point).
    function _checkMedianProof(uint256 roundId, bytes calldata proof, uint256[] calldata instances, uint256 excludedMask)
        internal
        returns (uint256 included)
    {
        Submission[] storage subs = _submissions[roundId];
        if (excludedMask >> subs.length != 0) revert RoundManagerInvalidExclusion(roundId, excludedMask);
        uint256 expectedLength = InstanceLayout.MEDIAN_COUNT;
        if (instances.length != expectedLength) revert RoundManagerWrongInstanceCount(expectedLength, instances.length);
        bytes32 prev = _rounds[roundId].prevModelHash;
        for (uint256 i = 0; i < slots; i++) {
            bool isIncluded = i < subs.length && (excludedMask >> i) & 1 == 0;
            if (isIncluded) included += 1;
            _requirePoint(roundId, proof, i, isIncluded ? _hash(_scaled(subs[i].commitment[0])) : prev);
        }
        if (!medianVerifier.accepts(proof, instances, RoundManagerVerifierOutOfGas.selector)) revert RoundManagerProofRejected(roundId);
        // a wrong claimed median still proves, with a non-zero certificate
        uint256 z = instances[InstanceLayout.MEDIAN_CERTIFICATE_INDEX];
        if (z != 0) revert RoundManagerInstanceMismatch(roundId, InstanceLayout.MEDIAN_CERTIFICATE_INDEX, 0, z);
    }

    // --- exclusions with evidence, re-announcements and disputes (docs/exclusions.md) ---------------
    // Their code is RoundManagerExclusions (this contract's runtime would pass EIP-170 with it), run on this
    // contract's storage by delegatecall; the stubs keep every function in this contract's ABI.

    /// @inheritdoc IRoundManager
    function declareExclusion(uint256, uint256, ExclusionReason, bytes32, string calldata) external {
        _delegate();
    }

    /// @inheritdoc IRoundManager
    function reannounceUpdate(uint256, uint256, bytes calldata) external {
        _delegate();
    }

    /// @inheritdoc IRoundManager
    function disputeExclusion(uint256, uint256) external {
        _delegate();
    }

    /// @inheritdoc IRoundManager
    function supportDispute(uint256, uint256) external {
        _delegate();
    }

    /// @dev Runs this call's calldata in RoundManagerExclusions on this contract's storage; returns or reverts
    /// with its data (its typed errors and events are IRoundManager's).
    function _delegate() private {
        address code = _exclusionsCode;
        // slither-disable-next-line assembly -- a plain delegating forward to the immutable code made in the constructor
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), code, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    /// @inheritdoc IRoundManager
    function getExclusion(uint256 roundId, uint256 slot) external view returns (Exclusion memory) {
        return _exclusions[roundId][slot];
    }

    /// @inheritdoc IRoundManager
    function disputeDeadline(uint256 roundId) external view returns (uint256) {
        return _disputeDeadlines[roundId];
    }

    /// @inheritdoc IRoundManager
    function supportsDispute(uint256 roundId, uint256 slot, address hospital) external view returns (bool) {
        return _supported[roundId][slot][hospital];
    }

    /// @dev Every slot in `excludedMask` has a declared exclusion; an `Unavailable` one is unanswered and its
    /// re-announce window has passed. Marks them applied and opens the round's dispute window.
    function _applyExclusions(uint256 roundId, uint256 excludedMask) internal {
        for (uint256 slot = 0; excludedMask >> slot != 0; slot++) {
            if ((excludedMask >> slot) & 1 == 0) continue;
            Exclusion storage e = _exclusions[roundId][slot];
            if (e.reason == ExclusionReason.None) revert RoundManagerExclusionNotDeclared(roundId, slot);
            if (e.reason == ExclusionReason.Unavailable) {
                if (e.reannounced) revert RoundManagerUpdateReannounced(roundId, slot);
                uint256 windowEnd = uint256(e.declaredAt) + REANNOUNCE_WINDOW;
                if (block.timestamp <= windowEnd) revert RoundManagerReannounceWindowOpen(roundId, slot, windowEnd);
            }
            e.applied = true;
        }
        _disputeDeadlines[roundId] = block.timestamp + EXCLUSION_DISPUTE_WINDOW;
    }
}
