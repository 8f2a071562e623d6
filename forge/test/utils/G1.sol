// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

/// @title G1
/// @notice Test-side BN254 G1 points as multiples of the generator (1, 2): a test keeps every commitment's
/// discrete log s (point = s * G), so a homomorphic combination K + sum w_i (C_i - K) is recomputed as a
/// scalar modulo the group order and mapped to a point with one ecMul. Independent of contracts/libraries/Bn254.sol.
library G1 {
    /// @notice The base field prime p.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice The group order r (the scalar field).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    /// @notice s * (1, 2) through the ecMul precompile (0x07); (0, 0) for s = 0 mod r.
    function mulG(uint256 s) internal view returns (uint256[2] memory out) {
        uint256[3] memory input = [uint256(1), uint256(2), s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, out, 0x40)
        }
        require(ok, "G1: ecMul failed");
    }

    /// @notice keccak256(x || y), how RoundManager stores a model commitment.
    function hash(uint256[2] memory p) internal pure returns (bytes32) {
        return keccak256(abi.encode(p[0], p[1]));
    }

    /// @notice keccak256(x_0 || y_0 || x_1 || y_1 || ..), how RoundManager stores a chunked model commitment
    /// (for one point the same as `hash`). Written out with encodePacked per point, not over the array.
    function hashPoints(uint256[2][] memory points) internal pure returns (bytes32) {
        bytes memory packed;
        for (uint256 c = 0; c < points.length; c++) {
            packed = abi.encodePacked(packed, points[c][0], points[c][1]);
        }
        return keccak256(packed);
    }

    /// @notice A one-point commitment list [p], the shape of a one-chunk scheme's commitment.
    function one(uint256[2] memory p) internal pure returns (uint256[2][] memory list) {
        list = new uint256[2][](1);
        list[0] = p;
    }

    /// @notice s_c * G for each discrete log, in order: a chunked commitment.
    function mulGs(uint256[] memory logs) internal view returns (uint256[2][] memory points) {
        points = new uint256[2][](logs.length);
        for (uint256 c = 0; c < logs.length; c++) {
            points[c] = mulG(logs[c]);
        }
    }

    /// @notice The discrete log of K + 2^bits (C - K) given those of K and C.
    function scaled(uint256 k, uint256 c, uint256 bits) internal pure returns (uint256) {
        return addmod(k, mulmod(uint256(1) << bits, addmod(c, R - k, R), R), R);
    }

    /// @notice Whether (x, y) is a finite point of y^2 = x^3 + 3 with canonical coordinates.
    function isCanonicalPoint(uint256 x, uint256 y) internal pure returns (bool) {
        if (x >= P || y >= P || (x == 0 && y == 0)) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }
}
