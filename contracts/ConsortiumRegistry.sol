// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.20;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";

/// @title ConsortiumRegistry
/// @notice Membership of the hospital consortium and the aggregator enclave's public key.
contract ConsortiumRegistry is IConsortiumRegistry {
    address private _admin;
    mapping(address account => Role) private _roles;
    address private _aggregator;
    uint256 private _hospitalCount;

    bytes32 private _enclaveKeyHash;
    string private _enclaveKeyCid;
    bytes32 private _enclaveMeasurement;
    mapping(address account => uint64) private _sampleCaps;
    mapping(address account => uint256) private _memberSince;

    address private _predictionRegistry;

    modifier onlyAdmin() {
        if (msg.sender != _admin) revert ConsortiumRegistryNotAdmin(msg.sender);
        _;
    }

    constructor(address initialAdmin) {
        if (initialAdmin == address(0)) revert ConsortiumRegistryZeroAddress();
        _admin = initialAdmin;
        emit AdminTransferred(address(0), initialAdmin);
    }

    /// @inheritdoc IConsortiumRegistry
    function admitMember(address account, Role role, string calldata name) external onlyAdmin {
        _admit(account, role, name);
    }

    /// @inheritdoc IConsortiumRegistry
    function admitHospital(address account, string calldata name, uint64 maxSamples) external onlyAdmin {
        if (maxSamples == 0) revert ConsortiumRegistryInvalidSampleCap(maxSamples);
        _admit(account, Role.Hospital, name);
        _sampleCaps[account] = maxSamples;
        emit SampleCapSet(account, maxSamples);
    }

    /// @inheritdoc IConsortiumRegistry
    function setSampleCap(address account, uint64 maxSamples) external onlyAdmin {
        if (_roles[account] != Role.Hospital) revert ConsortiumRegistryNotHospital(account);
        if (maxSamples == 0) revert ConsortiumRegistryInvalidSampleCap(maxSamples);
        _sampleCaps[account] = maxSamples;
        emit SampleCapSet(account, maxSamples);
    }

    function _admit(address account, Role role, string calldata name) internal {
        if (account == address(0)) revert ConsortiumRegistryZeroAddress();
        if (role == Role.None) revert ConsortiumRegistryInvalidRole();
        Role current = _roles[account];
        if (current != Role.None) revert ConsortiumRegistryAlreadyMember(account, current);
        if (role == Role.Aggregator && _aggregator != address(0)) {
            revert ConsortiumRegistryAggregatorAlreadySet(_aggregator);
        }

        _roles[account] = role;
        _memberSince[account] = block.number;
        if (role == Role.Hospital) _hospitalCount += 1;
        if (role == Role.Aggregator) _aggregator = account;
        emit MemberAdmitted(account, role, name);
    }

    /// @inheritdoc IConsortiumRegistry
    function removeMember(address account) external onlyAdmin {
        Role current = _roles[account];
        if (current == Role.None) revert ConsortiumRegistryNotMember(account);

        delete _roles[account];
        delete _memberSince[account];
        if (_sampleCaps[account] != 0) {
            delete _sampleCaps[account];
            emit SampleCapSet(account, 0);
        }
        if (current == Role.Hospital) _hospitalCount -= 1;
        if (current == Role.Aggregator) {
            _aggregator = address(0);
            delete _enclaveKeyHash;
            delete _enclaveKeyCid;
            delete _enclaveMeasurement;
        }
        emit MemberRemoved(account, current);
    }

    /// @inheritdoc IConsortiumRegistry
    function transferAdmin(address newAdmin) external onlyAdmin {
        if (newAdmin == address(0)) revert ConsortiumRegistryZeroAddress();
        address previous = _admin;
        _admin = newAdmin;
        emit AdminTransferred(previous, newAdmin);
    }

    /// @inheritdoc IConsortiumRegistry
    function registerEnclaveKey(bytes32 keyHash, string calldata keyCid, bytes32 measurement) external {
        if (msg.sender != _aggregator || _aggregator == address(0)) revert ConsortiumRegistryNotAggregator(msg.sender);
        if (keyHash == bytes32(0) || bytes(keyCid).length == 0) revert ConsortiumRegistryInvalidEnclaveKey();

        _enclaveKeyHash = keyHash;
        _enclaveKeyCid = keyCid;
        _enclaveMeasurement = measurement;
        emit EnclaveKeyRegistered(msg.sender, keyHash, keyCid, measurement);
    }

    /// @inheritdoc IConsortiumRegistry
    function admin() external view returns (address) {
        return _admin;
    }

    /// @inheritdoc IConsortiumRegistry
    function roleOf(address account) external view returns (Role) {
        return _roles[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function isHospital(address account) external view returns (bool) {
        return _roles[account] == Role.Hospital;
    }

    /// @inheritdoc IConsortiumRegistry
    function isAuditor(address account) external view returns (bool) {
        return _roles[account] == Role.Auditor;
    }

    /// @inheritdoc IConsortiumRegistry
    function aggregator() external view returns (address) {
        return _aggregator;
    }

    /// @inheritdoc IConsortiumRegistry
    function hospitalCount() external view returns (uint256) {
        return _hospitalCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function enclaveKey() external view returns (bytes32 keyHash, string memory keyCid, bytes32 measurement) {
        return (_enclaveKeyHash, _enclaveKeyCid, _enclaveMeasurement);
    }

    /// @inheritdoc IConsortiumRegistry
    function setPredictionRegistry(address predictionRegistry_) external onlyAdmin {
        if (predictionRegistry_ != address(0) && predictionRegistry_.code.length == 0) {
            revert ConsortiumRegistryNotContract(predictionRegistry_);
        }

        address previous = _predictionRegistry;
        _predictionRegistry = predictionRegistry_;
        emit PredictionRegistrySet(previous, predictionRegistry_);
    }

    /// @inheritdoc IConsortiumRegistry
    function predictionRegistry() external view returns (address) {
        return _predictionRegistry;
    }

    /// @inheritdoc IConsortiumRegistry
    function sampleCapOf(address account) external view returns (uint64) {
        return _sampleCaps[account];
    }

    /// @inheritdoc IConsortiumRegistry
    function memberSince(address account) external view returns (uint256) {
        return _memberSince[account];
    }
}
