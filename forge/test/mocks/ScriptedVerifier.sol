// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IHalo2Verifier} from "@zkfl/interfaces/IHalo2Verifier.sol";

/// @title ScriptedVerifier
/// @notice Test-only stand-in for a generated ezkl verifier: it answers whatever verdict the test set, whatever
/// the proof and instances (as a real verifier does for a valid proof of *some* statement). The contract under
/// test must still bind that statement (points, bound, sender) to its own records.
contract ScriptedVerifier is IHalo2Verifier {
    bool public verdict;
    /// @notice If set, verifyProof reverts instead of answering (a malformed proof in a generated verifier).
    bool public reverts;
    uint256 public calls;
    /// @notice If set, only the statements `allow`ed are approved (RoundManager builds the instances itself: this is
    /// how a test sees which statement the contract asked about).
    bool public strict;
    mapping(bytes32 statement => bool) public allowed;

    function set(bool verdict_, bool reverts_) external {
        verdict = verdict_;
        reverts = reverts_;
    }

    /// @notice Approve (when strict) `proof` for the statement it was made for, `instances`.
    function allow(bytes calldata proof, uint256[] calldata instances) external {
        strict = true;
        allowed[keccak256(abi.encode(proof, instances))] = true;
    }

    /// @notice Back to answering the verdict whatever the instances.
    function relax() external {
        strict = false;
    }

    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool) {
        calls += 1;
        if (reverts) revert();
        if (strict && !allowed[keccak256(abi.encode(proof, instances))]) return false;
        return verdict;
    }
}
