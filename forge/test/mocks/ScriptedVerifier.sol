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

    function set(bool verdict_, bool reverts_) external {
        verdict = verdict_;
        reverts = reverts_;
    }

    function verifyProof(bytes calldata, uint256[] calldata) external returns (bool) {
        calls += 1;
        if (reverts) revert();
        return verdict;
    }
}
