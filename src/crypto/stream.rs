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

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{random, DecryptError, Key};
use crate::io::read_full;

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

/// Chunks read and encrypted together (1 MiB of plaintext).
const BATCH: usize = 16;

type Batch = io::Result<Vec<u8>>;

/// Encrypts, in place, a batch laid out by [`read_batch`] whose first
/// chunk is chunk `first` of `chunks`: each chunk's plaintext followed by
/// room for its tag.
fn seal_batch(
    cipher: &Aes256Gcm,
    prefix: &[u8; 7],
    ad: &[u8],
    first: u64,
    chunks: u64,
    buf: &mut [u8],
) {
    let mut at = 0;
    let mut i = first;
    // An empty file is one empty chunk: just a tag.
    while at < buf.len() {
        let len = (buf.len() - at - TAG).min(CHUNK);
        let n = nonce(prefix, i, i + 1 == chunks);
        let (piece, rest) = buf[at..].split_at_mut(len);
        let tag: Tag = cipher
            .encrypt_inout_detached(&Nonce::from(n), ad, piece.into())
            .expect("a 64 KiB chunk always encrypts");
        rest[..TAG].copy_from_slice(&tag);
        at += len + TAG;
        i += 1;
    }
}

/// Batch buffers kept for reuse: a fresh buffer of this size is mapped anew
/// by the allocator, and the kernel clears each of its pages on first touch.
static SPARE: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const SPARE_MAX: usize = 8;

/// An empty buffer with room for `cap` bytes, reused when one is spare.
fn take_buffer(cap: usize) -> Vec<u8> {
    let spare = SPARE.lock().ok().and_then(|mut s| s.pop());
    let mut v = spare.unwrap_or_default();
    v.clear();
    v.reserve(cap);
    v
}

/// Keeps a batch buffer (it holds ciphertext) for [`take_buffer`].
fn give_back(v: Vec<u8>) {
    if let Ok(mut s) = SPARE.lock() {
        if s.len() < SPARE_MAX && v.capacity() >= CHUNK {
            s.push(v);
        }
    }
}

/// Reads the plaintext of batch `b` (of `batches`) of a file of `plain_len`
/// bytes into a buffer that leaves room for each chunk's tag after it, and
/// after the last batch checks that the source ends there.
fn read_batch(inner: &mut dyn Read, b: u64, batches: u64, plain_len: u64) -> io::Result<Vec<u8>> {
    let size = (BATCH * CHUNK) as u64;
    let want = (plain_len - b * size).min(size);
    let pieces = want.div_ceil(CHUNK as u64).max(1);
    let mut buf = take_buffer(want as usize + pieces as usize * TAG);
    let mut left = want;
    for _ in 0..pieces {
        let len = left.min(CHUNK as u64);
        let before = buf.len();
        inner.take(len).read_to_end(&mut buf)?;
        let got = (buf.len() - before) as u64;
        if got < len {
            return Err(io::Error::other(crate::io::SourceChanged {
                expected: plain_len,
                got: b * size + (want - left) + got,
                how: "shrank".into(),
            }));
        }
        buf.extend_from_slice(&[0u8; TAG]);
        left -= len;
    }
    if b + 1 == batches {
        let mut probe = [0u8; 1];
        if read_full(inner, &mut probe)? > 0 {
            return Err(io::Error::other(crate::io::SourceChanged {
                expected: plain_len,
                got: plain_len + 1,
                how: "grew".into(),
            }));
        }
    }
    Ok(buf)
}

/// A reader of ciphertext: reads plaintext from `inner` and encrypts it on
/// other threads, so encryption overlaps the writer's I/O and hashing. A
/// file of more than one batch is read on one thread and encrypted on two,
/// batches alternating (chunks are independent); the reader takes the
/// results back in order.
pub struct EncryptReader {
    /// Encrypted batches, from each worker in turn.
    rxs: Vec<Receiver<Batch>>,
    next: u64,
    batches: u64,
    cur: Vec<u8>,
    pos: usize,
    workers: Vec<JoinHandle<()>>,
}

impl EncryptReader {
    pub fn new(
        mut inner: Box<dyn Read + Send>,
        media_key: &Key,
        params: FileParams,
        path: &str,
        plain_len: u64,
    ) -> EncryptReader {
        let key = file_key(media_key, &params.salt);
        let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("32-byte key");
        drop(key);
        let header = params.header();
        let ad = aad(&header, path);
        let chunks = plain_len.div_ceil(CHUNK as u64).max(1);
        let batches = plain_len.div_ceil((BATCH * CHUNK) as u64).max(1);
        let prefix = params.prefix;
        let mut rxs = Vec::new();
        let mut workers = Vec::new();
        if batches == 1 {
            // One thread reads and encrypts.
            let (tx, rx) = sync_channel::<Batch>(1);
            workers.push(std::thread::spawn(move || {
                let r = read_batch(&mut *inner, 0, 1, plain_len).map(|mut b| {
                    seal_batch(&cipher, &prefix, &ad, 0, chunks, &mut b);
                    b
                });
                let _ = tx.send(r);
            }));
            rxs.push(rx);
        } else {
            // One thread reads; two encrypt alternate batches.
            let mut feeds = Vec::new();
            for _ in 0..2 {
                let (ftx, frx) = sync_channel::<(u64, Batch)>(2);
                let (tx, rx) = sync_channel::<Batch>(2);
                let (cipher, ad) = (cipher.clone(), ad.clone());
                workers.push(std::thread::spawn(move || {
                    for (b, plain) in frx {
                        let first = b * BATCH as u64;
                        let r = plain.map(|mut b| {
                            seal_batch(&cipher, &prefix, &ad, first, chunks, &mut b);
                            b
                        });
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            return;
                        }
                    }
                }));
                feeds.push(ftx);
                rxs.push(rx);
            }
            workers.push(std::thread::spawn(move || {
                for b in 0..batches {
                    let r = read_batch(&mut *inner, b, batches, plain_len);
                    let failed = r.is_err();
                    if feeds[(b % 2) as usize].send((b, r)).is_err() || failed {
                        return;
                    }
                }
            }));
        }
        EncryptReader {
            rxs,
            next: 0,
            batches,
            cur: header.to_vec(),
            pos: 0,
            workers,
        }
    }
}

impl Read for EncryptReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.next == self.batches {
                for w in self.workers.drain(..) {
                    if w.join().is_err() {
                        return Err(io::Error::other("an encryption thread failed"));
                    }
                }
                return Ok(0);
            }
            let rx = &self.rxs[(self.next % self.rxs.len() as u64) as usize];
            match rx.recv() {
                Ok(Ok(v)) => {
                    give_back(std::mem::replace(&mut self.cur, v));
                    self.pos = 0;
                    self.next += 1;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("an encryption thread stopped")),
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
            .decrypt_inout_detached(
                &Nonce::from(n),
                &ad,
                body.into(),
                &Tag::try_from(&*tag).expect("a 16-byte tag"),
            )
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
    fn two_threads_give_the_bytes_of_one() {
        let p = FileParams::random();
        let n = 4 * BATCH * CHUNK + 1000;
        let data: Vec<u8> = (0..n).map(|i| (i * 7 % 253) as u8).collect();
        let ct = enc(&data, "a/b", p);
        let cipher = Aes256Gcm::new_from_slice(file_key(&key(), &p.salt).as_ref()).unwrap();
        let header = p.header();
        let chunks = (n as u64).div_ceil(CHUNK as u64);
        let mut one = Vec::new();
        for piece in data.chunks(CHUNK) {
            one.extend_from_slice(piece);
            one.extend_from_slice(&[0u8; TAG]);
        }
        seal_batch(
            &cipher,
            &p.prefix,
            &aad(&header, "a/b"),
            0,
            chunks,
            &mut one,
        );
        assert!(ct[..HEADER_LEN as usize] == header[..]);
        assert!(ct[HEADER_LEN as usize..] == one[..]);
    }

    #[test]
    fn a_source_of_several_batches_that_changes_is_an_error() {
        let n = 3 * BATCH * CHUNK;
        for (have, how) in [(n - 10, "shrank"), (n + 1, "grew")] {
            let mut r = EncryptReader::new(
                Box::new(io::Cursor::new(vec![1u8; have])),
                &key(),
                FileParams::random(),
                "x",
                n as u64,
            );
            let e = r.read_to_end(&mut Vec::new()).unwrap_err();
            assert!(e.to_string().contains(how), "{e}");
        }
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
            // Several batches, encrypted on two threads.
            BATCH * CHUNK,
            BATCH * CHUNK + 1,
            3 * BATCH * CHUNK + 5 * CHUNK + 3,
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
