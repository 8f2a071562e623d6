// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IRoundManagerExclusionEvents
/// @notice The events of RoundManager's exclusions, re-announcements and disputes (part of IRoundManager), in their
/// own interface (with the reasons) so that RoundManagerExclusions, which RoundManager runs by delegatecall, can emit them.
interface IRoundManagerExclusionEvents {
    /// @notice Why the aggregator left a submitted update out (docs/exclusions.md says what each evidence holds).
    /// `Undecryptable`: the envelope does not authenticate under the enclave's key and the submission's
    /// associated data; `InvalidContent`: it decrypts, but to a payload that is malformed, names another
    /// round, hospital, count or scale, or does not open the on-chain commitment. Both carry an evidence file
    /// (the ML-KEM decapsulation of that one envelope) anyone can check. `Unavailable`: the store does not
    /// serve the ciphertext (or, in an optimistic deployment, the proof bundle); no evidence exists, so the
    /// hospital gets `REANNOUNCE_WINDOW()` to post it on-chain. `InvalidProof`: a member's `challengeChunk`
    /// showed one of the update's chunk proofs false (recorded by the contract itself; not disputable).
    enum ExclusionReason {
        None,
        Undecryptable,
        InvalidContent,
        Unavailable,
        InvalidProof
    }

    /// @notice The aggregator declared that it will leave slot `slot` out, with a reason and the SHA-256 and CID of
    /// a public evidence file (none for `Unavailable`).
    event ExclusionDeclared(
        uint256 indexed roundId,
        address indexed hospital,
        uint256 slot,
        ExclusionReason reason,
        bytes32 evidenceHash,
        string evidenceCid
    );
    /// @notice A hospital whose ciphertext was declared unavailable posted its envelope on-chain (the bytes are
    /// here, so no store is needed; their SHA-256 must be the digest of the submission's raw CID).
    event UpdateReannounced(
        uint256 indexed roundId, address indexed hospital, uint256 slot, bytes32 envelopeHash, bytes envelope
    );
    /// @notice The excluded hospital disputed an applied exclusion; members may support it until `disputeDeadline`.
    event ExclusionDisputed(uint256 indexed roundId, address indexed hospital, uint256 slot, uint256 disputeDeadline);
    /// @notice A member, having checked the evidence from public data, supports the dispute.
    event DisputeSupported(uint256 indexed roundId, uint256 slot, address indexed supporter, uint256 supporters);
    /// @notice A majority of the members at opening upheld the dispute: the exclusion was unjustified, the round
    /// is `Invalidated` (if it was still `Finalized`) and `aggregator` is accountable.
    event ExclusionDisputeUpheld(
        uint256 indexed roundId, address indexed hospital, uint256 slot, address indexed aggregator
    );
}
