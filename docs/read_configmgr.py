#!/usr/bin/env python3
"""Independent reader of a task sequence medium's settings files.

Written from the public descriptions (docs/configmgr.md), with Python's
`cryptography` and the standard library only: nothing here comes from
tsmedia. It reads the medium FOLDER as third-party tools read the product's
media: skip the 24-byte header and drop the 8-byte tail, cut to whole
blocks, AES-CBC with an all-zero IV and the CryptDeriveKey(SHA-1) key,
UTF-16LE up to the last NUL, then `.//var[@name=...]` and the policy's
`PKG_Name`/`ADV_AdvertisementID`/`TS_Sequence` values.

Usage: read_configmgr.py FOLDER [PASSWORD]
Prints JSON: the variables (name -> value) and the policy facts.
"""

import hashlib
import json
import os
import struct
import sys
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DEFAULT_PASSWORD = "{BAC6E688-DE21-4ABE-B7FB-C9F54E6DB664}"


def derive(password):
    h = hashlib.sha1(password.encode("utf-16-le")).digest()
    b0 = bytes(x ^ 0x36 for x in h) + b"\x36" * 44
    b1 = bytes(x ^ 0x5C for x in h) + b"\x5c" * 44
    return hashlib.sha1(b0).digest() + hashlib.sha1(b1).digest()


def decrypt(path, password):
    data = open(path, "rb").read()
    magic, _, plain_len, _, alg, _ = struct.unpack("<6I", data[:24])
    assert magic == 0xECED0000, "%s: magic %08x" % (path, magic)
    key_len = {0x660E: 16, 0x6610: 32}[alg]
    body = data[24:-8]
    body = body[: len(body) // 16 * 16]
    key = derive(password)[:key_len]
    d = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16)).decryptor()
    plain = d.update(body) + d.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("%s: bad padding (wrong password?)" % path)
    plain = plain[:-pad]
    assert len(plain) == plain_len, "%s: length %d != header %d" % (path, len(plain), plain_len)
    text = plain.decode("utf-16-le")
    return text[: text.rfind("\x00")], {0x660E: "aes-128", 0x6610: "aes-256"}[alg]


def main():
    folder = sys.argv[1]
    password = sys.argv[2] if len(sys.argv) > 2 else None
    out = {}
    text, alg = decrypt(os.path.join(folder, "SMS/data/Variables.dat"), password or DEFAULT_PASSWORD)
    out["cipher"] = alg
    root = ET.fromstring(text.encode("utf-16-le"))
    assert root.tag == "MediaVarList", root.tag
    out["variables"] = {v.get("name"): (v.text or "") for v in root.findall(".//var")}
    policy = os.path.join(folder, "SMS/data/Policy.xml")
    if os.path.exists(policy):
        pw = password or out["variables"]["_SMSMediaGuid"]
        ptext, _ = decrypt(policy, pw)
        proot = ET.fromstring(ptext)

        def value(name):
            for e in proot.iter():
                if e.get("name") == name:
                    return e.find("value").text
            raise KeyError(name)

        seq = value("TS_Sequence")
        out["policy"] = {
            "PKG_Name": value("PKG_Name"),
            "ADV_AdvertisementID": value("ADV_AdvertisementID"),
            "TS_Sequence_starts": seq[:9],
            "steps": len(ET.fromstring(seq).findall(".//step")),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
