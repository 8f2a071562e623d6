// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

/// @title Vm
/// @notice The few Foundry cheatcodes the zkFL tests use (the full interface is forge-std's Vm.sol; npm's
/// forge-std is an outdated copy, so this repository declares only what it calls).
/// @dev Selectors are Foundry's: each function here must keep the exact name and parameter types.
interface Vm {
    /// @notice Set block.timestamp.
    function warp(uint256 newTimestamp) external;
    /// @notice Set block.number.
    function roll(uint256 newHeight) external;
    /// @notice The next call (only) is made from `msgSender`.
    function prank(address msgSender) external;
    /// @notice The next call must revert with exactly `revertData`.
    function expectRevert(bytes calldata revertData) external;
    /// @notice The next call must revert with exactly these 4 bytes (a custom error without arguments).
    function expectRevert(bytes4 revertData) external;
    /// @notice The next call must revert with a custom error of this selector, whatever its arguments.
    function expectPartialRevert(bytes4 revertData) external;
    /// @notice The next call must emit the event emitted right after this (all topics and data checked).
    function expectEmit() external;
    /// @notice Mark the current test as skipped (a known contract bug whose fix is pending, say).
    function skip(bool skipTest) external;
    /// @notice Discard the current fuzz input when `condition` is false.
    function assume(bool condition) external pure;
    /// @notice Name an address in traces.
    function label(address account, string calldata newLabel) external;
}

/// @title ForgeTest
/// @notice A minimal test base: the cheatcode handle, assertions that revert with a message (forge reports a
/// reverting test as failed), and `bound` (forge-std's StdUtils.bound semantics, without the log line).
abstract contract ForgeTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Marks this contract as a test suite for tools that look for it.
    bool public constant IS_TEST = true;

    function assertTrue(bool condition, string memory message) internal pure {
        require(condition, message);
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": ", _str(a), " != ", _str(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": ", _str(uint256(a)), " != ", _str(uint256(b))));
    }

    function assertEq(address a, address b, string memory message) internal pure {
        if (a != b) revert(string.concat(message, ": ", _str(uint160(a)), " != ", _str(uint160(b))));
    }

    /// @dev x mapped into [lo, hi] (identity when already inside), uniformly enough for fuzzing.
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo;
        if (size == type(uint256).max) return x;
        return lo + (x % (size + 1));
    }

    function _str(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory b = new bytes(78);
        uint256 n = 0;
        while (v != 0) {
            b[77 - n] = bytes1(uint8(48 + (v % 10)));
            v /= 10;
            n++;
        }
        bytes memory out = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = b[78 - n + i];
        }
        return string(out);
    }
}
