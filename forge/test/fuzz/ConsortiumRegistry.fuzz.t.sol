// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {ConsortiumRegistry} from "@zkfl/ConsortiumRegistry.sol";
import {IConsortiumRegistry} from "@zkfl/interfaces/IConsortiumRegistry.sol";
import {ForgeTest} from "../utils/Vm.sol";

/// @title ConsortiumRegistryFuzzTest
/// @notice Membership under random accounts, roles and callers.
contract ConsortiumRegistryFuzzTest is ForgeTest {
    ConsortiumRegistry internal registry;
    address internal constant ADMIN = address(0xAD);

    function setUp() public {
        registry = new ConsortiumRegistry(ADMIN);
    }

    /// @notice Only the admin changes membership, the admin or the enclave key.
    function testFuzz_onlyAdmin(address caller, address account, uint8 roleSeed) public {
        vm.assume(caller != ADMIN);
        IConsortiumRegistry.Role role = IConsortiumRegistry.Role(bound(roleSeed, 1, 3));
        bytes memory notAdmin = abi.encodeWithSelector(IConsortiumRegistry.ConsortiumRegistryNotAdmin.selector, caller);
        vm.prank(caller);
        vm.expectRevert(notAdmin);
        registry.admitMember(account, role, "x");
        vm.prank(caller);
        vm.expectRevert(notAdmin);
        registry.removeMember(account);
        vm.prank(caller);
        vm.expectRevert(notAdmin);
        registry.transferAdmin(account);
        assertEq(registry.admin(), ADMIN, "admin");
        assertEq(uint256(registry.roleOf(account)), 0, "role");
    }

    /// @notice A random sequence of admissions and removals: the role of each account and the hospital count
    /// follow a model; at most one aggregator; Role.None and address(0) are refused.
    function testFuzz_membershipModel(uint256[16] memory ops) public {
        address[4] memory accounts = [address(0x1), address(0x2), address(0x3), address(0)];
        uint8[4] memory roles; // the model
        uint256 hospitals;
        address aggregator;
        for (uint256 k = 0; k < ops.length; k++) {
            uint256 op = ops[k];
            uint256 a = op % 4;
            address account = accounts[a];
            uint8 role = uint8((op >> 2) % 4);
            bool removing = (op >> 4) % 3 == 0;
            vm.prank(ADMIN);
            if (removing) {
                try registry.removeMember(account) {
                    assertTrue(roles[a] != 0, "removed a non-member");
                    if (roles[a] == 1) hospitals -= 1;
                    if (roles[a] == 3) aggregator = address(0);
                    roles[a] = 0;
                } catch {
                    assertTrue(roles[a] == 0, "could not remove a member");
                }
            } else {
                try registry.admitMember(account, IConsortiumRegistry.Role(role), "m") {
                    assertTrue(account != address(0) && role != 0 && roles[a] == 0, "invalid admission accepted");
                    assertTrue(role != 3 || aggregator == address(0), "a second aggregator");
                    roles[a] = role;
                    if (role == 1) hospitals += 1;
                    if (role == 3) aggregator = account;
                } catch {
                    assertTrue(
                        account == address(0) || role == 0 || roles[a] != 0 || (role == 3 && aggregator != address(0)),
                        "a valid admission was refused"
                    );
                }
            }
            for (uint256 j = 0; j < 3; j++) {
                assertEq(uint256(registry.roleOf(accounts[j])), roles[j], "role");
                assertTrue(registry.isHospital(accounts[j]) == (roles[j] == 1), "isHospital");
                assertTrue(registry.isAuditor(accounts[j]) == (roles[j] == 2), "isAuditor");
            }
            assertEq(registry.hospitalCount(), hospitals, "hospital count");
            assertEq(registry.aggregator(), aggregator, "aggregator");
        }
    }

    /// @notice Only the current aggregator registers an enclave key, a non-empty one; removing the aggregator
    /// clears it.
    function testFuzz_enclaveKey(address caller, bytes32 keyHash, uint8 cidLength, bytes32 measurement) public {
        address enclave = address(0xE0);
        vm.prank(ADMIN);
        registry.admitMember(enclave, IConsortiumRegistry.Role.Aggregator, "enclave");
        string memory cid = string(new bytes(cidLength % 80));
        vm.prank(caller);
        if (caller != enclave) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsortiumRegistry.ConsortiumRegistryNotAggregator.selector, caller)
            );
        } else if (keyHash == bytes32(0) || bytes(cid).length == 0) {
            vm.expectRevert(IConsortiumRegistry.ConsortiumRegistryInvalidEnclaveKey.selector);
        }
        registry.registerEnclaveKey(keyHash, cid, measurement);
        vm.prank(ADMIN);
        registry.removeMember(enclave);
        (bytes32 h, string memory c, bytes32 m) = registry.enclaveKey();
        assertTrue(h == 0 && bytes(c).length == 0 && m == 0, "enclave key survives its aggregator");
    }
}
