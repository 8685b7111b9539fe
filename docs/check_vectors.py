#!/usr/bin/env python3
"""Checks docs/test-vectors.json with an independent implementation of the
format in docs/encryption.md (Python `cryptography` and `argon2-cffi`)."""
import hashlib
import json
import sys
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CHUNK = 65536


def decrypt_file(media_key, path, ct, plain_size):
    header, body = ct[:40], ct[40:]
    assert header[:8] == b"TSMENC01" and header[8] == 1
    file_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=header[12:28],
                    info=b"tsmedia file key v1").derive(media_key)
    chunks = max(1, -(-plain_size // CHUNK))
    out = b""
    for i in range(chunks):
        c = body[i * (CHUNK + 16):(i + 1) * (CHUNK + 16)]
        nonce = header[28:35] + i.to_bytes(4, "big") + bytes([1 if i == chunks - 1 else 0])
        out += AESGCM(file_key).decrypt(nonce, c, header + path.encode())
    return out


def main():
    v = json.loads((Path(__file__).parent / "test-vectors.json").read_text())
    hb = bytes.fromhex(v["key_header"]["bytes_hex"])
    assert hashlib.sha256(hb[:100]).digest()[:16] == hb[100:116], "header checksum"
    k = v["kdf"]
    kek = hash_secret_raw(v["password"].encode(), hb[24:40], time_cost=k["t_cost"],
                          memory_cost=k["m_cost_kib"], parallelism=k["p_cost"],
                          hash_len=32, type=Type.ID, version=k["version"])
    media_key = AESGCM(kek).decrypt(hb[40:52], hb[52:100], hb[:52])
    assert media_key.hex() == v["media_key_hex"], "media key"
    for f in v["files"]:
        if "ciphertext_hex" not in f:
            continue
        pt = decrypt_file(media_key, f["path"], bytes.fromhex(f["ciphertext_hex"]), f["plaintext_size"])
        assert pt.hex() == f["plaintext_hex"], f["path"]
        assert hashlib.sha256(pt).hexdigest() == f["plaintext_sha256"], f["path"]
    print("test vectors: independent check passed")


if __name__ == "__main__":
    sys.exit(main())
