"""Encryption at rest with Parquet modular encryption (pyarrow): footer and every column encrypted
with data keys that are themselves wrapped (AES-256-GCM, `cryptography`) by a master key taken from
the environment, never from params or reports.

The wrapping client below stands in for a key-management service: a team with Vault or a cloud KMS
replaces `EnvKms` by a client of that service and keeps everything else. The file format is
standard Parquet encryption, readable by any reader given the same KMS client.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mining.ingest.files import IngestError

MASTER_KEY_ID = "mining-master"


def master_key(key_env: str) -> bytes:
    """The 256-bit master key: 64 hex characters (or 44 of base64) in `$key_env`."""
    raw = os.environ.get(key_env)
    if not raw:
        raise IngestError(f"encryption at rest is on but ${key_env} is not set; export a 256-bit key "
                          f"(e.g. `export {key_env}=$(openssl rand -hex 32)`)")
    try:
        key = bytes.fromhex(raw) if len(raw) == 64 else base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise IngestError(f"${key_env} must hold a 256-bit key: 64 hex characters or 44 of base64")
    return key


class EnvKms(pe.KmsClient):
    """Wraps Parquet data keys with AES-GCM under the master key (the key id is the associated data)."""

    def __init__(self, key: bytes) -> None:
        super().__init__()
        self._aead = AESGCM(key)

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, key_bytes, master_key_identifier.encode())
        return base64.b64encode(nonce + sealed).decode()

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        raw = base64.b64decode(wrapped_key)
        return self._aead.decrypt(raw[:12], raw[12:], master_key_identifier.encode())


def _factory(key_env: str) -> tuple[pe.CryptoFactory, pe.KmsConnectionConfig]:
    key = master_key(key_env)
    return pe.CryptoFactory(lambda _config: EnvKms(key)), pe.KmsConnectionConfig()


def write_options(key_env: str) -> dict:
    """Keyword arguments for `pq.ParquetWriter`: the whole file encrypted (footer and columns)."""
    factory, kms = _factory(key_env)
    config = pe.EncryptionConfiguration(footer_key=MASTER_KEY_ID, uniform_encryption=True,
                                        double_wrapping=True, plaintext_footer=False)
    return {"encryption_properties": factory.file_encryption_properties(kms, config)}


def read_parquet(path: Path, key_env: str | None = None) -> pd.DataFrame:
    """A Parquet file, decrypted with the master key from `$key_env` when it is encrypted."""
    if key_env is None:
        return pd.read_parquet(path)
    factory, kms = _factory(key_env)
    props = factory.file_decryption_properties(kms, pe.DecryptionConfiguration())
    try:
        return pq.read_table(path, decryption_properties=props).to_pandas()
    except (OSError, InvalidTag) as exc:  # InvalidTag: the key that wrapped the file's keys was another
        raise IngestError(f"{path}: cannot be decrypted with the key in ${key_env} ({type(exc).__name__})") from None
