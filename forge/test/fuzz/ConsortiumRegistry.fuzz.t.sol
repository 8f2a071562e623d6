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

    /// @notice Only the current aggregator registers an enclave key: a non-empty one, of an accepted evidence
    /// kind, with an allowlisted measurement (zero for a development enclave); removing the aggregator clears it.
    function testFuzz_enclaveKey(
        address caller,
        bytes32 keyHash,
        uint16 lengths,
        uint8 kindSeed,
        bytes32 measurement,
        uint8 flags
    ) public {
        address enclave = address(0xE0);
        vm.prank(ADMIN);
        registry.admitMember(enclave, IConsortiumRegistry.Role.Aggregator, "enclave");
        _configure(measurement, flags);
        IConsortiumRegistry.EvidenceKind kind = IConsortiumRegistry.EvidenceKind(kindSeed % 5);
        string memory cid = string(new bytes((lengths & 0xFF) % 80));
        string memory evidenceCid = string(new bytes((lengths >> 8) % 80));
        bytes memory expected = _expectedRevert(caller, enclave, keyHash, cid, evidenceCid, kind, measurement, flags);
        vm.prank(caller);
        if (expected.length > 0) vm.expectRevert(expected);
        registry.registerEnclaveKey(keyHash, cid, kind, measurement, evidenceCid);
        vm.prank(ADMIN);
        registry.removeMember(enclave);
        (bytes32 h, string memory c, bytes32 m) = registry.enclaveKey();
        assertTrue(h == 0 && bytes(c).length == 0 && m == 0, "enclave key survives its aggregator");
        (IConsortiumRegistry.EvidenceKind k, string memory e, uint64 t) = registry.enclaveEvidence();
        assertTrue(k == IConsortiumRegistry.EvidenceKind.None && bytes(e).length == 0 && t == 0, "evidence survives");
    }

    /// @dev flags bit 0: the consortium accepts development enclaves; bit 1: its one hospital approves `measurement`.
    function _configure(bytes32 measurement, uint8 flags) internal {
        address hospital = address(0xB0);
        vm.prank(ADMIN);
        registry.admitMember(hospital, IConsortiumRegistry.Role.Hospital, "hospital");
        if (flags & 1 != 0) {
            vm.prank(ADMIN);
            registry.setEvidenceKindAccepted(IConsortiumRegistry.EvidenceKind.Development, true);
        }
        if (flags & 2 != 0) {
            vm.prank(hospital);
            registry.approveMeasurement(measurement); // one of one member: a majority
        }
    }

    function _expectedRevert(
        address caller,
        address enclave,
        bytes32 keyHash,
        string memory cid,
        string memory evidenceCid,
        IConsortiumRegistry.EvidenceKind kind,
        bytes32 measurement,
        uint8 flags
    ) internal pure returns (bytes memory) {
        bool development = kind == IConsortiumRegistry.EvidenceKind.Development;
        if (caller != enclave) {
            return abi.encodeWithSelector(IConsortiumRegistry.ConsortiumRegistryNotAggregator.selector, caller);
        }
        if (keyHash == bytes32(0) || bytes(cid).length == 0 || bytes(evidenceCid).length == 0) {
            return abi.encodeWithSelector(IConsortiumRegistry.ConsortiumRegistryInvalidEnclaveKey.selector);
        }
        if (development ? flags & 1 == 0 : kind == IConsortiumRegistry.EvidenceKind.None) {
            return abi.encodeWithSelector(IConsortiumRegistry.ConsortiumRegistryEvidenceKindNotAccepted.selector, kind);
        }
        if (development ? measurement != 0 : flags & 2 == 0) {
            return abi.encodeWithSelector(
                IConsortiumRegistry.ConsortiumRegistryMeasurementNotAllowed.selector, kind, measurement
            );
        }
        return "";
    }

    /// @notice A measurement is allowlisted exactly when more than half of the current member hospitals approved it.
    function testFuzz_measurementMajority(uint8 memberSeed, uint8 approvalSeed, bytes32 measurement) public {
        uint256 members = bound(memberSeed, 1, 12);
        uint256 approvals = bound(approvalSeed, 0, members);
        for (uint256 i = 0; i < members; ++i) {
            vm.prank(ADMIN);
            registry.admitMember(address(uint160(0x1000 + i)), IConsortiumRegistry.Role.Hospital, "h");
        }
        for (uint256 i = 0; i < approvals; ++i) {
            vm.prank(address(uint160(0x1000 + i)));
            registry.approveMeasurement(measurement);
            assertTrue(registry.isMeasurementAllowed(measurement) == ((i + 1) * 2 > members), "majority");
        }
        assertEq(registry.measurementApprovals(measurement), approvals, "approvals");
    }
}
