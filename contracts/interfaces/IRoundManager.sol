// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {IHalo2Verifier} from "./IHalo2Verifier.sol";

/// @title IRoundManager
/// @notice Runs federated-learning rounds: hospitals commit to encrypted updates, the aggregator
/// enclave finalizes with a zero-knowledge proof that the new global model is exactly the weighted
/// average (or the coordinate-wise median) of the committed updates.
/// @dev The public-instance layouts of the aggregation, median and norm circuits (S = `slots()`,
/// d = `modelSize()`) are documented and computed in one place: `contracts/libraries/InstanceLayout.sol`.
/// The new model's commitment is keccak256 over its d model instances, computed by this contract.
interface IRoundManager {
    /// @notice How a round's updates are combined; each rule has its own circuit and verifier.
    enum AggregationRule {
        FedAvg,
        Median
    }

    /// @notice Life cycle of a round. A finalized round whose model file a quorum of hospitals reports
    /// unavailable (or not matching its commitment) is rolled back: the previous global model is current again.
    enum Phase {
        None,
        Open,
        Finalized,
        Aborted,
        RolledBack
    }

    /// @notice One round's public record.
    struct RoundInfo {
        Phase phase;
        uint64 deadline;
        uint32 quorum;
        uint32 submissionCount;
        uint256 prevModelCommitment;
        string prevModelCid;
        uint256 newModelCommitment;
        string newModelCid;
        bytes32 proofHash;
        string proofCid;
        AggregationRule rule;
        uint256 normBoundSq;
        /// Hospitals admitted when the round opened (at most `slots()`): finalizing before the deadline
        /// needs this many submissions, whatever the membership does meanwhile.
        uint32 members;
        /// Hospitals that reported the round's new model file unavailable (see `reportModelUnavailable`).
        uint32 unavailableReports;
    }

    /// @notice One hospital's submission in a round.
    struct Submission {
        address hospital;
        uint256 commitment;
        uint64 sampleCount;
        string cid;
    }

    /// @notice A CID string is longer than `MAX_CID_LENGTH()` bytes.
    error RoundManagerCidTooLong(uint256 length, uint256 maximum);
    /// @notice Only the latest round's model can be reported and rolled back.
    error RoundManagerNotLatestRound(uint256 roundId, uint256 latest);
    /// @notice The hospital already reported this round's model file.
    error RoundManagerAlreadyReported(uint256 roundId, address hospital);
    /// @notice The caller is not the consortium admin.
    error RoundManagerNotAdmin(address caller);
    /// @notice The caller is not a member hospital.
    error RoundManagerNotHospital(address caller);
    /// @notice The caller is not the registered aggregator.
    error RoundManagerNotAggregator(address caller);
    /// @notice The round is not in the phase this action needs.
    error RoundManagerWrongPhase(uint256 roundId, Phase expected, Phase actual);
    /// @notice A round is still open; finalize or abort it first.
    error RoundManagerRoundStillOpen(uint256 roundId);
    /// @notice The submission arrived after the round's deadline.
    error RoundManagerDeadlinePassed(uint256 roundId, uint64 deadline, uint256 timestamp);
    /// @notice The round cannot be aborted or finalized early: its deadline has not passed.
    error RoundManagerDeadlineNotReached(uint256 roundId, uint64 deadline, uint256 timestamp);
    /// @notice The hospital already submitted in this round.
    error RoundManagerAlreadySubmitted(uint256 roundId, address hospital);
    /// @notice All of the circuit's slots are taken in this round.
    error RoundManagerRoundFull(uint256 roundId, uint256 slots);
    /// @notice A commitment was zero, not a field element, or already used in any round.
    error RoundManagerInvalidCommitment(uint256 commitment);
    /// @notice A sample count was zero or above the maximum.
    error RoundManagerInvalidSampleCount(uint64 sampleCount, uint64 maximum);
    /// @notice Quorum must be between 1 and the number of slots; the deadline must be in the future and at
    /// most `MAX_ROUND_DURATION()` away.
    error RoundManagerInvalidRoundParameters(uint64 deadline, uint32 quorum);
    /// @notice Fewer included updates than the round's quorum.
    error RoundManagerQuorumNotMet(uint256 roundId, uint256 included, uint32 quorum);
    /// @notice The exclusion mask names a slot that has no submission.
    error RoundManagerInvalidExclusion(uint256 roundId, uint256 excludedMask);
    /// @notice The proof carries the wrong number of public instances.
    error RoundManagerWrongInstanceCount(uint256 expected, uint256 actual);
    /// @notice A public instance differs from what the chain recorded for this round.
    /// @param index position in the instance vector
    error RoundManagerInstanceMismatch(uint256 roundId, uint256 index, uint256 expected, uint256 actual);
    /// @notice The verifier contract rejected the proof.
    error RoundManagerProofRejected(uint256 roundId);
    /// @notice A CID argument is empty.
    error RoundManagerEmptyCid();
    /// @notice The caller is not a registered auditor.
    error RoundManagerNotAuditor(address caller);
    /// @notice The round is neither finalized nor aborted yet.
    error RoundManagerRoundNotClosed(uint256 roundId, Phase actual);
    /// @notice The rule has no verifier in this deployment, or the norm bound is outside the norm circuit's range.
    error RoundManagerInvalidPolicy(AggregationRule rule, uint256 normBoundSq);
    /// @notice The round has a norm bound: submit with `submitBoundedUpdate` and a norm proof.
    error RoundManagerNormProofRequired(uint256 roundId);
    /// @notice The round has no norm bound: submit with `submitUpdate`.
    error RoundManagerNoNormBound(uint256 roundId);
    /// @notice A norm-proof instance differs from this submission (commitment), this round's bound, or this
    /// round's previous global model (index 5: expected and actual are keccak256 commitments of the model).
    error RoundManagerNormProofMismatch(uint256 roundId, uint256 index, uint256 expected, uint256 actual);
    /// @notice The norm verifier rejected the proof.
    error RoundManagerNormProofRejected(uint256 roundId, address hospital);
    /// @notice The norm proof is valid and shows the update's distance to the previous model exceeds the bound.
    error RoundManagerNormBoundExceeded(uint256 roundId, address hospital, uint256 normBoundSq);
    /// @notice The median proof's previous model (keccak256 of its g instances) is not the round's.
    error RoundManagerPreviousModelMismatch(uint256 roundId, uint256 expected, uint256 actual);

    /// @notice The aggregation circuit's public artifacts (verifying key, settings, SRS, verifier source,
    /// with their SHA-256) are described by the JSON manifest stored under `circuitCid`. Emitted once, at
    /// deployment: auditors re-verify every proof from these files and the chain alone.
    event CircuitPublished(string circuitCid);
    /// @notice A round opened on top of the current global model.
    event RoundOpened(
        uint256 indexed roundId, uint256 prevModelCommitment, string prevModelCid, uint64 deadline, uint32 quorum
    );
    /// @notice The round's aggregation rule and norm bound (0: none), emitted right after `RoundOpened`.
    event RoundPolicySet(uint256 indexed roundId, AggregationRule rule, uint256 normBoundSq);
    /// @notice A hospital committed to an encrypted update stored under `cid`.
    event UpdateSubmitted(
        uint256 indexed roundId,
        address indexed hospital,
        uint256 slot,
        uint256 commitment,
        string cid,
        uint64 sampleCount
    );
    /// @notice The aggregator left a submitted update out of the aggregate (for example: its content did
    /// not match its commitment); it carries zero weight in the proof.
    event UpdateExcluded(uint256 indexed roundId, address indexed hospital, uint256 slot);
    /// @notice The round closed with a proven aggregate: the new global model, the proof's hash and the CID
    /// of the ezkl proof file (the same bytes as in this transaction's calldata).
    event RoundFinalized(
        uint256 indexed roundId,
        uint256 newModelCommitment,
        string newModelCid,
        bytes32 proofHash,
        string proofCid,
        uint256 includedCount,
        uint256 totalSamples
    );
    /// @notice The round closed without a new model; the previous global model stays current.
    event RoundAborted(uint256 indexed roundId, uint256 submissionCount, address indexed by);
    /// @notice An auditor re-verified a closed round from public data; the report is stored under `reportCid`.
    event AuditRecorded(uint256 indexed roundId, address indexed auditor, bool passed, string reportCid);
    /// @notice The admin published the round's evaluation report (e.g. held-out accuracy) under `reportCid`.
    event RoundReportPublished(uint256 indexed roundId, string reportCid);
    /// @notice A hospital could not fetch the round's new model file, or it did not match its commitment.
    event ModelUnavailableReported(uint256 indexed roundId, address indexed hospital, uint256 reports);
    /// @notice A quorum of reports rolled the round back: the previous global model is current again.
    event RoundRolledBack(uint256 indexed roundId, uint256 restoredModelCommitment, string restoredModelCid);

    /// @notice Open a new round on top of the current global model. Admin only; no other round may be open.
    /// @return roundId the new round's id (ids start at 1)
    function openRound(uint64 deadline, uint32 quorum) external returns (uint256 roundId);

    /// @notice Open a round with an aggregation rule and a norm bound. `normBoundSq` bounds the squared L2
    /// distance of every update to the previous global model, fixed point: round(B^2 * 2^scaleBits)
    /// for an L2 bound B; 0 means no bound. With a bound, every submission needs a norm proof.
    function openRoundWithPolicy(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        external
        returns (uint256 roundId);

    /// @notice Commit to an encrypted update: its Poseidon `commitment`, the ciphertext's `cid` and the
    /// number of local training samples. Member hospitals only, once per round, before the deadline.
    function submitUpdate(uint256 roundId, uint256 commitment, string calldata cid, uint64 sampleCount) external;

    /// @notice `submitUpdate` for a round with a norm bound: `normProof` (norm circuit, see InstanceLayout) must
    /// carry this `commitment`, the round's previous global model and bound, and the flag "within bound".
    /// A norm-violating update cannot be submitted at all.
    function submitBoundedUpdate(
        uint256 roundId,
        uint256 commitment,
        string calldata cid,
        uint64 sampleCount,
        bytes calldata normProof,
        uint256[] calldata normInstances
    ) external;

    /// @notice Finalize with a proof of the round's rule: the weighted average (FedAvg) or the coordinate-wise
    /// median (Median). Aggregator only. Accepted only if the instances equal this round's commitments and
    /// weights, or commitments and previous model (see InstanceLayout), and the rule's verifier accepts.
    /// `excludedMask` bit i leaves slot i out (zero weight, empty-slot commitment).
    /// Allowed once every member hospital (up to the slot count) submitted, or after the deadline.
    /// `proofCid` names the ezkl proof file published for auditors.
    function finalizeRound(
        uint256 roundId,
        bytes calldata proof,
        uint256[] calldata instances,
        string calldata newModelCid,
        string calldata proofCid,
        uint256 excludedMask
    ) external;

    /// @notice Abort an open round after its deadline. Anyone may abort a round that missed its quorum;
    /// the admin may abort any round past its deadline (for example when the aggregator is unavailable).
    function abortRound(uint256 roundId) external;

    /// @notice A member hospital reports that the latest finalized round's model file cannot be fetched or
    /// does not match its commitment. Once as many hospitals as the round's quorum have reported, the round
    /// is rolled back (`RoundRolledBack`): no single party can stall the consortium with a missing model.
    function reportModelUnavailable(uint256 roundId) external;

    /// @notice Record an audit verdict for a finalized or aborted round. Registered auditors only.
    function recordAudit(uint256 roundId, bool passed, string calldata reportCid) external;

    /// @notice Publish the round's evaluation report. Admin only, for a finalized or aborted round.
    function publishRoundReport(uint256 roundId, string calldata reportCid) external;

    /// @notice The CID of the aggregation circuit's artifact manifest (see `CircuitPublished`).
    function circuitCid() external view returns (string memory);

    /// @notice The id of the latest round (0 before the first).
    function currentRoundId() external view returns (uint256);

    /// @notice A round's record.
    function getRound(uint256 roundId) external view returns (RoundInfo memory);

    /// @notice Slot `slot`'s submission in round `roundId`.
    function getSubmission(uint256 roundId, uint256 slot) external view returns (Submission memory);

    /// @notice The current global model (genesis model until the first finalization).
    function currentModel() external view returns (uint256 commitment, string memory cid);

    /// @notice The weights the proof must carry if the slots in `excludedMask` are left out.
    function expectedWeights(uint256 roundId, uint256 excludedMask) external view returns (uint256[] memory);

    /// @notice BN254 scalar field modulus: every commitment and instance is an element of this field.
    function FIELD_MODULUS() external view returns (uint256);

    /// @notice Upper bound on one hospital's declared sample count.
    function MAX_SAMPLE_COUNT() external view returns (uint64);

    /// @notice The longest submission window a round may have, in seconds.
    function MAX_ROUND_DURATION() external view returns (uint64);

    /// @notice The longest CID string accepted, in bytes.
    function MAX_CID_LENGTH() external view returns (uint256);

    /// @notice Exclusive upper bound of a norm bound: the norm circuit compares values below 2^28 only.
    function NORM_RANGE() external view returns (uint256);

    /// @notice The consortium registry that says who is admin, hospital, auditor and aggregator.
    function registry() external view returns (IConsortiumRegistry);

    /// @notice The FedAvg aggregation circuit's verifier.
    function fedAvgVerifier() external view returns (IHalo2Verifier);

    /// @notice The median aggregation circuit's verifier (zero address: the Median rule is unavailable).
    function medianVerifier() external view returns (IHalo2Verifier);

    /// @notice The norm circuit's verifier (zero address: rounds cannot set a norm bound).
    function normVerifier() external view returns (IHalo2Verifier);

    /// @notice Number of update slots S of the aggregation circuits (the most hospitals one round can take).
    function slots() external view returns (uint256);

    /// @notice Number of model parameters d.
    function modelSize() external view returns (uint256);

    /// @notice Fixed-point scale of every circuit value (model parameters, weights, norms, the norm flag):
    /// a real x is represented as round(x * 2^scaleBits).
    function scaleBits() external view returns (uint256);

    /// @notice Poseidon hash of an all-zero update: the commitment an empty or excluded FedAvg slot must carry.
    function emptySlotCommitment() external view returns (uint256);
}
