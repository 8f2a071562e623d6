// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IHalo2Verifier} from "./interfaces/IHalo2Verifier.sol";
import {IRoundManager} from "./interfaces/IRoundManager.sol";
import {InstanceLayout} from "./libraries/InstanceLayout.sol";
import {VerifierCalls} from "./libraries/VerifierCalls.sol";

/// @title RoundManager
/// @notice Federated-learning rounds whose aggregates are accepted only with a zero-knowledge proof
/// bound to the commitments and sample counts recorded here.
/// @dev Instance offsets come from InstanceLayout; every verifier call goes through VerifierCalls.
contract RoundManager is IRoundManager {
    using VerifierCalls for IHalo2Verifier;

    /// @inheritdoc IRoundManager
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @inheritdoc IRoundManager
    uint64 public constant MAX_SAMPLE_COUNT = 1_000_000;
    /// @inheritdoc IRoundManager
    uint64 public constant MAX_ROUND_DURATION = 30 days;
    /// @inheritdoc IRoundManager
    uint256 public constant MAX_CID_LENGTH = 128;
    /// @inheritdoc IRoundManager
    uint256 public constant NORM_RANGE = 1 << 28;

    /// @inheritdoc IRoundManager
    IConsortiumRegistry public immutable registry;
    /// @inheritdoc IRoundManager
    IHalo2Verifier public immutable fedAvgVerifier;
    /// @inheritdoc IRoundManager
    IHalo2Verifier public immutable medianVerifier;
    /// @inheritdoc IRoundManager
    IHalo2Verifier public immutable normVerifier;
    /// @inheritdoc IRoundManager
    uint256 public immutable slots;
    /// @inheritdoc IRoundManager
    uint256 public immutable modelSize;
    /// @inheritdoc IRoundManager
    uint256 public immutable scaleBits;
    /// @inheritdoc IRoundManager
    uint256 public immutable emptySlotCommitment;

    string private _circuitCid;
    uint256 private _currentRoundId;
    uint256 private _modelCommitment;
    string private _modelCid;
    mapping(uint256 roundId => RoundInfo) private _rounds;
    mapping(uint256 roundId => Submission[]) private _submissions;
    mapping(uint256 roundId => mapping(address hospital => bool)) private _hasSubmitted;
    mapping(uint256 commitment => bool) private _commitmentUsed;
    mapping(uint256 roundId => mapping(address hospital => bool)) private _reported;

    constructor(
        IConsortiumRegistry registry_,
        IHalo2Verifier fedAvgVerifier_,
        IHalo2Verifier medianVerifier_,
        IHalo2Verifier normVerifier_,
        uint256 slots_,
        uint256 modelSize_,
        uint256 scaleBits_,
        uint256 emptySlotCommitment_,
        uint256 genesisModelCommitment,
        string memory genesisModelCid,
        string memory circuitCid_
    ) {
        registry = registry_;
        fedAvgVerifier = fedAvgVerifier_;
        medianVerifier = medianVerifier_;
        normVerifier = normVerifier_;
        slots = slots_;
        modelSize = modelSize_;
        scaleBits = scaleBits_;
        emptySlotCommitment = emptySlotCommitment_;
        _modelCommitment = genesisModelCommitment;
        _modelCid = genesisModelCid;
        _circuitCid = circuitCid_;
        emit CircuitPublished(circuitCid_);
    }

    /// @inheritdoc IRoundManager
    function openRound(uint64 deadline, uint32 quorum) external returns (uint256 roundId) {
        return _openRound(deadline, quorum, AggregationRule.FedAvg, 0);
    }

    /// @inheritdoc IRoundManager
    function openRoundWithPolicy(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        external
        returns (uint256 roundId)
    {
        return _openRound(deadline, quorum, rule, normBoundSq);
    }

    /// @inheritdoc IRoundManager
    function submitUpdate(uint256 roundId, uint256 commitment, string calldata cid, uint64 sampleCount) external {
        _checkSubmission(roundId, commitment, cid, sampleCount);
        if (_rounds[roundId].normBoundSq != 0) revert RoundManagerNormProofRequired(roundId);
        _recordSubmission(roundId, commitment, cid, sampleCount);
    }

    /// @inheritdoc IRoundManager
    function submitBoundedUpdate(
        uint256 roundId,
        uint256 commitment,
        string calldata cid,
        uint64 sampleCount,
        bytes calldata normProof,
        uint256[] calldata normInstances
    ) external {
        _checkSubmission(roundId, commitment, cid, sampleCount);
        _checkNormProof(roundId, commitment, normProof, normInstances);
        _recordSubmission(roundId, commitment, cid, sampleCount);
    }

    /// @inheritdoc IRoundManager
    function finalizeRound(
        uint256 roundId,
        bytes calldata proof,
        uint256[] calldata instances,
        string calldata newModelCid,
        string calldata proofCid,
        uint256 excludedMask
    ) external {
        uint32 quorum = _checkFinalizable(roundId);
        _checkCid(newModelCid);
        _checkCid(proofCid);
        uint256 included;
        if (_rounds[roundId].rule == AggregationRule.Median) {
            included = _checkMedianInstances(roundId, quorum, instances, excludedMask);
            _verify(medianVerifier, roundId, proof, instances);
        } else {
            included = _checkFedAvgInstances(roundId, quorum, instances, excludedMask);
            _verify(fedAvgVerifier, roundId, proof, instances);
        }

        RoundInfo storage r = _rounds[roundId];
        r.newModelCid = newModelCid;
        r.proofCid = proofCid;
        r.proofHash = keccak256(proof);
        uint256 commitment = InstanceLayout.modelCommitment(instances, InstanceLayout.newModelOffset(slots), modelSize);
        _finalize(roundId, commitment, included, excludedMask);
    }

    /// @inheritdoc IRoundManager
    function abortRound(uint256 roundId) external {
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        if (block.timestamp <= r.deadline) revert RoundManagerDeadlineNotReached(roundId, r.deadline, block.timestamp);
        if (r.submissionCount >= r.quorum && msg.sender != registry.admin()) revert RoundManagerNotAdmin(msg.sender);

        r.phase = Phase.Aborted;
        emit RoundAborted(roundId, r.submissionCount, msg.sender);
    }

    /// @inheritdoc IRoundManager
    function reportModelUnavailable(uint256 roundId) external {
        if (!registry.isHospital(msg.sender)) revert RoundManagerNotHospital(msg.sender);
        if (roundId != _currentRoundId) revert RoundManagerNotLatestRound(roundId, _currentRoundId);
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Finalized) revert RoundManagerWrongPhase(roundId, Phase.Finalized, r.phase);
        if (_reported[roundId][msg.sender]) revert RoundManagerAlreadyReported(roundId, msg.sender);

        _reported[roundId][msg.sender] = true;
        r.unavailableReports += 1;
        emit ModelUnavailableReported(roundId, msg.sender, r.unavailableReports);
        if (r.unavailableReports >= r.quorum) {
            r.phase = Phase.RolledBack;
            _modelCommitment = r.prevModelCommitment;
            _modelCid = r.prevModelCid;
            emit RoundRolledBack(roundId, r.prevModelCommitment, r.prevModelCid);
        }
    }

    /// @inheritdoc IRoundManager
    function recordAudit(uint256 roundId, bool passed, string calldata reportCid) external {
        if (!registry.isAuditor(msg.sender)) revert RoundManagerNotAuditor(msg.sender);
        _requireClosed(roundId);
        _checkCid(reportCid);
        emit AuditRecorded(roundId, msg.sender, passed, reportCid);
    }

    /// @inheritdoc IRoundManager
    function publishRoundReport(uint256 roundId, string calldata reportCid) external {
        if (msg.sender != registry.admin()) revert RoundManagerNotAdmin(msg.sender);
        _requireClosed(roundId);
        _checkCid(reportCid);
        emit RoundReportPublished(roundId, reportCid);
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
    function currentModel() external view returns (uint256 commitment, string memory cid) {
        return (_modelCommitment, _modelCid);
    }

    /// @inheritdoc IRoundManager
    function expectedWeights(uint256 roundId, uint256 excludedMask) external view returns (uint256[] memory) {
        return _expectedWeights(roundId, excludedMask);
    }

    // --- rounds and submissions: guards, then effects and events ----------------------------------

    function _openRound(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        internal
        returns (uint256 roundId)
    {
        if (msg.sender != registry.admin()) revert RoundManagerNotAdmin(msg.sender);
        uint256 previous = _currentRoundId;
        if (previous != 0 && _rounds[previous].phase == Phase.Open) revert RoundManagerRoundStillOpen(previous);
        if (
            quorum == 0 || quorum > slots || deadline <= block.timestamp
                || deadline > block.timestamp + MAX_ROUND_DURATION
        ) revert RoundManagerInvalidRoundParameters(deadline, quorum);
        if (
            (rule == AggregationRule.Median && address(medianVerifier) == address(0))
                || (normBoundSq != 0 && (address(normVerifier) == address(0) || normBoundSq >= NORM_RANGE))
        ) revert RoundManagerInvalidPolicy(rule, normBoundSq);

        roundId = previous + 1;
        _currentRoundId = roundId;
        RoundInfo storage r = _rounds[roundId];
        r.phase = Phase.Open;
        r.deadline = deadline;
        r.quorum = quorum;
        r.prevModelCommitment = _modelCommitment;
        r.prevModelCid = _modelCid;
        r.rule = rule;
        r.normBoundSq = normBoundSq;
        uint256 members = registry.hospitalCount();
        r.members = uint32(members < slots ? members : slots);
        emit RoundOpened(roundId, _modelCommitment, _modelCid, deadline, quorum);
        emit RoundPolicySet(roundId, rule, normBoundSq);
    }

    /// @dev Every check of a submission except the norm proof: caller, phase, timing, slot, commitment, count, CID.
    function _checkSubmission(uint256 roundId, uint256 commitment, string calldata cid, uint64 sampleCount)
        internal
        view
    {
        if (!registry.isHospital(msg.sender)) revert RoundManagerNotHospital(msg.sender);
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        if (block.timestamp > r.deadline) revert RoundManagerDeadlinePassed(roundId, r.deadline, block.timestamp);
        if (_hasSubmitted[roundId][msg.sender]) revert RoundManagerAlreadySubmitted(roundId, msg.sender);
        if (r.submissionCount >= slots) revert RoundManagerRoundFull(roundId, slots);
        if (
            commitment == 0 || commitment >= FIELD_MODULUS || commitment == emptySlotCommitment
                || _commitmentUsed[commitment]
        ) revert RoundManagerInvalidCommitment(commitment);
        if (sampleCount == 0 || sampleCount > MAX_SAMPLE_COUNT) {
            revert RoundManagerInvalidSampleCount(sampleCount, MAX_SAMPLE_COUNT);
        }
        _checkCid(cid);
    }

    function _checkCid(string calldata cid) internal pure {
        uint256 length = bytes(cid).length;
        if (length == 0) revert RoundManagerEmptyCid();
        if (length > MAX_CID_LENGTH) revert RoundManagerCidTooLong(length, MAX_CID_LENGTH);
    }

    function _recordSubmission(uint256 roundId, uint256 commitment, string calldata cid, uint64 sampleCount)
        internal
    {
        RoundInfo storage r = _rounds[roundId];
        uint256 slot = r.submissionCount;
        r.submissionCount += 1;
        _hasSubmitted[roundId][msg.sender] = true;
        _commitmentUsed[commitment] = true;
        _submissions[roundId].push(Submission(msg.sender, commitment, sampleCount, cid));
        emit UpdateSubmitted(roundId, msg.sender, slot, commitment, cid, sampleCount);
    }

    /// @dev Caller, phase and timing checks of a finalization; returns the round's quorum.
    function _checkFinalizable(uint256 roundId) internal view returns (uint32) {
        if (msg.sender != registry.aggregator()) revert RoundManagerNotAggregator(msg.sender);
        RoundInfo storage r = _rounds[roundId];
        if (r.phase != Phase.Open) revert RoundManagerWrongPhase(roundId, Phase.Open, r.phase);
        // "every member submitted" counts the hospitals admitted when the round opened: removing a member
        // meanwhile cannot let the round close early
        if (r.submissionCount < r.members && block.timestamp <= r.deadline) {
            revert RoundManagerDeadlineNotReached(roundId, r.deadline, block.timestamp);
        }
        return r.quorum;
    }

    /// @dev Effects and events of a successful finalization (CIDs and proof hash are already stored).
    function _finalize(uint256 roundId, uint256 commitment, uint256 included, uint256 excludedMask) internal {
        RoundInfo storage r = _rounds[roundId];
        r.phase = Phase.Finalized;
        r.newModelCommitment = commitment;
        _modelCommitment = commitment;
        _modelCid = r.newModelCid;

        Submission[] storage subs = _submissions[roundId];
        uint256 totalSamples = 0;
        for (uint256 i = 0; i < subs.length; i++) {
            if ((excludedMask >> i) & 1 == 1) {
                emit UpdateExcluded(roundId, subs[i].hospital, i);
            } else {
                totalSamples += subs[i].sampleCount;
            }
        }
        emit RoundFinalized(roundId, commitment, r.newModelCid, r.proofHash, r.proofCid, included, totalSamples);
    }

    function _requireClosed(uint256 roundId) internal view {
        Phase phase = _rounds[roundId].phase;
        if (phase == Phase.None || phase == Phase.Open) revert RoundManagerRoundNotClosed(roundId, phase);
    }

    /// @dev Weights at scale 2^scaleBits that sum to exactly 2^scaleBits over the included slots: with m included
    /// slots and N their total count, w_i = 1 + floor(n_i * (2^scaleBits - m) / N), and what the floors leave
    /// (fewer than m units) goes to the first included slot. Every included slot weighs at least 1, so no
    /// declared count can silently zero the others; excluded and empty slots weigh 0. Reverts without an
    /// included slot.
    function _expectedWeights(uint256 roundId, uint256 excludedMask) internal view returns (uint256[] memory w) {
        Submission[] storage subs = _submissions[roundId];
        if (excludedMask >> subs.length != 0) revert RoundManagerInvalidExclusion(roundId, excludedMask);
        uint256 total = 0;
        uint256 included = 0;
        uint256 first = type(uint256).max;
        for (uint256 i = 0; i < subs.length; i++) {
            if ((excludedMask >> i) & 1 == 0) {
                total += subs[i].sampleCount;
                included += 1;
                if (first == type(uint256).max) first = i;
            }
        }
        w = new uint256[](slots);
        if (included == 0) return w;
        uint256 one = uint256(1) << scaleBits;
        uint256 spare = one - included;
        uint256 assigned = 0;
        for (uint256 i = 0; i < subs.length; i++) {
            if ((excludedMask >> i) & 1 == 0) {
                w[i] = 1 + (uint256(subs[i].sampleCount) * spare) / total;
                assigned += w[i];
            }
        }
        w[first] += one - assigned;
    }

    /// @dev Submitted and not excluded: how the enclave counts included updates (never by weight).
    function _includedCount(uint256 roundId, uint256 excludedMask) internal view returns (uint256 included) {
        uint256 submitted = _submissions[roundId].length;
        for (uint256 i = 0; i < submitted; i++) {
            if ((excludedMask >> i) & 1 == 0) included += 1;
        }
    }

    // --- proof bindings: each circuit's instances against this round's records (offsets: InstanceLayout) ---

    /// @dev FedAvg: checks the quorum, then binds the proof to this round: slot hashes equal the stored
    /// commitments (or the empty-slot commitment), and the public weights equal those derived from the stored
    /// sample counts. Returns the number of included slots.
    function _checkFedAvgInstances(uint256 roundId, uint32 quorum, uint256[] calldata instances, uint256 excludedMask)
        internal
        view
        returns (uint256 included)
    {
        uint256[] memory weights = _expectedWeights(roundId, excludedMask);
        included = _includedCount(roundId, excludedMask);
        if (included < quorum) revert RoundManagerQuorumNotMet(roundId, included, quorum);

        uint256 s = slots;
        uint256 expectedLength = InstanceLayout.aggregationCount(s, modelSize);
        if (instances.length != expectedLength) revert RoundManagerWrongInstanceCount(expectedLength, instances.length);
        Submission[] storage subs = _submissions[roundId];
        uint256 weightsOffset = InstanceLayout.weightsOffset(s, modelSize);
        for (uint256 i = 0; i < s; i++) {
            // slot i's hash is instances[i]
            bool isIncluded = i < subs.length && (excludedMask >> i) & 1 == 0;
            uint256 expectedHash = isIncluded ? subs[i].commitment : emptySlotCommitment;
            if (instances[i] != expectedHash) revert RoundManagerInstanceMismatch(roundId, i, expectedHash, instances[i]);
            uint256 j = weightsOffset + i;
            if (instances[j] != weights[i]) revert RoundManagerInstanceMismatch(roundId, j, weights[i], instances[j]);
        }
    }

    /// @dev Median: checks the quorum, then binds the proof to this round: included slots carry their
    /// commitments, other slots the hash of the previous model g, and g's keccak256 is this round's
    /// previous-model commitment. Returns the number of included slots.
    function _checkMedianInstances(uint256 roundId, uint32 quorum, uint256[] calldata instances, uint256 excludedMask)
        internal
        view
        returns (uint256 included)
    {
        Submission[] storage subs = _submissions[roundId];
        if (excludedMask >> subs.length != 0) revert RoundManagerInvalidExclusion(roundId, excludedMask);
        for (uint256 i = 0; i < subs.length; i++) {
            if ((excludedMask >> i) & 1 == 0) included += 1;
        }
        if (included < quorum) revert RoundManagerQuorumNotMet(roundId, included, quorum);

        uint256 s = slots;
        uint256 d = modelSize;
        uint256 expectedLength = InstanceLayout.medianCount(s, d);
        if (instances.length != expectedLength) revert RoundManagerWrongInstanceCount(expectedLength, instances.length);
        uint256 prevHash = instances[InstanceLayout.medianPreviousModelHashIndex(s)];
        for (uint256 i = 0; i < s; i++) {
            // slot i's hash is instances[i]
            bool isIncluded = i < subs.length && (excludedMask >> i) & 1 == 0;
            uint256 expectedHash = isIncluded ? subs[i].commitment : prevHash;
            if (instances[i] != expectedHash) revert RoundManagerInstanceMismatch(roundId, i, expectedHash, instances[i]);
        }
        uint256 prev = InstanceLayout.modelCommitment(instances, InstanceLayout.medianPreviousModelOffset(s, d), d);
        uint256 expectedPrev = _rounds[roundId].prevModelCommitment;
        if (prev != expectedPrev) revert RoundManagerPreviousModelMismatch(roundId, expectedPrev, prev);
    }

    /// @dev Norm: binds the proof to this submission (commitment) and round (bound, previous model g), then
    /// verifies it, then requires its flag to say "within bound".
    function _checkNormProof(uint256 roundId, uint256 commitment, bytes calldata proof, uint256[] calldata instances)
        internal
    {
        RoundInfo storage r = _rounds[roundId];
        uint256 bound = r.normBoundSq;
        if (bound == 0) revert RoundManagerNoNormBound(roundId);
        uint256 d = modelSize;
        uint256 expectedLength = InstanceLayout.normCount(d);
        if (instances.length != expectedLength) revert RoundManagerWrongInstanceCount(expectedLength, instances.length);

        uint256 c = InstanceLayout.NORM_COMMITMENT_INDEX;
        if (instances[c] != commitment) revert RoundManagerNormProofMismatch(roundId, c, commitment, instances[c]);
        uint256 b = InstanceLayout.NORM_BOUND_INDEX;
        if (instances[b] != bound) revert RoundManagerNormProofMismatch(roundId, b, bound, instances[b]);
        uint256 g = InstanceLayout.NORM_PREVIOUS_MODEL_OFFSET;
        uint256 prev = InstanceLayout.modelCommitment(instances, g, d);
        if (prev != r.prevModelCommitment) {
            revert RoundManagerNormProofMismatch(roundId, g, r.prevModelCommitment, prev);
        }

        if (!normVerifier.accepts(proof, instances)) revert RoundManagerNormProofRejected(roundId, msg.sender);
        if (instances[InstanceLayout.NORM_FLAG_INDEX] != uint256(1) << scaleBits) {
            revert RoundManagerNormBoundExceeded(roundId, msg.sender, bound);
        }
    }

    /// @dev Reverts unless verifier `v` accepts the aggregation proof (see VerifierCalls).
    function _verify(IHalo2Verifier v, uint256 roundId, bytes calldata proof, uint256[] calldata instances) internal {
        if (!v.accepts(proof, instances)) revert RoundManagerProofRejected(roundId);
    }
}
