//! The streaming pass: every sector of a volume written once, in ascending
//! order, hashed as it goes. File data is copied in 1 MiB chunks (never a
//! whole file in memory); runs of zeros in file data become holes in the
//! output, so sparse sources stay sparse.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::layout::{Layout, Part};
use super::SECTOR;
use crate::io::{cancel, Progress, SourceChanged, BUF_SIZE};

/// Metadata is gathered up to this size before it is written.
const META_BUF: usize = 1 << 20;
static ZEROS: [u8; 64 * 1024] = [0u8; 64 * 1024];

/// The output file of one volume, with the SHA-256 of everything written.
pub struct Sink {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    /// Bytes of the image so far (written, buffered or holes).
    pos: u64,
    buf: Vec<u8>,
}

impl Sink {
    pub fn create(path: &Path) -> Result<Sink> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(Sink {
            file,
            path: path.to_path_buf(),
            hasher: Sha256::new(),
            pos: 0,
            buf: Vec::with_capacity(META_BUF),
        })
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            let at = self.pos - self.buf.len() as u64;
            self.file
                .write_all_at(&self.buf, at)
                .with_context(|| format!("writing {}", self.path.display()))?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Appends bytes (metadata, small pieces).
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.hasher.update(b);
        self.buf.extend_from_slice(b);
        self.pos += b.len() as u64;
        if self.buf.len() >= META_BUF {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a chunk of file data; a chunk of zeros becomes a hole.
    fn put_data(&mut self, b: &[u8]) -> Result<()> {
        if b.len() < 64 * 1024 {
            return self.put(b);
        }
        self.flush()?;
        self.hasher.update(b);
        if !is_zero(b) {
            self.file
                .write_all_at(b, self.pos)
                .with_context(|| format!("writing {}", self.path.display()))?;
        }
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Appends `n` zero bytes as a hole.
    fn zeros(&mut self, n: u64) -> Result<()> {
        if n < META_BUF as u64 {
            let mut left = n as usize;
            while left > 0 {
                let k = left.min(ZEROS.len());
                self.put(&ZEROS[..k])?;
                left -= k;
            }
            return Ok(());
        }
        self.flush()?;
        let mut left = n;
        while left > 0 {
            let k = left.min(ZEROS.len() as u64) as usize;
            self.hasher.update(&ZEROS[..k]);
            left -= k as u64;
        }
        self.pos += n;
        Ok(())
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Writes what is buffered, sizes the file (a trailing hole) and returns
    /// the image's SHA-256 and size.
    pub fn finish(mut self) -> Result<([u8; 32], u64)> {
        self.flush()?;
        self.file
            .set_len(self.pos)
            .and_then(|_| self.file.sync_all())
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok((self.hasher.finalize().into(), self.pos))
    }
}

fn is_zero(b: &[u8]) -> bool {
    // SAFETY: every bit pattern is a valid u128.
    let (pre, mid, post) = unsafe { b.align_to::<u128>() };
    pre.iter().all(|&x| x == 0) && post.iter().all(|&x| x == 0) && mid.iter().all(|&x| x == 0)
}

/// Where file data comes from: opens content `source` (an index the caller
/// gave the layout's blobs) and names it for errors.
pub trait Sources {
    fn open(&self, source: usize) -> Result<Box<dyn Read + Send>>;
    fn describe(&self, source: usize) -> String;
    /// Called with the SHA-256 of content `source` once copied.
    fn copied(&self, source: usize, sha256: [u8; 32]) -> Result<()>;
}

/// A volume written up to (not including) part `next`.
pub struct Suspended {
    pub sink: Sink,
    pub next: usize,
}

/// Copies `size` bytes of `r` into the sink, hashing them; fails when the
/// source is shorter or longer than planned.
fn copy_data(
    sink: &mut Sink,
    mut r: impl Read,
    size: u64,
    progress: &Progress,
    buf: &mut [u8],
) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut done = 0u64;
    loop {
        cancel::check()?;
        // Fill the buffer as far as possible so chunks stay large.
        let mut n = 0;
        while n < buf.len() {
            match r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if n == 0 {
            break;
        }
        done += n as u64;
        if done > size {
            return Err(SourceChanged {
                expected: size,
                got: done,
                how: "grew".into(),
            }
            .into());
        }
        h.update(&buf[..n]);
        sink.put_data(&buf[..n])?;
        progress.inc(n as u64);
        if n < buf.len() {
            break;
        }
    }
    if done != size {
        return Err(SourceChanged {
            expected: size,
            got: done,
            how: "shrank".into(),
        }
        .into());
    }
    let pad = (SECTOR as u64 - size % SECTOR as u64) % SECTOR as u64;
    sink.zeros(pad)?;
    Ok(h.finalize().into())
}

/// Writes parts `from..` of `layout` until part `stop` (exclusive), reading
/// file data from `sources`.
pub fn write_parts(
    layout: &Layout,
    mut sink: Sink,
    from: usize,
    stop: usize,
    sources: &dyn Sources,
    progress: &Progress,
) -> Result<Suspended> {
    let mut buf = vec![0u8; BUF_SIZE];
    for (i, &(sector, part)) in layout.parts().iter().enumerate().take(stop).skip(from) {
        cancel::check()?;
        debug_assert_eq!(
            sink.position(),
            sector * SECTOR as u64,
            "part {i} ({part:?}) starts where planned"
        );
        match part {
            Part::Zeros(n) => sink.zeros(n * SECTOR as u64)?,
            Part::Data(b) => {
                let blob = &layout.blobs()[b];
                let r = sources.open(blob.source)?;
                let h = copy_data(&mut sink, r, blob.size, progress, &mut buf)
                    .with_context(|| format!("copying {}", sources.describe(blob.source)))?;
                sources.copied(blob.source, h)?;
            }
            other => sink.put(&layout.render(other))?,
        }
    }
    Ok(Suspended { sink, next: stop })
}

/// Index of the part holding blob `b`'s data, or the number of parts.
pub fn part_of_blob(layout: &Layout, b: usize) -> usize {
    layout
        .parts()
        .iter()
        .position(|&(_, p)| p == Part::Data(b))
        .unwrap_or(layout.parts().len())
}
