// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Bn254
/// @notice BN254 G1 arithmetic over the EVM precompiles (ecAdd 0x06, ecMul 0x07), for homomorphic KZG
/// commitments (ezkl polycommit).
/// @dev ezkl fills the last `blinding + 1` rows of a committed column with 1s, so a commitment is affine
/// in the committed vector: C(v) = sum_j v_j L_j + K with K = C(0). For integer weights w_i,
///     sum_i w_i C(v_i) - (sum_i w_i - 1) K = C(sum_i w_i v_i),
/// which is how RoundManager derives the FedAvg aggregate's commitment from the hospitals' own commitments
/// (zkfl_dapp/kzg.py `combine` computes the same point). Points are affine (x, y) with canonical
/// coordinates; (0, 0) is the precompiles' encoding of infinity, which no commitment is.
library Bn254 {
    struct G1Point {
        uint256 x;
        uint256 y;
    }

    /// @notice The BN254 base field prime.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    /// @notice A point is off the curve, has a coordinate >= P, or is infinity (0, 0).
    error Bn254InvalidPoint(uint256 x, uint256 y);
    /// @notice The ecAdd (0x06) or ecMul (0x07) precompile failed (e.g. out of gas).
    error Bn254PrecompileFailed(address precompile);
    /// @notice `points` and `weights` differ in length, or are empty.
    error Bn254LengthMismatch(uint256 points, uint256 weights);
    /// @notice The weights sum to zero: the affine combination needs sum(w) >= 1.
    error Bn254ZeroWeightSum();

    /// @notice Revert with Bn254InvalidPoint unless `p` is a finite point on y^2 = x^3 + 3 with canonical coordinates.
    function validate(G1Point memory p) internal pure {
        if (p.x >= P || p.y >= P || (p.x == 0 && p.y == 0)) revert Bn254InvalidPoint(p.x, p.y);
        uint256 rhs = addmod(mulmod(mulmod(p.x, p.x, P), p.x, P), 3, P);
        if (mulmod(p.y, p.y, P) != rhs) revert Bn254InvalidPoint(p.x, p.y);
    }

    /// @notice a + b (either may be infinity (0, 0); the precompile checks both are on the curve).
    function add(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        uint256[4] memory input = [a.x, a.y, b.x, b.y];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, r, 0x40)
        }
        if (!ok) revert Bn254PrecompileFailed(address(0x06));
    }

    /// @notice s * a.
    function mul(G1Point memory a, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [a.x, a.y, s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, r, 0x40)
        }
        if (!ok) revert Bn254PrecompileFailed(address(0x07));
    }

    /// @notice -a (infinity stays infinity).
    function negate(G1Point memory a) internal pure returns (G1Point memory) {
        if (a.x == 0 && a.y == 0) return a;
        return G1Point(a.x, P - a.y);
    }

    /// @notice sum_i weights[i] * points[i] - (sum_i weights[i] - 1) * k, every input validated first.
    /// @dev Computed as K + sum_i w_i (C_i - K) (the same point; one ecMul fewer: 5 slots cost 5 ecMul + 10 ecAdd).
    /// Reverts Bn254LengthMismatch, Bn254ZeroWeightSum, Bn254InvalidPoint (an input, or a result at
    /// infinity), Bn254PrecompileFailed; an overflowing weight sum panics (0x11).
    function affineCombination(G1Point[] memory points, uint256[] memory weights, G1Point memory k)
        internal
        view
        returns (G1Point memory r)
    {
        uint256 n = points.length;
        if (n == 0 || n != weights.length) revert Bn254LengthMismatch(n, weights.length);
        validate(k);
        uint256 total = 0;
        for (uint256 i; i < n; ++i) {
            validate(points[i]);
            total += weights[i];
        }
        if (total == 0) revert Bn254ZeroWeightSum();
        // Same point as sum w_i C_i - (total - 1) K, with one ecMul fewer: K + sum w_i (C_i - K).
        G1Point memory minusK = negate(k);
        r = k;
        for (uint256 i; i < n; ++i) {
            r = add(r, mul(add(points[i], minusK), weights[i]));
        }
        if (r.x == 0 && r.y == 0) revert Bn254InvalidPoint(0, 0);
    }
}
