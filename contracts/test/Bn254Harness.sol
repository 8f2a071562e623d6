// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {Bn254} from "../libraries/Bn254.sol";

/// @title Bn254Harness
/// @notice Test-only wrapper around the Bn254 library: a pure combination, and a finalize-shaped call that
/// reads stored slot commitments and K from storage, combines them and stores the result (the gas a
/// RoundManager finalize would spend on the aggregate's commitment).
contract Bn254Harness {
    Bn254.G1Point[] private _slots;
    Bn254.G1Point private _zero;
    Bn254.G1Point private _aggregate;

    /// @notice Emitted by finalize with the stored aggregate commitment.
    event AggregateCommitted(uint256 x, uint256 y);

    function validate(Bn254.G1Point calldata p) external pure {
        Bn254.validate(p);
    }

    function combine(Bn254.G1Point[] calldata points, uint256[] calldata weights, Bn254.G1Point calldata k)
        external
        view
        returns (Bn254.G1Point memory)
    {
        return Bn254.affineCombination(points, weights, k);
    }

    function setSlots(Bn254.G1Point[] calldata points, Bn254.G1Point calldata k) external {
        delete _slots;
        for (uint256 i; i < points.length; ++i) {
            Bn254.validate(points[i]);
            _slots.push(points[i]);
        }
        Bn254.validate(k);
        _zero = k;
    }

    function finalize(uint256[] calldata weights) external {
        Bn254.G1Point[] memory points = _slots;
        Bn254.G1Point memory c = Bn254.affineCombination(points, weights, _zero);
        _aggregate = c;
        emit AggregateCommitted(c.x, c.y);
    }

    function aggregate() external view returns (Bn254.G1Point memory) {
        return _aggregate;
    }
}
