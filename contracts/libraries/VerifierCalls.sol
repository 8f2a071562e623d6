// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier} from "../interfaces/IHalo2Verifier.sol";

/// @title VerifierCalls
/// @notice The one way this project calls a generated ezkl verifier.
library VerifierCalls {
    /// @notice Whether `verifier` accepts `proof` for `instances`.
    /// @dev The generated verifier returns false or reverts (without data) on an invalid proof: both reject,
    /// so a revert inside the verifier is caught and read as false. The caller reverts with its own typed error.
    function accepts(IHalo2Verifier verifier, bytes calldata proof, uint256[] calldata instances)
        internal
        returns (bool)
    {
        try verifier.verifyProof(proof, instances) returns (bool ok) {
            return ok;
        } catch {
            return false;
        }
    }
}
