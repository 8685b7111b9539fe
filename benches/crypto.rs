//! Encryption throughput: AES-256-GCM in 64 KiB chunks on one core, and the
//! encrypting reader (encryption on a second thread) end to end.
//! `cargo bench --bench crypto` (target: >= 1 GB/s a core).

use std::io::Read;
use std::time::Instant;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use tsmedia::crypto::stream::{EncryptReader, FileParams, CHUNK};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let total: usize = 1 << 30;
    let rounds = 5;
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let mut buf = vec![0x5au8; CHUNK];
    let mut core = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..total / CHUNK {
            let mut n = [0u8; 12];
            n[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let _tag = cipher
                .encrypt_inout_detached(&Nonce::from(n), b"aad", (&mut buf[..]).into())
                .unwrap();
        }
        core.push(total as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    let key = zeroize::Zeroizing::new([9u8; 32]);
    let mut reader = Vec::new();
    for _ in 0..rounds {
        let src = std::io::repeat(0x33).take(total as u64);
        let mut r = EncryptReader::new(
            Box::new(src),
            &key,
            FileParams::random(),
            "SMS/PKG/X/f",
            total as u64,
        );
        let mut out = vec![0u8; 1 << 20];
        let t = Instant::now();
        let mut n = 0usize;
        loop {
            let k = r.read(&mut out).unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        assert!(n > total);
        reader.push(total as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    println!(
        "AES-256-GCM, 64 KiB chunks, one core: median {:.2} GB/s over {rounds} x 1 GiB",
        median(core)
    );
    println!(
        "encrypting reader (plaintext hash + encryption thread): median {:.2} GB/s",
        median(reader)
    );
}
