// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IHalo2VerifierReusable
/// @notice ezkl's circuit-independent reusable Halo2/KZG verifier (contracts/generated/Halo2VerifierReusable.sol,
/// one deployment for every circuit). A circuit is described by its verifying-key artifact (VKA): words that
/// encode the verifying key and the gate/lookup/permutation evaluation program. The VKA is passed in with
/// every call; only VKAs registered before (by anyone) are accepted.
/// @dev The VKA is the whole circuit: a caller must pin the digest of the VKA it means (keccak256 of the
/// words) and compare it with the returned `vkaDigest`; a generated wrapper (e.g. KzgMedianVerifier) does
/// this and exposes IHalo2Verifier instead. An invalid proof reverts. The real contract returns a third
/// value (rescaled instances) whose ABI encoding is not standard: declare and decode only these two.
interface IHalo2VerifierReusable {
    /// @notice Register `vka`; returns keccak256 of its words.
    function registerVka(bytes32[] calldata vka) external returns (bytes32 vkaDigest);

    /// @notice Verify `proof` against `instances` for the circuit `vka` (registered before).
    function verifyProof(bytes calldata proof, uint256[] calldata instances, bytes32[] calldata vka)
        external
        returns (bool success, bytes32 vkaDigest);
}
