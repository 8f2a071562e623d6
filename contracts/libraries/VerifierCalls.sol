// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IHalo2Verifier} from "../interfaces/IHalo2Verifier.sol";

/// @title VerifierCalls
/// @notice The one way this project calls a generated ezkl verifier.
library VerifierCalls {
    /// @notice Whether `verifier` accepts `proof` for `instances`.
    /// @dev The generated verifier returns false or reverts (without data) on an invalid proof: both reject,
    /// so a revert inside the verifier is caught and read as false. The caller reverts with its own typed error.
    /// A call that ran out of gas is neither: it reverts with the caller's `outOfGas` error (no arguments), so a
    /// caller that sends too little gas cannot make a good proof look rejected (e.g. to exclude an honest
    /// hospital by a challenge).
    function accepts(IHalo2Verifier verifier, bytes calldata proof, uint256[] memory instances, bytes4 outOfGas)
        internal
        returns (bool)
    {
        uint256 before = gasleft();
        try verifier.verifyProof(proof, instances) returns (bool ok) {
            return ok;
        } catch {
            // the callee got at most 63/64 of `before`: all of it used up leaves about `before / 64` here
            if (gasleft() <= before / 63) {
                // slither-disable-next-line assembly -- a 4-byte custom error chosen by the caller
                assembly {
                    mstore(0, outOfGas)
                    revert(0, 4)
                }
            }
            return false;
        }
    }
}
