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
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mining.data.files import IngestError

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


class Keys:
    """Encryption and decryption settings for every writer and reader of one stage's outputs."""

    def __init__(self, key_env: str) -> None:
        self.key_env = key_env
        key = master_key(key_env)
        self._factory = pe.CryptoFactory(lambda _config: EnvKms(key))
        self._kms = pe.KmsConnectionConfig()
        self._encrypt = pe.EncryptionConfiguration(footer_key=MASTER_KEY_ID, uniform_encryption=True,
                                                   double_wrapping=True, plaintext_footer=False)
        self._decrypt = pe.DecryptionConfiguration()

    def writer_options(self) -> dict:
        """For `pq.ParquetWriter` / `pq.write_table`: the whole file encrypted (footer and columns)."""
        return {"encryption_properties": self._factory.file_encryption_properties(self._kms, self._encrypt)}

    def reader_options(self) -> dict:
        """For `pq.read_table`, `pq.read_schema`, `pq.ParquetFile`."""
        return {"decryption_properties": self._factory.file_decryption_properties(self._kms, self._decrypt)}

    def scan_options(self) -> ds.ParquetFragmentScanOptions:
        config = ds.ParquetDecryptionConfig(self._factory, self._kms, self._decrypt)
        return ds.ParquetFragmentScanOptions(decryption_config=config)


def keys_from(params_ingest: dict, what: str) -> Keys | None:
    """The stage's keys when params encrypt `what` ("quarantine" or "tables"), else None."""
    cfg = params_ingest.get("encryption") or {}
    return Keys(cfg["key_env"]) if cfg.get(what) else None


def read_parquet(path: Path, keys: Keys | None = None) -> pd.DataFrame:
    """A Parquet file, decrypted with `keys` when it is encrypted."""
    if keys is None:
        return pd.read_parquet(path)
    try:
        return pq.read_table(path, **keys.reader_options()).to_pandas()
    except (OSError, InvalidTag) as exc:  # InvalidTag: the key that wrapped the file's keys was another
        raise IngestError(f"{path}: cannot be decrypted with the key in ${keys.key_env} ({type(exc).__name__})") from None
