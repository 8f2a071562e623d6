// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IHalo2Verifier
/// @notice The entry point of every verifier contract that ezkl generates (see contracts/generated/).
/// @dev The generated contracts revert on malformed proofs and return false or revert on invalid ones;
/// callers must treat both as rejection.
interface IHalo2Verifier {
    /// @notice Verify a Halo2/KZG `proof` against its public `instances` (field elements, big-endian uint256).
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}
