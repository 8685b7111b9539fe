//! The product's encrypted settings envelope (`SMS/data/Variables.dat`,
//! `SMS/data/Policy.xml`): a 24-byte header of little-endian u32 values,
//! the CBC ciphertext (all-zero IV, PKCS#7 padding) and an 8-byte tail.
//! The key is CryptoAPI's `CryptDeriveKey(CALG_SHA1)` of the password as
//! UTF-16LE. See docs/configmgr.md for the public sources of every field.

use aes::cipher::{block_padding::Pkcs7, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha1::{Digest, Sha1};

/// First header field.
pub const MAGIC: u32 = 0xECED_0000;
/// Second header field (its meaning is not public; every sample has 20).
pub const HEADER_FIELD: u32 = 20;
pub const HEADER_LEN: usize = 24;
/// Bytes after the ciphertext; readers ignore them.
pub const TAIL_LEN: usize = 8;
/// The password of media created without one (public, see docs/configmgr.md).
pub const DEFAULT_PASSWORD: &str = "{BAC6E688-DE21-4ABE-B7FB-C9F54E6DB664}";
/// Largest envelope the readers accept (the product's files are kilobytes).
pub const MAX_LEN: usize = 64 << 20;

/// CryptoAPI `ALG_ID` of the cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// `CALG_AES_128`, 0x660E.
    Aes128,
    /// `CALG_AES_256`, 0x6610.
    Aes256,
    /// `CALG_3DES`, 0x6603 (older sites; read only).
    TripleDes,
}

impl Alg {
    pub fn id(self) -> u32 {
        match self {
            Alg::Aes128 => 0x660E,
            Alg::Aes256 => 0x6610,
            Alg::TripleDes => 0x6603,
        }
    }

    pub fn from_id(id: u32) -> Option<Alg> {
        match id {
            0x660E => Some(Alg::Aes128),
            0x6610 => Some(Alg::Aes256),
            0x6603 => Some(Alg::TripleDes),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Aes128 => "AES-128",
            Alg::Aes256 => "AES-256",
            Alg::TripleDes => "3DES",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Alg::Aes128 => 16,
            Alg::Aes256 => 32,
            Alg::TripleDes => 24,
        }
    }

    fn block(self) -> usize {
        match self {
            Alg::TripleDes => 8,
            _ => 16,
        }
    }
}

/// Why an envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not an encrypted media file (no 0xECED0000 header)")]
    NotEnvelope,
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("unknown cipher ALG_ID 0x{0:04X}")]
    UnknownAlg(u32),
    #[error("does not decrypt with this password")]
    WrongPassword,
}

/// The header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: u32,
    pub field: u32,
    pub plain_len: u32,
    /// Ciphertext plus tail, as the published sample has it.
    pub data_len: u32,
    pub alg_id: u32,
    pub reserved: u32,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, EnvelopeError> {
        if b.len() < 4 || u32::from_le_bytes([b[0], b[1], b[2], b[3]]) != MAGIC {
            return Err(EnvelopeError::NotEnvelope);
        }
        if b.len() < HEADER_LEN {
            return Err(EnvelopeError::Truncated(format!(
                "{} bytes, the header alone has {HEADER_LEN}",
                b.len()
            )));
        }
        let f = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(Header {
            magic: f(0),
            field: f(4),
            plain_len: f(8),
            data_len: f(12),
            alg_id: f(16),
            reserved: f(20),
        })
    }

    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        for (i, v) in [
            self.magic,
            self.field,
            self.plain_len,
            self.data_len,
            self.alg_id,
            self.reserved,
        ]
        .into_iter()
        .enumerate()
        {
            out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// `CryptDeriveKey(CALG_SHA1)` key material (40 bytes) of a password given
/// as bytes (the product passes the UTF-16LE text without terminator).
pub fn derive_key_bytes(password: &[u8]) -> [u8; 40] {
    let h = Sha1::digest(password);
    let mut out = [0u8; 40];
    for (i, pad) in [0x36u8, 0x5C].into_iter().enumerate() {
        let mut block = [pad; 64];
        for (b, x) in block.iter_mut().zip(h.iter()) {
            *b = x ^ pad;
        }
        out[i * 20..i * 20 + 20].copy_from_slice(&Sha1::digest(block));
    }
    out
}

/// UTF-16LE bytes of a text, without terminator.
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// Key material of a password text.
pub fn derive_key(password: &str) -> [u8; 40] {
    derive_key_bytes(&utf16le(password))
}

/// Encrypts `plain` into an envelope (AES only: the forms the product writes).
pub fn seal(plain: &[u8], password: &str, alg: Alg) -> Vec<u8> {
    let km = derive_key(password);
    let key = &km[..alg.key_len()];
    let ct = match alg {
        Alg::Aes128 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &[0u8; 16])
            .expect("key length")
            .encrypt_padded_vec::<Pkcs7>(plain),
        Alg::Aes256 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &[0u8; 16])
            .expect("key length")
            .encrypt_padded_vec::<Pkcs7>(plain),
        Alg::TripleDes => cbc::Encryptor::<des::TdesEde3>::new_from_slices(key, &[0u8; 8])
            .expect("key length")
            .encrypt_padded_vec::<Pkcs7>(plain),
    };
    let header = Header {
        magic: MAGIC,
        field: HEADER_FIELD,
        plain_len: plain.len() as u32,
        data_len: (ct.len() + TAIL_LEN) as u32,
        alg_id: alg.id(),
        reserved: 0,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len() + TAIL_LEN);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&ct);
    out.extend_from_slice(&[0u8; TAIL_LEN]);
    out
}

/// The cipher of an envelope, from its header alone.
pub fn alg_of(file: &[u8]) -> Result<Alg, EnvelopeError> {
    let h = Header::parse(file)?;
    Alg::from_id(h.alg_id).ok_or(EnvelopeError::UnknownAlg(h.alg_id))
}

/// Decrypts an envelope with a password text.
pub fn open(file: &[u8], password: &str) -> Result<(Alg, Vec<u8>), EnvelopeError> {
    open_with_key(file, &derive_key(password))
}

/// Decrypts an envelope with derived key material. The ciphertext is what
/// lies between header and tail, cut to whole blocks (as the public readers
/// do); the PKCS#7 padding must be valid and the plaintext no longer than
/// the header says, else the password is wrong.
pub fn open_with_key(file: &[u8], km: &[u8; 40]) -> Result<(Alg, Vec<u8>), EnvelopeError> {
    let h = Header::parse(file)?;
    let alg = Alg::from_id(h.alg_id).ok_or(EnvelopeError::UnknownAlg(h.alg_id))?;
    if file.len() > MAX_LEN {
        return Err(EnvelopeError::Truncated(format!(
            "{} bytes is more than an encrypted media file holds",
            file.len()
        )));
    }
    let body = &file[HEADER_LEN..];
    let usable = body.len().saturating_sub(TAIL_LEN);
    let usable = usable - usable % alg.block();
    if usable == 0 {
        return Err(EnvelopeError::Truncated("no ciphertext".into()));
    }
    let ct = &body[..usable];
    let key = &km[..alg.key_len()];
    let r = match alg {
        Alg::Aes128 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, &[0u8; 16])
            .expect("key length")
            .decrypt_padded_vec::<Pkcs7>(ct),
        Alg::Aes256 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, &[0u8; 16])
            .expect("key length")
            .decrypt_padded_vec::<Pkcs7>(ct),
        Alg::TripleDes => cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, &[0u8; 8])
            .expect("key length")
            .decrypt_padded_vec::<Pkcs7>(ct),
    };
    let plain = r.map_err(|_| EnvelopeError::WrongPassword)?;
    // The header's plaintext length must match what the padding left:
    // a wrong key yields valid padding now and then, rarely this length.
    if plain.len() != h.plain_len as usize {
        return Err(EnvelopeError::WrongPassword);
    }
    Ok((alg, plain))
}

/// Decrypts only the first cipher block (for test vectors of a file's start).
pub fn first_block(file_start: &[u8], km: &[u8; 40]) -> Result<Vec<u8>, EnvelopeError> {
    let h = Header::parse(file_start)?;
    let alg = Alg::from_id(h.alg_id).ok_or(EnvelopeError::UnknownAlg(h.alg_id))?;
    let n = alg.block();
    let ct = file_start
        .get(HEADER_LEN..HEADER_LEN + n)
        .ok_or_else(|| EnvelopeError::Truncated("less than one block".into()))?;
    let mut block = ct.to_vec();
    let key = &km[..alg.key_len()];
    match alg {
        Alg::Aes128 => {
            cbc::Decryptor::<aes::Aes128>::new_from_slices(key, &[0u8; 16])
                .expect("key length")
                .decrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut block)
                .map_err(|_| EnvelopeError::WrongPassword)?;
        }
        Alg::Aes256 => {
            cbc::Decryptor::<aes::Aes256>::new_from_slices(key, &[0u8; 16])
                .expect("key length")
                .decrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut block)
                .map_err(|_| EnvelopeError::WrongPassword)?;
        }
        Alg::TripleDes => {
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, &[0u8; 8])
                .expect("key length")
                .decrypt_padded::<aes::cipher::block_padding::NoPadding>(&mut block)
                .map_err(|_| EnvelopeError::WrongPassword)?;
        }
    }
    Ok(block)
}

/// UTF-16LE text (no BOM) followed by a UTF-16 NUL: the plaintext of both files.
pub fn encode_text(xml: &str) -> Vec<u8> {
    let mut b = utf16le(xml);
    b.extend_from_slice(&[0, 0]);
    b
}

/// The text of a decrypted plaintext: UTF-16LE up to the first NUL (a BOM
/// is skipped). None when it is not UTF-16.
pub fn decode_text(plain: &[u8]) -> Option<String> {
    let units: Vec<u16> = plain
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    let s = String::from_utf16(&units).ok()?;
    Some(s.strip_prefix('\u{feff}').unwrap_or(&s).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hashcat module 19850's self-test: password `Password1` and the
    /// first 40 bytes of a real media variables file.
    const VECTOR: &str =
        "0000edec14000000b2320000c03200000e6600000000000011cb54aa3b699f61f86ab312e6fb97ec";

    #[test]
    fn public_vector_aes128() {
        let km = derive_key("Password1");
        assert_eq!(hex::encode(&km[..16]), "472b14c830bccddc2b57c2f91682e0b3");
        let file = hex::decode(VECTOR).unwrap();
        let h = Header::parse(&file).unwrap();
        assert_eq!((h.magic, h.field, h.alg_id), (MAGIC, 20, 0x660E));
        assert_eq!(h.plain_len, 0x32b2);
        let block = first_block(&file, &km).unwrap();
        assert_eq!(decode_text(&block).unwrap(), "<?xml ve");
    }

    #[test]
    fn public_vector_aes256_key_is_the_whole_material_prefix() {
        // The same derivation gives AES-256 its first 32 bytes; the first
        // 16 are the AES-128 key of the vector.
        let km = derive_key("Password1");
        assert_eq!(hex::encode(&km[..16]), "472b14c830bccddc2b57c2f91682e0b3");
        // The AES-256 key, as Python's hashlib computes the same derivation.
        assert_eq!(
            hex::encode(&km[..32]),
            "472b14c830bccddc2b57c2f91682e0b39dae488fb213c24bb88985b1af61f433"
        );
        let sealed = seal(&encode_text("<?xml version"), "Password1", Alg::Aes256);
        assert_eq!(alg_of(&sealed).unwrap(), Alg::Aes256);
        let first = first_block(&sealed, &km).unwrap();
        assert_eq!(decode_text(&first).unwrap(), "<?xml ve");
        // A different key does not open it.
        assert_eq!(
            open(&sealed, "Password2").unwrap_err(),
            EnvelopeError::WrongPassword
        );
    }

    #[test]
    fn round_trips_every_cipher_and_rejects_wrong_passwords() {
        for alg in [Alg::Aes128, Alg::Aes256, Alg::TripleDes] {
            for n in [0usize, 1, 15, 16, 17, 1000] {
                let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
                let f = seal(&plain, DEFAULT_PASSWORD, alg);
                let h = Header::parse(&f).unwrap();
                assert_eq!(h.plain_len as usize, n);
                assert_eq!(h.data_len as usize, f.len() - HEADER_LEN);
                let (a, p) = open(&f, DEFAULT_PASSWORD).unwrap();
                assert_eq!((a, p), (alg, plain));
                assert!(open(&f, "not the password").is_err(), "{alg:?} {n}");
            }
        }
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(open(b"", "x").unwrap_err(), EnvelopeError::NotEnvelope);
        assert_eq!(
            open(&[0, 0, 0xed, 0xec], "x").unwrap_err(),
            EnvelopeError::Truncated("4 bytes, the header alone has 24".into())
        );
        let mut f = seal(b"abc", "x", Alg::Aes128);
        f[16] = 0x99;
        assert_eq!(
            open(&f, "x").unwrap_err(),
            EnvelopeError::UnknownAlg(0x6699)
        );
    }

    #[test]
    fn text_encoding() {
        let b = encode_text("<a/>");
        assert_eq!(b.len(), 10);
        assert_eq!(decode_text(&b).unwrap(), "<a/>");
    }
}
