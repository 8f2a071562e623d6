"""Post-quantum encryption of model updates to the aggregator enclave (:mod:`.envelope`: ML-KEM-768 +
HKDF-SHA256 + AES-256-GCM), the enclave's key pair (:mod:`.key_pair`) and its passphrase-encrypted file
(:mod:`.key_file`), and the associated data that binds an envelope to its round (:mod:`.binding`)."""

from zkfl_dapp.crypto.envelope import EnclaveKeyPair, associated_data, open_sealed, seal
from zkfl_dapp.crypto.key_file import load_key_pair, save_key_pair

__all__ = ["EnclaveKeyPair", "associated_data", "load_key_pair", "open_sealed", "save_key_pair", "seal"]
