//! Where an image's bytes come from, and bounded reads of its metadata.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::PathBuf;

use super::descriptors::SECTOR_U64;
use super::ReadError;
use crate::read::extent::ReadSeek;

/// The bytes of an image: a file (opened again for each reader, so readers
/// are independent) or a buffer.
pub enum Backing {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Backing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backing::File(p) => write!(f, "File({})", p.display()),
            Backing::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl Backing {
    pub fn reader(&self) -> std::io::Result<Box<dyn ReadSeek + '_>> {
        Ok(match self {
            Backing::File(p) => Box::new(File::open(p)?),
            Backing::Bytes(b) => Box::new(Cursor::new(&b[..])),
        })
    }

    pub fn len(&self) -> std::io::Result<u64> {
        Ok(match self {
            Backing::File(p) => std::fs::metadata(p)?.len(),
            Backing::Bytes(b) => b.len() as u64,
        })
    }
}

/// Upper bound of the metadata bytes read while opening one image: a
/// corrupt image cannot make opening it take unbounded time.
pub const METADATA_BUDGET: u64 = 1 << 30;

/// Bounded reads of an image's metadata.
pub struct Disk<'a> {
    r: Box<dyn ReadSeek + 'a>,
    pub len: u64,
    budget: u64,
}

impl<'a> Disk<'a> {
    pub fn new(r: Box<dyn ReadSeek + 'a>, len: u64) -> Self {
        Disk {
            r,
            len,
            budget: METADATA_BUDGET,
        }
    }

    /// Whole sectors in the image.
    pub fn sectors(&self) -> u64 {
        self.len / SECTOR_U64
    }

    /// Reads `len` bytes at `off`. A range past the end of the image is a
    /// `Corrupt` error.
    pub fn read_vec(&mut self, off: u64, len: usize) -> Result<Vec<u8>, ReadError> {
        let end = off.checked_add(len as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(ReadError::Corrupt {
                what: format!(
                    "{len} bytes at byte {off} run past the end of the image ({} bytes)",
                    self.len
                ),
            });
        }
        if len as u64 > self.budget {
            return Err(ReadError::Corrupt {
                what: format!(
                    "the image's metadata needs more than {METADATA_BUDGET} bytes to be read"
                ),
            });
        }
        self.budget -= len as u64;
        let mut v = vec![0u8; len];
        self.r.seek(SeekFrom::Start(off))?;
        self.r.read_exact(&mut v)?;
        Ok(v)
    }

    pub fn sector(&mut self, lba: u64) -> Result<Vec<u8>, ReadError> {
        let off = lba
            .checked_mul(SECTOR_U64)
            .ok_or_else(|| ReadError::Corrupt {
                what: format!("sector {lba} is out of range"),
            })?;
        self.read_vec(off, SECTOR_U64 as usize)
    }
}
