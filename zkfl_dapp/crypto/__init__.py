"""Post-quantum encryption of model updates to the aggregator enclave (:mod:`.envelope`: ML-KEM-768 +
HKDF-SHA256 + AES-256-GCM, and the enclave's key pair)."""

from zkfl_dapp.crypto.envelope import EnclaveKeyPair, associated_data, load_key_pair, open_sealed, save_key_pair, seal

__all__ = ["EnclaveKeyPair", "associated_data", "load_key_pair", "open_sealed", "save_key_pair", "seal"]
