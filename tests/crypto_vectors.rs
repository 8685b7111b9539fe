//! The published test vectors in docs/test-vectors.json: this implementation
//! must produce exactly those bytes, and decrypt them back.
//! `TSMEDIA_BLESS=1` rewrites the file (only when the format changes on purpose).

use std::io::Read;

use sha2::{Digest, Sha256};
use tsmedia::crypto::format::KeyHeader;
use tsmedia::crypto::kdf::KdfParams;
use tsmedia::crypto::stream::{decrypt, EncryptReader, FileParams};
use zeroize::Zeroizing;

fn seq(start: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| start.wrapping_add(i as u8)).collect()
}

fn vectors() -> serde_json::Value {
    let params = KdfParams {
        m_cost: 256,
        t_cost: 1,
        p_cost: 1,
    };
    let password = "tsmedia test vector";
    let mut media_key = Zeroizing::new([0u8; 32]);
    media_key.copy_from_slice(&seq(0x20, 32));
    let salt: [u8; 16] = seq(0x00, 16).try_into().unwrap();
    let nonce: [u8; 12] = seq(0x10, 12).try_into().unwrap();
    let header =
        KeyHeader::seal_with(password.as_bytes(), &media_key, params, salt, nonce).unwrap();
    let fp = FileParams {
        salt: seq(0x40, 16).try_into().unwrap(),
        prefix: seq(0x50, 7).try_into().unwrap(),
    };
    let mut files = Vec::new();
    for (path, plain) in [
        ("SMS/PKG/TSM00002/empty.txt", Vec::new()),
        (
            "SMS/PKG/TSM00002/setup.cmd",
            b"@echo off\r\nsetup.exe /S\r\n".to_vec(),
        ),
        (
            "SMS/PKG/TSM00003/two-chunks.bin",
            (0..65536 + 100).map(|i| (i % 251) as u8).collect(),
        ),
    ] {
        let mut r = EncryptReader::new(
            Box::new(std::io::Cursor::new(plain.clone())),
            &media_key,
            fp,
            path,
            plain.len() as u64,
        );
        let mut ct = Vec::new();
        r.read_to_end(&mut ct).unwrap();
        let mut back = Vec::new();
        decrypt(&ct[..], &mut back, &media_key, path, ct.len() as u64).unwrap();
        assert_eq!(back, plain);
        let mut v = serde_json::json!({
            "path": path,
            "plaintext_sha256": hex::encode(Sha256::digest(&plain)),
            "plaintext_size": plain.len(),
            "ciphertext_size": ct.len(),
            "ciphertext_sha256": hex::encode(Sha256::digest(&ct)),
        });
        if ct.len() <= 256 {
            v["plaintext_hex"] = hex::encode(&plain).into();
            v["ciphertext_hex"] = hex::encode(&ct).into();
        } else {
            v["plaintext"] = "byte i is i mod 251".into();
        }
        files.push(v);
    }
    serde_json::json!({
        "scheme": "tsmedia-aes256gcm-stream-v1",
        "password": password,
        "kdf": {"algorithm": "argon2id", "version": 19, "m_cost_kib": params.m_cost, "t_cost": params.t_cost, "p_cost": params.p_cost},
        "media_key_hex": hex::encode(media_key.as_ref()),
        "key_header": {"salt_hex": hex::encode(salt), "nonce_hex": hex::encode(nonce), "bytes_hex": hex::encode(header.to_bytes())},
        "file_params": {"salt_hex": hex::encode(fp.salt), "nonce_prefix_hex": hex::encode(fp.prefix)},
        "files": files,
    })
}

#[test]
fn published_vectors_match() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/test-vectors.json");
    let got = vectors();
    if std::env::var_os("TSMEDIA_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
    }
    let want: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        got, want,
        "the implementation no longer matches docs/test-vectors.json"
    );

    // The published key header opens with the password and not without it.
    let hb = hex::decode(want["key_header"]["bytes_hex"].as_str().unwrap()).unwrap();
    let h = KeyHeader::parse(&hb, "vector").unwrap();
    let k = h.open(b"tsmedia test vector").unwrap();
    assert_eq!(
        hex::encode(k.as_ref()),
        want["media_key_hex"].as_str().unwrap()
    );
    assert!(matches!(
        h.open(b"wrong password!!"),
        Err(tsmedia::crypto::DecryptError::WrongPassword)
    ));
    let mut bad = hb.clone();
    bad[30] ^= 1;
    assert!(matches!(
        KeyHeader::parse(&bad, "vector"),
        Err(tsmedia::crypto::DecryptError::HeaderCorrupt(..))
    ));
}

#[test]
fn an_independent_implementation_agrees() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import cryptography, argon2"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("/usr/bin/python3 with cryptography and argon2 is missing: install python3-cryptography python3-argon2");
        }
        eprintln!("SKIPPED: python3-cryptography / python3-argon2 not installed");
        return;
    }
    let o = std::process::Command::new("/usr/bin/python3")
        .arg(root.join("docs/check_vectors.py"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
