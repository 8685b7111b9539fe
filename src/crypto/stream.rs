//! Encrypted files: a 40-byte header, then the content in 64 KiB chunks of
//! AES-256-GCM in the STREAM construction.
//!
//! ```text
//! offset size
//!      0    8  magic "TSMENC01"
//!      8    1  version = 1
//!      9    3  reserved, zero
//!     12   16  salt: file key = HKDF-SHA256(ikm = media key, salt, info = "tsmedia file key v1")
//!     28    7  nonce prefix
//!     35    5  reserved, zero
//!     40       chunks: AES-256-GCM(file key, nonce, aad, plaintext) || 16-byte tag
//! ```
//! Chunk `i` (from 0) holds plaintext bytes `[i*65536, (i+1)*65536)`; its nonce
//! is the prefix, `i` as a 32-bit big-endian counter, and one byte that is 1
//! for the last chunk and 0 otherwise. Its associated data is the 40 header
//! bytes followed by the file's path on the medium (UTF-8, `/`-separated, no
//! leading `/`). An empty file is one empty last chunk (16 bytes). So a
//! flipped bit, a truncation, reordered chunks and a file moved to another
//! path all fail authentication.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{random, DecryptError, Key};

pub const FILE_MAGIC: &[u8; 8] = b"TSMENC01";
pub const HEADER_LEN: u64 = 40;
pub const CHUNK: usize = 64 * 1024;
pub const TAG: usize = 16;
const HKDF_INFO: &[u8] = b"tsmedia file key v1";

/// Size on the medium of a file of `plain` bytes once encrypted.
pub fn encrypted_size(plain: u64) -> u64 {
    let chunks = plain.div_ceil(CHUNK as u64).max(1);
    HEADER_LEN + plain + chunks * TAG as u64
}

/// Plaintext size and chunk count of an encrypted file of `size` bytes.
pub fn plain_size(size: u64) -> Option<(u64, u64)> {
    let body = size.checked_sub(HEADER_LEN)?;
    if body < TAG as u64 {
        return None;
    }
    let full = (CHUNK + TAG) as u64;
    let chunks = body.div_ceil(full);
    let last = body - (chunks - 1) * full;
    if last < TAG as u64 || (chunks > 1 && last == TAG as u64) {
        return None;
    }
    Some((body - chunks * TAG as u64, chunks))
}

/// Per-file parameters, chosen at random when a medium is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileParams {
    pub salt: [u8; 16],
    pub prefix: [u8; 7],
}

impl FileParams {
    pub fn random() -> FileParams {
        let mut p = FileParams {
            salt: [0; 16],
            prefix: [0; 7],
        };
        random(&mut p.salt);
        random(&mut p.prefix);
        p
    }

    pub fn header(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[..8].copy_from_slice(FILE_MAGIC);
        h[8] = 1;
        h[12..28].copy_from_slice(&self.salt);
        h[28..35].copy_from_slice(&self.prefix);
        h
    }

    pub fn parse(h: &[u8], path: &str) -> Result<FileParams, DecryptError> {
        let not = |why: &str| DecryptError::NotEncrypted {
            path: path.to_string(),
            why: why.to_string(),
        };
        if h.len() < HEADER_LEN as usize {
            return Err(not("too short for a header"));
        }
        if &h[..8] != FILE_MAGIC {
            return Err(not("wrong magic"));
        }
        if h[8] != 1 {
            return Err(not(&format!("unsupported version {}", h[8])));
        }
        let mut p = FileParams {
            salt: [0; 16],
            prefix: [0; 7],
        };
        p.salt.copy_from_slice(&h[12..28]);
        p.prefix.copy_from_slice(&h[28..35]);
        Ok(p)
    }
}

fn file_key(media_key: &Key, salt: &[u8; 16]) -> Key {
    let hk = Hkdf::<Sha256>::new(Some(salt), media_key.as_ref());
    let mut k = Zeroizing::new([0u8; 32]);
    hk.expand(HKDF_INFO, k.as_mut())
        .expect("32 bytes is a valid HKDF length");
    k
}

fn nonce(prefix: &[u8; 7], i: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&(i as u32).to_be_bytes());
    n[11] = last as u8;
    n
}

fn aad(header: &[u8], path: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(header.len() + path.len());
    a.extend_from_slice(header);
    a.extend_from_slice(path.as_bytes());
    a
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A reader of ciphertext: reads plaintext from `inner` and encrypts it on a
/// second thread, so encryption overlaps the writer's I/O and hashing.
pub struct EncryptReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    worker: Option<JoinHandle<()>>,
}

impl EncryptReader {
    pub fn new(
        mut inner: Box<dyn Read + Send>,
        media_key: &Key,
        params: FileParams,
        path: &str,
        plain_len: u64,
    ) -> EncryptReader {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(8);
        let key = file_key(media_key, &params.salt);
        let header = params.header();
        let ad = aad(&header, path);
        let worker = std::thread::spawn(move || {
            let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
            drop(key);
            if tx.send(Ok(header.to_vec())).is_err() {
                return;
            }
            let chunks = plain_len.div_ceil(CHUNK as u64).max(1);
            for i in 0..chunks {
                let want = (plain_len - i * CHUNK as u64).min(CHUNK as u64) as usize;
                let mut buf = Vec::with_capacity(want + TAG);
                buf.resize(want, 0);
                let got = match read_full(&mut *inner, &mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                if got < want {
                    let _ = tx.send(Err(io::Error::other(crate::io::SourceChanged {
                        expected: plain_len,
                        got: i * CHUNK as u64 + got as u64,
                        how: "shrank".into(),
                    })));
                    return;
                }
                let last = i + 1 == chunks;
                if last {
                    let mut probe = [0u8; 1];
                    match read_full(&mut *inner, &mut probe) {
                        Ok(0) => {}
                        Ok(_) => {
                            let _ = tx.send(Err(io::Error::other(crate::io::SourceChanged {
                                expected: plain_len,
                                got: plain_len + 1,
                                how: "grew".into(),
                            })));
                            return;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                let n = nonce(&params.prefix, i, last);
                let tag: Tag = cipher
                    .encrypt_in_place_detached(Nonce::from_slice(&n), &ad, &mut buf)
                    .expect("a 64 KiB chunk always encrypts");
                buf.extend_from_slice(&tag);
                if tx.send(Ok(buf)).is_err() {
                    return;
                }
            }
        });
        EncryptReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            worker: Some(worker),
        }
    }
}

impl Read for EncryptReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(v)) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    if let Some(w) = self.worker.take() {
                        if w.join().is_err() {
                            return Err(io::Error::other("the encryption thread failed"));
                        }
                    }
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// An error while decrypting a stream: bad data (exit 3) or I/O.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Decrypts an encrypted file of `size` bytes from `r` into `w`, returning
/// the number of plaintext bytes. Nothing unauthenticated reaches `w`: each chunk
/// is checked before it is written (a caller that must not leave partial
/// plaintext writes to a temporary file and removes it on error).
pub fn decrypt<R: Read, W: Write>(
    mut r: R,
    mut w: W,
    media_key: &Key,
    path: &str,
    size: u64,
) -> Result<u64, StreamError> {
    let (_, chunks) = plain_size(size).ok_or(DecryptError::Truncated {
        path: path.to_string(),
        size,
    })?;
    let mut header = [0u8; HEADER_LEN as usize];
    let n = read_full(&mut r, &mut header)?;
    if n < header.len() {
        return Err(DecryptError::Truncated {
            path: path.to_string(),
            size: n as u64,
        }
        .into());
    }
    let params = FileParams::parse(&header, path)?;
    let key = file_key(media_key, &params.salt);
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
    let ad = aad(&header, path);
    let mut written = 0u64;
    let mut buf = vec![0u8; CHUNK + TAG];
    let mut remaining = size - HEADER_LEN;
    for i in 0..chunks {
        let len = remaining.min((CHUNK + TAG) as u64) as usize;
        let got = read_full(&mut r, &mut buf[..len])?;
        if got < len {
            return Err(DecryptError::Truncated {
                path: path.to_string(),
                size: size - remaining + got as u64,
            }
            .into());
        }
        remaining -= len as u64;
        let (body, tag) = buf[..len].split_at_mut(len - TAG);
        let n = nonce(&params.prefix, i, i + 1 == chunks);
        cipher
            .decrypt_in_place_detached(Nonce::from_slice(&n), &ad, body, Tag::from_slice(tag))
            .map_err(|_| DecryptError::Auth {
                path: path.to_string(),
                chunk: i,
            })?;
        w.write_all(body)?;
        written += body.len() as u64;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Zeroizing::new([7u8; 32])
    }

    fn enc(data: &[u8], path: &str, p: FileParams) -> Vec<u8> {
        let mut r = EncryptReader::new(
            Box::new(io::Cursor::new(data.to_vec())),
            &key(),
            p,
            path,
            data.len() as u64,
        );
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, encrypted_size(data.len() as u64));
        out
    }

    #[test]
    fn round_trips_at_chunk_edges() {
        let p = FileParams::random();
        for n in [
            0usize,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK,
            3 * CHUNK + 17,
        ] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            let ct = enc(&data, "SMS/PKG/A/x.bin", p);
            assert_eq!(
                plain_size(ct.len() as u64),
                Some((n as u64, (n as u64).div_ceil(CHUNK as u64).max(1)))
            );
            let mut out = Vec::new();
            let n = decrypt(
                &ct[..],
                &mut out,
                &key(),
                "SMS/PKG/A/x.bin",
                ct.len() as u64,
            )
            .unwrap();
            assert_eq!(out, data);
            assert_eq!(n, data.len() as u64);
        }
    }

    #[test]
    fn tampering_is_detected() {
        let p = FileParams::random();
        let data = vec![42u8; 3 * CHUNK + 5];
        let ct = enc(&data, "a/b", p);
        let dec = |c: &[u8], path: &str| decrypt(c, io::sink(), &key(), path, c.len() as u64);
        // Flipped bit in the body and in the header.
        let mut f = ct.clone();
        f[100] ^= 1;
        assert!(matches!(
            dec(&f, "a/b"),
            Err(StreamError::Decrypt(DecryptError::Auth { chunk: 0, .. }))
        ));
        let mut f = ct.clone();
        f[14] ^= 1;
        assert!(matches!(
            dec(&f, "a/b"),
            Err(StreamError::Decrypt(DecryptError::Auth { .. }))
        ));
        // Moved to another path.
        assert!(matches!(
            dec(&ct, "a/c"),
            Err(StreamError::Decrypt(DecryptError::Auth { .. }))
        ));
        // Truncated at a chunk boundary: the new last chunk was not last.
        let cut = HEADER_LEN as usize + 2 * (CHUNK + TAG);
        assert!(matches!(
            dec(&ct[..cut], "a/b"),
            Err(StreamError::Decrypt(DecryptError::Auth { chunk: 1, .. }))
        ));
        // Truncated inside the header.
        assert!(matches!(
            dec(&ct[..20], "a/b"),
            Err(StreamError::Decrypt(DecryptError::Truncated { .. }))
        ));
        // Swapped chunks.
        let mut s = ct.clone();
        let a = HEADER_LEN as usize;
        let b = a + CHUNK + TAG;
        let first: Vec<u8> = s[a..b].to_vec();
        let second: Vec<u8> = s[b..b + CHUNK + TAG].to_vec();
        s[a..b].copy_from_slice(&second);
        s[b..b + CHUNK + TAG].copy_from_slice(&first);
        assert!(matches!(
            dec(&s, "a/b"),
            Err(StreamError::Decrypt(DecryptError::Auth { chunk: 0, .. }))
        ));
        // The untouched file still opens.
        assert!(dec(&ct, "a/b").is_ok());
    }
}
