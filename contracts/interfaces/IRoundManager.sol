// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IConsortiumRegistry} from "./IConsortiumRegistry.sol";
import {IHalo2Verifier} from "./IHalo2Verifier.sol";
import {IRoundManagerExclusionEvents} from "./IRoundManagerExclusionEvents.sol";

/// @title IRoundManager
/// @notice Runs federated-learning rounds over homomorphic KZG commitments. Hospitals commit to their
/// quantized updates C(u_i) (ezkl polycommit, one pinned basis), prove each update within the round's norm
/// bound against the previous aggregate's commitment, and the contract itself derives the new model's
/// commitment: FedAvg is C(S) = sum_i w_i C(u_i) - (2^scaleBits - 1) K (no aggregation proof), the median
/// rule is proven by a SNARK over the same commitments.
/// @dev A commitment is an affine BN254 G1 point (x, y). The global model S = sum_i w_i u_i is exact, at
/// scale 2^(2 scaleBits), with modelSize() model rows and padRows() hiding rows; the model hospitals train
/// from is round-half-away(S / 2^scaleBits) over the model rows (zkfl_dapp.core.formats.ModelFile).
interface IRoundManager is IRoundManagerExclusionEvents {
    /// @notice How a round's updates are combined: FedAvg on-chain from commitments, Median with a proof.
    enum AggregationRule {
        FedAvg,
        Median
    }

    /// @notice Life cycle of a round. A finalized round whose model file a quorum of hospitals reports
    /// unavailable (or not matching its commitment) is rolled back: the previous global model is current again.
    /// A finalized round is `Invalidated` when a majority of its members upheld a hospital's dispute of one of its
    /// exclusions: its model is not current either, and `ExclusionDisputeUpheld` names the aggregator.
    enum Phase {
        None,
        Open,
        Finalized,
        Aborted,
        RolledBack,
        Invalidated
    }

    /// @notice Why a chunk norm proof fails (`challengeChunk`, `RoundManagerChunkProofRejected`): its first
    /// committed point is not C(2^scaleBits u_c) of the submission's chunk, its second not the previous
    /// model's chunk, or the verifier rejects it for the instances [2^(2 scaleBits), b_c, c, chunks(), limbs].
    enum ProofFault {
        None,
        UpdatePoint,
        AggregatePoint,
        Rejected
    }

    /// @notice A submission's norm claim in a bounded round (zkfl_dapp.circuits.kzg_chunk_norm): one budget per
    /// chunk (each < `NORM_RANGE()`, their sum at most the round's bound), and either every chunk's proof
    /// (`challengeWindow() == 0`: verified in the submitting transaction) or every proof's keccak256 and the
    /// CID of the proof bundle (`challengeWindow() > 0`: verified off-chain, challengeable on-chain). Empty in
    /// a round without a bound.
    struct NormClaim {
        uint256[] budgets;
        bytes[] proofs;
        bytes32[] proofHashes;
        string proofCid;
    }

    /// @notice The record of one declared exclusion (`declareExclusion`).
    struct Exclusion {
        ExclusionReason reason;
        /// when it was declared (an `Unavailable` exclusion can be applied only after `REANNOUNCE_WINDOW()`)
        uint64 declaredAt;
        /// the hospital posted its envelope on-chain (`reannounceUpdate`): `Unavailable` no longer applies
        bool reannounced;
        /// the finalization left the slot out (only an applied exclusion can be disputed)
        bool applied;
        bool disputed;
        bool upheld;
        /// members (the disputing hospital first) who support the dispute
        uint16 supporters;
        /// the aggregator that declared it, named if a dispute is upheld
        address aggregator;
        /// SHA-256 of the evidence file stored under the `ExclusionDeclared` event's CID (0 for `Unavailable`)
        bytes32 evidenceHash;
    }

    /// @notice One round's public record.
    struct RoundInfo {
        Phase phase;
        AggregationRule rule;
        uint64 deadline;
        uint32 quorum;
        uint32 submissionCount;
        /// Hospitals admitted when the round opened (at most `slots()`): finalizing before the deadline
        /// needs this many submissions, whatever the membership does meanwhile.
        uint16 members;
        /// Hospitals that reported the round's new model file unavailable (see `reportModelUnavailable`).
        uint16 unavailableReports;
        /// The round whose model this round started from (0: the genesis model).
        uint32 prevModelRound;
        /// The block of the finalization: its `RoundFinalized` event carries the model file's and the proof
        /// file's CIDs (kept in the log, not in storage: a string costs ~66k gas to store).
        uint48 finalizedBlock;
        uint256 normBoundSq;
        /// keccak256(x_0 || y_0 || x_1 || ..) (one point: keccak256(x || y)) of the previous model's commitment (the point is in that round's
        /// `RoundFinalized` event, or `genesisModelCommitment()`): storing a hash halves the storage cost.
        bytes32 prevModelHash;
        /// keccak256 of the points of the new model's commitment, whose point `RoundFinalized` carries.
        bytes32 newModelHash;
        /// Median rounds only: keccak256 of the median proof.
        bytes32 proofHash;
    }

    /// @notice The fixed shape of every committed vector, pinned at deployment.
    struct CommitmentScheme {
        /// update slots S (the most hospitals one round can take)
        uint256 slots;
        /// model parameters d
        uint256 modelSize;
        /// hiding-pad rows after the model rows of every chunk
        uint256 padRows;
        /// points per commitment: 1 (the whole padded vector is one point), or n > 1 for a model committed in
        /// n chunks of equal length, each with its own pad rows (zkfl_dapp.circuits.kzg_chunk_norm)
        uint256 chunks;
        /// fixed-point scale bits of updates and weights
        uint256 scaleBits;
        /// K = C(0) in the pinned basis
        uint256[2] zeroCommitment;
        /// SHA-256 of the pinned KZG basis (zkfl_dapp.circuits.kzg.KzgBasis.digest)
        bytes32 kzgBasisDigest;
        /// 0: chunk proofs are verified at submission; else the seconds after each submission in which any
        /// member may challenge one of its chunk proofs (between 2 * REANNOUNCE_WINDOW and FINALIZE_WINDOW / 2)
        uint64 challengeWindow;
    }

    /// @notice One hospital's submission in a round.
    struct Submission {
        address hospital;
        uint64 sampleCount;
        /// one G1 point per chunk, in chunk order
        uint256[2][] commitment;
        string cid;
    }

    /// @notice A CID string is longer than `MAX_CID_LENGTH()` bytes.
    /// @notice A verifier call ran out of gas: neither acceptance nor rejection (VerifierCalls; retry with more gas).
    error RoundManagerVerifierOutOfGas();
    error RoundManagerCidTooLong(uint256 length, uint256 maximum);
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
    /// @notice A commitment is not a finite BN254 G1 point with canonical coordinates, is the zero-vector
    /// commitment K, or was already used in any round.
    error RoundManagerInvalidCommitment(uint256 x, uint256 y);
    /// @notice A sample count was zero or above the maximum.
    error RoundManagerInvalidSampleCount(uint64 sampleCount, uint64 maximum);
    /// @notice Quorum must be between 1 and the number of slots; the deadline must be in the future and at
    /// most `MAX_ROUND_DURATION()` away.
    error RoundManagerInvalidRoundParameters(uint64 deadline, uint32 quorum);
    /// @notice Fewer included updates than the round's quorum.
    error RoundManagerQuorumNotMet(uint256 roundId, uint256 included, uint32 quorum);
    /// @notice The exclusion mask names a slot that has no submission.
    error RoundManagerInvalidExclusion(uint256 roundId, uint256 excludedMask);
    /// @notice A proof's committed-input point differs from the commitment the chain derives for it.
    /// @param point index of the 64-byte point in the proof (norm and chunk proofs: 0 the scaled update, 1 the
    /// previous aggregate; median: 0 .. S-1 the slots, S the result is taken, never compared); raised by a chunked
    /// `submitUpdate`, the chunk whose accepted proof does not match the list
    /// @param expected keccak256(x || y) of the point the chain derives
    /// @param actual keccak256 of the proof's 64 bytes at that position
    error RoundManagerProofPointMismatch(uint256 roundId, uint256 point, bytes32 expected, bytes32 actual);
    /// @notice The call does not fit the round's aggregation rule (finalizeRound is FedAvg's, finalizeMedianRound the median's).
    error RoundManagerWrongRule(uint256 roundId, AggregationRule rule);
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
    /// @notice The norm claim does not fit the round and the deployment: budgets for a bounded round only, one
    /// per chunk, each below `NORM_RANGE()`; proofs (challenge window 0) or proof hashes and a proof CID (else).
    error RoundManagerInvalidNormClaim(uint256 roundId);
    /// @notice The budgets add up to more than the round's bound.
    error RoundManagerNormBoundExceeded(uint256 roundId, address hospital, uint256 normBoundSq);
    /// @notice A commitment must have exactly `chunks()` points.
    error RoundManagerWrongChunkCount(uint256 expected, uint256 actual);
    /// @notice A chunk proof fails (verified at submission, challenge window 0).
    error RoundManagerChunkProofRejected(uint256 roundId, address hospital, uint256 chunk, ProofFault fault);
    /// @notice A challenge's budgets, proof hashes or proof are not what the submission posted.
    error RoundManagerClaimMismatch(uint256 roundId, uint256 slot, uint256 chunk);
    /// @notice The challenged chunk proof is good: the challenge fails.
    error RoundManagerChallengeFailed(uint256 roundId, uint256 slot, uint256 chunk);
    /// @notice The round's challenge window is still open: it cannot be finalized yet.
    error RoundManagerChallengeWindowOpen(uint256 roundId, uint256 windowEnd);
    /// @notice Only a member (hospital, auditor or the aggregator) may challenge.
    error RoundManagerNotMember(address caller);
    /// @notice The slot has no submission in this round.
    error RoundManagerNoSubmissionInSlot(uint256 roundId, uint256 slot);
    /// @notice An exclusion's evidence does not fit its reason: `Undecryptable` and `InvalidContent` need a
    /// non-zero evidence hash and a CID, `Unavailable` takes neither; `None` is no reason.
    error RoundManagerInvalidExclusionEvidence(uint256 roundId, uint256 slot, ExclusionReason reason);
    /// @notice The slot already has an exclusion (only an `Unavailable` one answered by `reannounceUpdate` can be
    /// declared again, with evidence).
    error RoundManagerExclusionAlreadyDeclared(uint256 roundId, uint256 slot, ExclusionReason reason);
    /// @notice `excludedMask` leaves out a slot with no declared exclusion.
    error RoundManagerExclusionNotDeclared(uint256 roundId, uint256 slot);
    /// @notice An `Unavailable` exclusion cannot be applied before its re-announce window has passed.
    error RoundManagerReannounceWindowOpen(uint256 roundId, uint256 slot, uint256 windowEnd);
    /// @notice The hospital posted its envelope on-chain: an `Unavailable` exclusion no longer applies (declare
    /// one with evidence, or include the update).
    error RoundManagerUpdateReannounced(uint256 roundId, uint256 slot);
    /// @notice The caller did not submit the update in this slot.
    error RoundManagerNotSlotHospital(uint256 roundId, uint256 slot, address caller);
    /// @notice The slot has no `Unavailable` exclusion waiting for a re-announcement.
    error RoundManagerNotDeclaredUnavailable(uint256 roundId, uint256 slot);
    /// @notice The window for this action has closed.
    error RoundManagerWindowClosed(uint256 roundId, uint256 slot, uint256 windowEnd);
    /// @notice Only an applied `Undecryptable` or `InvalidContent` exclusion can be disputed.
    error RoundManagerNotDisputable(uint256 roundId, uint256 slot, ExclusionReason reason, bool applied);
    /// @notice The exclusion is already disputed.
    error RoundManagerAlreadyDisputed(uint256 roundId, uint256 slot);
    /// @notice The exclusion is not disputed.
    error RoundManagerNotDisputed(uint256 roundId, uint256 slot);
    /// @notice The dispute was already upheld.
    error RoundManagerDisputeUpheld(uint256 roundId, uint256 slot);
    /// @notice The member already supports this dispute.
    error RoundManagerAlreadySupported(uint256 roundId, uint256 slot, address hospital);
    /// @notice The declared sample count is above the cap the consortium agreed for this hospital at admission
    /// (`IConsortiumRegistry.sampleCapOf`).
    error RoundManagerSampleCountAboveMemberCap(uint256 roundId, address hospital, uint64 sampleCount, uint64 cap);
    /// @notice The aggregator's deadline to finalize (`finalizeDeadline(roundId)`) has passed: the round can only
    /// be aborted now.
    error RoundManagerFinalizeDeadlinePassed(uint256 roundId, uint64 finalizeDeadline, uint256 timestamp);
    /// @notice The round met its quorum and the aggregator's deadline to finalize it has not passed: nobody, the
    /// admin included, may abort it yet.
    error RoundManagerFinalizeWindowOpen(uint256 roundId, uint64 finalizeDeadline, uint256 timestamp);
    /// @notice Only hospitals admitted before the round opened (entitled to its model) may report it; `memberSince`
    /// is the reporter's admission block, `openedBlock` the round's.
    error RoundManagerReporterNotEntitled(uint256 roundId, address hospital, uint256 memberSince, uint256 openedBlock);
    /// @notice Only the current global model can be reported unavailable: a later round already finalized on top
    /// of round `roundId`, or it made no model.
    error RoundManagerModelNotCurrent(uint256 roundId, uint256 currentModelRound);

    /// @notice The circuits' public artifacts (norm and median verifying keys, settings, SRS, verifier
    /// sources, the KZG basis with its zero-vector commitment K, with their SHA-256) are described by the
    /// JSON manifest stored under `circuitCid`. Emitted once, at deployment: auditors re-verify every proof
    /// and commitment from these files and the chain alone.
    event CircuitPublished(string circuitCid);
    /// @notice A round opened on top of the current global model.
    event RoundOpened(
        uint256 indexed roundId, bytes32 prevModelHash, uint32 prevModelRound, uint64 deadline, uint32 quorum
    );
    /// @notice The round's aggregation rule and norm bound (0: none), emitted right after `RoundOpened`.
    event RoundPolicySet(uint256 indexed roundId, AggregationRule rule, uint256 normBoundSq);
    /// @notice A hospital committed (KZG, G1 point) to an encrypted update stored under `cid`.
    event UpdateSubmitted(
        uint256 indexed roundId,
        address indexed hospital,
        uint256 slot,
        uint256[2][] commitment,
        string cid,
        uint64 sampleCount
    );
    /// @notice The aggregator left a submitted update out of the aggregate (for example: its content did
    /// not open its commitment); it carries zero weight.
    event UpdateExcluded(uint256 indexed roundId, address indexed hospital, uint256 slot);
    /// @notice The round closed with a new global model whose commitment this contract derived (FedAvg) or
    /// took from a verified median proof; for a median round also the proof's hash and the CID of the ezkl
    /// proof file (the same bytes as in this transaction's calldata); zero and "" for FedAvg.
    event RoundFinalized(
        uint256 indexed roundId,
        uint256[2][] newModelCommitment,
        string newModelCid,
        bytes32 proofHash,
        string proofCid,
        uint256 includedCount,
        uint256 totalSamples
    );
    /// @notice An optimistic submission's norm claim (a challenge window): its per-chunk budgets, its proofs'
    /// keccak256 and the proof bundle's CID. (Without a window the proofs were verified in the submitting
    /// transaction, whose calldata holds them and the budgets; no event.)
    event NormClaimed(
        uint256 indexed roundId,
        address indexed hospital,
        uint256 slot,
        uint256[] budgets,
        bytes32[] proofHashes,
        string proofCid
    );
    /// @notice A member's challenge showed chunk `chunk` of slot `slot`'s proofs false: the submission is excluded
    /// (`InvalidProof`; a finalization must leave it out) and `hospital` is named.
    event ChunkProofFaulted(
        uint256 indexed roundId,
        address indexed hospital,
        uint256 slot,
        uint256 chunk,
        ProofFault fault,
        address indexed challenger
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
    event RoundRolledBack(uint256 indexed roundId, bytes32 restoredModelHash, uint32 restoredModelRound);
    /// @notice The round's accountability terms, emitted right after `RoundPolicySet`: the aggregator's deadline
    /// to finalize (`deadline + FINALIZE_WINDOW()`), the member hospitals at opening and the reports of them
    /// needed to roll its model back (a strict majority).
    event RoundTermsSet(
        uint256 indexed roundId, uint64 finalizeDeadline, uint32 hospitalsAtOpening, uint32 rollbackThreshold
    );

    /// @notice Open a new round on top of the current global model, admin only, no other round open: with an
    /// aggregation rule and a norm bound. `normBoundSq` bounds the squared L2
    /// distance of every update to the previous global model at the aggregate's scale: round(B^2 * 2^(2 scaleBits))
    /// for an L2 bound B; 0 means no bound. With a bound, every submission needs a norm proof.
    function openRoundWithPolicy(uint64 deadline, uint32 quorum, AggregationRule rule, uint256 normBoundSq)
        external
        returns (uint256 roundId);

    /// @notice Commit to an encrypted update: its KZG `commitment` (`chunks()` G1 points C(u_c), one per chunk,
    /// in the basis of `kzgBasisDigest()`), the ciphertext's `cid`, the number of local training samples and,
    /// in a round with a norm bound, its `claim` (`NormClaim`; empty otherwise). Member hospitals only, once per
    /// round, before the deadline. Chunk c's norm proof (zkfl_dapp.circuits.kzg_chunk_norm) has first committed
    /// point C(2^scaleBits u_c) = K + 2^scaleBits (C(u_c) - K), derived here, second the previous model's chunk
    /// c, instances [2^(2 scaleBits), budgets[c], c, chunks(), the caller's address in five 32-bit limbs]: so a
    /// norm-violating update has no proof, and a copied proof only works for the hospital and chunk that made
    /// it. With `challengeWindow() == 0` every proof is verified here; else only their hashes are stored, and
    /// `challengeChunk` verifies one on demand.
    function submitUpdate(
        uint256 roundId,
        uint256[2][] calldata commitment,
        string calldata cid,
        uint64 sampleCount,
        NormClaim calldata claim
    ) external;

    /// @notice Challenge chunk `chunk` of slot `slot`'s norm proofs (optimistic deployments, while the round is
    /// open and within `challengeEnd(roundId)`; members only): `budgets` and `proofHashes` as the submission's
    /// `NormClaimed` event posted them, `proof` the bytes whose keccak256 is `proofHashes[chunk]` (from the proof
    /// bundle). The submission's checks run (the same function as at submission): a failing proof excludes the
    /// submission (`InvalidProof`, `ChunkProofFaulted`); a good one reverts `RoundManagerChallengeFailed`.
    function challengeChunk(
        uint256 roundId,
        uint256 slot,
        uint256 chunk,
        uint256[] calldata budgets,
        bytes32[] calldata proofHashes,
        bytes calldata proof
    ) external;

    /// @notice The end of round `roundId`'s challenge window (the latest submission plus `challengeWindow()`;
    /// 0: none); the round cannot be finalized before it has passed.
    function challengeEnd(uint256 roundId) external view returns (uint256);

    /// @notice Slots of round `roundId` whose chunk proofs a challenge showed false (bit i: slot i).
    function faultedSlots(uint256 roundId) external view returns (uint256);

    /// @notice 0: chunk proofs are verified at submission; else the seconds of the challenge window.
    function challengeWindow() external view returns (uint64);

    /// @notice Finalize a FedAvg round without a proof: the contract computes the new model's commitment
    /// C(S) = K + sum_i w_i (C(u_i) - K) from the stored commitments of the included slots and the weights of
    /// `expectedWeights(roundId, excludedMask)` (they sum to exactly 2^scaleBits). Aggregator only; allowed once
    /// every member hospital at opening submitted, or after the deadline, and never after
    /// `finalizeDeadline(roundId)`, and not before `challengeEnd(roundId)`. `excludedMask` bit i leaves slot i
    /// out; every such slot needs a declared exclusion (`declareExclusion`, or a successful `challengeChunk`), and
    /// every faulted slot must be in it (both finalizations).
    /// `newModelCid` names the model file, which must open C(S): hospitals that find it does not (or cannot
    /// fetch it) report it (`reportModelUnavailable`).
    function finalizeRound(uint256 roundId, string calldata newModelCid, uint256 excludedMask) external;

    /// @notice Finalize a Median round with a proof of the median circuit: its first S committed points are
    /// the slots (C(2^scaleBits u_i) for an included slot, the previous aggregate otherwise) and point S is the
    /// new model's commitment, which is stored. `proofCid` names the ezkl proof file published for auditors.
    function finalizeMedianRound(
        uint256 roundId,
        bytes calldata proof,
        uint256[] calldata instances,
        string calldata newModelCid,
        string calldata proofCid,
        uint256 excludedMask
    ) external;

    /// @notice Abort an open round. Anyone may, after the deadline if the round missed its quorum, after
    /// `finalizeDeadline(roundId)` if it met it (the aggregator missed its deadline). Nobody, the admin included,
    /// may abort a round that met its quorum before the aggregator's deadline. (A rollback of the model an open
    /// round trains from aborts that round itself: see `reportModelUnavailable`.)
    function abortRound(uint256 roundId) external;

    /// @notice A hospital entitled to round `roundId`'s model (a member admitted before the round opened, and
    /// still a member) reports that the model file cannot be fetched or does not match its commitment. Possible
    /// while the round's model is the current global model, i.e. until a later round finalizes (an open or aborted
    /// later round does not end it). Once `rollbackThreshold(roundId)` entitled hospitals, a strict majority of the
    /// members at opening, have reported, the round is rolled back (`RoundRolledBack`) and the previous model is
    /// current again; a round open on top of the rolled-back model is aborted in the same call (`RoundAborted`); a minority cannot roll back a model, and a missing model cannot become permanent. Reports are
    /// public: an auditor that finds the model available and opening its commitment names the reporters.
    function reportModelUnavailable(uint256 roundId) external;

    /// @notice Record an audit verdict for a finalized or aborted round. Registered auditors only.
    function recordAudit(uint256 roundId, bool passed, string calldata reportCid) external;

    /// @notice Publish the round's evaluation report. Admin only, for a finalized or aborted round.
    function publishRoundReport(uint256 roundId, string calldata reportCid) external;

    /// @notice The CID of the circuits' artifact manifest (see `CircuitPublished`).
    function circuitCid() external view returns (string memory);

    /// @notice The id of the latest round (0 before the first).
    function currentRoundId() external view returns (uint256);

    /// @notice A round's record.
    function getRound(uint256 roundId) external view returns (RoundInfo memory);

    /// @notice Slot `slot`'s submission in round `roundId`.
    function getSubmission(uint256 roundId, uint256 slot) external view returns (Submission memory);

    /// @notice The current global model: keccak256 of its commitment and the round that made it (0: genesis).
    /// The commitment point and the file's CID are in that round's `RoundFinalized` event (in block
    /// `getRound(modelRound).finalizedBlock`), or `genesisModelCommitment()` / `genesisModelCid()`.
    function currentModel() external view returns (bytes32 modelHash, uint256 modelRound);

    /// @notice keccak256(x_0 || y_0 || ..) of round `roundId`'s model commitment (0: the genesis model); reverts for a
    /// round that made no model.
    function modelOf(uint256 roundId) external view returns (bytes32 modelHash);

    /// @notice The genesis model's commitment.
    function genesisModelCommitment() external view returns (uint256[2][] memory);

    /// @notice The CID of the genesis model file.
    function genesisModelCid() external view returns (string memory);

    /// @notice The FedAvg weights of the slots at scale 2^scaleBits if those in `excludedMask` are left out: the
    /// included slots' sample-count shares, no one above the share cap (`MAX_SHARE_DENOMINATOR()`), summing to
    /// exactly 2^scaleBits (water-filling: zkfl_dapp.core.aggregation.normalized_weights is the same integers).
    function expectedWeights(uint256 roundId, uint256 excludedMask) external view returns (uint256[] memory);

    /// @notice The commitment `finalizeRound(roundId, _, excludedMask)` would store.
    function aggregateCommitment(uint256 roundId, uint256 excludedMask) external view returns (uint256[2][] memory);

    /// @notice BN254 scalar field modulus: every instance and weight is an element of this field.
    function FIELD_MODULUS() external view returns (uint256);

    /// @notice Upper bound on one hospital's declared sample count.
    function MAX_SAMPLE_COUNT() external view returns (uint64);

    /// @notice The longest submission window a round may have, in seconds.
    function MAX_ROUND_DURATION() external view returns (uint64);

    /// @notice The longest CID string accepted, in bytes.
    function MAX_CID_LENGTH() external view returns (uint256);

    /// @notice Exclusive upper bound of a norm bound: the norm circuit range-checks every value below 2^36.
    function NORM_RANGE() external view returns (uint256);

    /// @notice The consortium registry that says who is admin, hospital, auditor and aggregator.
    function registry() external view returns (IConsortiumRegistry);

    /// @notice The median aggregation circuit's verifier (zero address: the Median rule is unavailable).
    function medianVerifier() external view returns (IHalo2Verifier);

    /// @notice The norm circuit's verifier (zero address: rounds cannot set a norm bound).
    function normVerifier() external view returns (IHalo2Verifier);

    /// @notice Number of update slots S (the most hospitals one round can take).
    function slots() external view returns (uint256);

    /// @notice Number of model parameters d.
    function modelSize() external view returns (uint256);

    /// @notice Number of hiding-pad rows after the model rows of every committed vector.
    function padRows() external view returns (uint256);

    /// @notice Points per commitment (1, or the number of chunks of a chunked scheme).
    function chunks() external view returns (uint256);

    /// @notice Fixed-point scale of updates and weights: a real x is round(x * 2^scaleBits); the aggregate,
    /// the norm bound and the norm flag are at 2^(2 scaleBits).
    function scaleBits() external view returns (uint256);

    /// @notice K = C(0), the commitment of the all-zero vector in the pinned basis (ezkl fills unusable rows with 1s).
    function zeroCommitment() external view returns (uint256[2] memory);

    /// @notice SHA-256 of the pinned KZG basis (logrows, unusable rows, SRS, norm vk and settings:
    /// zkfl_dapp.circuits.kzg.KzgBasis.digest), which the circuit manifest publishes.
    function kzgBasisDigest() external view returns (bytes32);

    /// @notice Declare that slot `slot` will be left out of round `roundId`, before finalizing. Aggregator only, in
    /// an open round whose submissions are closed (every member submitted, or past the deadline).
    /// `Undecryptable` and `InvalidContent` carry the SHA-256 `evidenceHash` and `evidenceCid` of the evidence
    /// file (zkfl_dapp.core.exclusions.ExclusionEvidence); `Unavailable` carries none and starts a
    /// `REANNOUNCE_WINDOW()` in which the hospital may post its envelope on-chain. A finalization's
    /// `excludedMask` may name only declared slots.
    function declareExclusion(
        uint256 roundId,
        uint256 slot,
        ExclusionReason reason,
        bytes32 evidenceHash,
        string calldata evidenceCid
    ) external;

    /// @notice Answer an `Unavailable` exclusion within its window by posting the envelope itself (calldata and
    /// the `UpdateReannounced` event: public data). The slot's hospital only, once. Afterwards the slot can be
    /// excluded only with evidence.
    function reannounceUpdate(uint256 roundId, uint256 slot, bytes calldata envelope) external;

    /// @notice Dispute an applied `Undecryptable` or `InvalidContent` exclusion of the caller's update, within
    /// `EXCLUSION_DISPUTE_WINDOW()` of the finalization. The caller's dispute counts as the first support.
    function disputeExclusion(uint256 roundId, uint256 slot) external;

    /// @notice Support a dispute (member hospitals, once each, within the window) after checking its evidence
    /// from public data: the evidence is missing, malformed, or shows the update decrypts and opens its
    /// commitment. More than half of the round's members at opening uphold it (`ExclusionDisputeUpheld`).
    function supportDispute(uint256 roundId, uint256 slot) external;

    /// @notice The exclusion record of slot `slot` in round `roundId` (reason `None`: none declared).
    function getExclusion(uint256 roundId, uint256 slot) external view returns (Exclusion memory);

    /// @notice When round `roundId`'s disputes close (0: the round finalized without an exclusion).
    function disputeDeadline(uint256 roundId) external view returns (uint256);

    /// @notice How long a hospital has to answer an `Unavailable` exclusion with `reannounceUpdate`, in seconds.
    function REANNOUNCE_WINDOW() external view returns (uint64);

    /// @notice How long after a finalization its exclusions can be disputed and supported, in seconds.
    function EXCLUSION_DISPUTE_WINDOW() external view returns (uint64);

    /// @notice Whether `hospital` supports the dispute of slot `slot`'s exclusion in round `roundId` (the disputing
    /// hospital does from its dispute on).
    function supportsDispute(uint256 roundId, uint256 slot, address hospital) external view returns (bool);
    /// @notice Seconds the aggregator has after a round's deadline to finalize it.
    function FINALIZE_WINDOW() external view returns (uint64);

    /// @notice Weight-share cap: with m included updates, no update weighs more than ceil(2^scaleBits / min(m, D))
    /// for D = MAX_SHARE_DENOMINATOR() (3: one third, rounded up to a whole unit; with m < 3 the cap is 1/m, so
    /// the weights are equal), whatever sample count it declared.
    function MAX_SHARE_DENOMINATOR() external view returns (uint256);

    /// @notice The last timestamp at which the aggregator may finalize round `roundId` (0: no such round).
    function finalizeDeadline(uint256 roundId) external view returns (uint64);

    /// @notice The block in which round `roundId` opened, the number of member hospitals then, and the entitled
    /// reports that roll its model back (hospitalsAtOpening / 2 + 1).
    function roundOpening(uint256 roundId)
        external
        view
        returns (uint256 openedBlock, uint256 hospitalsAtOpening, uint256 rollbackThreshold);
}
