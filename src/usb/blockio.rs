//! Positioned reads and writes on a disk (a device, an image file, or a
//! buffer in tests), and a buffered sequential writer on top.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::io::direct::{AlignedBuf, DirectFile};

/// A disk addressed by byte offset.
pub trait BlockIo {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl BlockIo for std::fs::File {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, offset)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl BlockIo for DirectFile {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        DirectFile::write_all_at(self, buf, offset)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self.file(), buf, offset)
    }
}

/// An in-memory disk that grows as it is written (tests).
impl BlockIo for Vec<u8> {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let end = offset as usize + buf.len();
        if self.len() < end {
            self.resize(end, 0);
        }
        self[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset as usize + buf.len();
        if end > self.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.copy_from_slice(&self[offset as usize..end]);
        Ok(())
    }
}

/// Size of one write handed to the writer thread.
pub const CHUNK: usize = 4 << 20;
/// Buffers queued for each helper thread at most.
const QUEUE: usize = 3;

/// Aligned, so the writer's direct writes can take it as it is.
type Buf = Arc<AlignedBuf>;

struct WriteJob {
    at: u64,
    buf: Buf,
    fill: usize,
}

/// Bytes `start..end` of a buffer belong to file `file`; `last` ends it.
struct Segment {
    file: usize,
    start: usize,
    end: usize,
    last: bool,
}

struct HashJob {
    buf: Buf,
    segments: Vec<Segment>,
}

/// SHA-256 of each file, by the index given to [`SeqWriter::begin_file`].
pub type Digests = HashMap<usize, [u8; 32]>;

/// Sequential writes, collected into large positioned writes. Two helper
/// threads take each full buffer: one writes it, one hashes the files in it,
/// so reading, hashing and writing overlap. Created by [`with_seq_writer`].
pub struct SeqWriter {
    /// Offset of `buf[0]`.
    pos: u64,
    /// Always CHUNK bytes long, and not shared while being filled.
    buf: Buf,
    fill: usize,
    /// Buffers handed out before, reused once the helpers are done with them.
    pool: Vec<Buf>,
    tx: Option<SyncSender<WriteJob>>,
    htx: Option<SyncSender<HashJob>>,
    digests_rx: Receiver<(usize, [u8; 32])>,
    segments: Vec<Segment>,
    /// The file being written and where its data starts in `buf`.
    current: Option<(usize, usize)>,
    /// Files ended whose digest has not come back yet.
    pending: usize,
    digests: Digests,
}

/// Runs `f` with a [`SeqWriter`] that starts at `offset` of `dev`, waits for
/// every write, and returns `f`'s result with the digest of every file
/// written between `begin_file` and `end_file`. An error of the writing
/// thread wins over `f`'s (it is the cause).
pub fn with_seq_writer<D, R>(
    dev: &mut D,
    offset: u64,
    f: impl FnOnce(&mut SeqWriter) -> anyhow::Result<R>,
) -> anyhow::Result<(R, Digests)>
where
    D: BlockIo + Send + ?Sized,
{
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<WriteJob>(QUEUE);
        let (htx, hrx) = sync_channel::<HashJob>(QUEUE);
        let (dtx, drx) = channel::<(usize, [u8; 32])>();
        let writer = s.spawn(move || -> io::Result<()> {
            for job in rx {
                dev.write_all_at(&job.buf[..job.fill], job.at)?;
            }
            Ok(())
        });
        s.spawn(move || {
            let mut states: HashMap<usize, Sha256> = HashMap::new();
            for job in hrx {
                for seg in job.segments {
                    let st = states.entry(seg.file).or_default();
                    st.update(&job.buf[seg.start..seg.end]);
                    if seg.last {
                        let d = states.remove(&seg.file).unwrap_or_default().finalize();
                        let _ = dtx.send((seg.file, d.into()));
                    }
                }
            }
        });
        let mut w = SeqWriter {
            pos: offset,
            buf: Arc::new(AlignedBuf::zeroed(CHUNK)),
            fill: 0,
            pool: Vec::new(),
            tx: Some(tx),
            htx: Some(htx),
            digests_rx: drx,
            segments: Vec::new(),
            current: None,
            pending: 0,
            digests: HashMap::new(),
        };
        let r = f(&mut w).and_then(|v| {
            let d = w.all_digests()?;
            Ok((v, d))
        });
        w.tx = None;
        w.htx = None;
        let wr = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")));
        match (r, wr) {
            (_, Err(e)) => Err(anyhow::Error::new(e)),
            (r, Ok(())) => r,
        }
    })
}

impl SeqWriter {
    /// Where the next byte goes.
    pub fn position(&self) -> u64 {
        self.pos + self.fill as u64
    }

    fn data(&mut self) -> &mut [u8] {
        Arc::get_mut(&mut self.buf).expect("the buffer being filled is not shared")
    }

    /// Moves to `offset` (flushing first unless it is the current position).
    pub fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        if offset != self.position() {
            self.flush_buf()?;
            self.pos = offset;
        }
        Ok(())
    }

    /// Writes zeros up to `offset` (which must not lie behind).
    pub fn zero_to(&mut self, offset: u64) -> io::Result<()> {
        let mut left = offset
            .checked_sub(self.position())
            .ok_or_else(|| io::Error::other("zero_to: offset is behind the position"))?;
        while left > 0 {
            if self.fill == CHUNK {
                self.flush_buf()?;
            }
            let n = left.min((CHUNK - self.fill) as u64) as usize;
            let fill = self.fill;
            self.data()[fill..fill + n].fill(0);
            self.fill += n;
            left -= n as u64;
        }
        Ok(())
    }

    /// Data written from now until [`SeqWriter::end_file`] is file `file`,
    /// whose SHA-256 is computed on the hashing thread.
    pub fn begin_file(&mut self, file: usize) {
        self.current = Some((file, self.fill));
    }

    /// Ends the file begun last.
    pub fn end_file(&mut self) {
        if let Some((file, start)) = self.current.take() {
            self.segments.push(Segment {
                file,
                start,
                end: self.fill,
                last: true,
            });
            self.pending += 1;
        }
    }

    /// Waits for the digest of every file ended so far.
    pub fn all_digests(&mut self) -> io::Result<Digests> {
        self.flush_buf()?;
        if !self.segments.is_empty() {
            self.send_hashes()?;
        }
        while self.pending > 0 {
            let (i, d) = self
                .digests_rx
                .recv()
                .map_err(|_| io::Error::other("the hashing thread stopped"))?;
            self.digests.insert(i, d);
            self.pending -= 1;
        }
        Ok(self.digests.clone())
    }

    /// Reads up to `max` bytes from `r` straight into the buffer and returns
    /// how many (0 at the end of `r`).
    pub fn read_from(&mut self, r: &mut dyn Read, max: usize) -> io::Result<usize> {
        if self.fill == CHUNK {
            self.flush_buf()?;
        }
        let room = (CHUNK - self.fill).min(max);
        let start = self.fill;
        let n = loop {
            match r.read(&mut self.data()[start..start + room]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.fill += n;
        Ok(n)
    }

    fn send_hashes(&mut self) -> io::Result<()> {
        let job = HashJob {
            buf: Arc::clone(&self.buf),
            segments: std::mem::take(&mut self.segments),
        };
        self.htx
            .as_ref()
            .ok_or_else(|| io::Error::other("the writer has finished"))?
            .send(job)
            .map_err(|_| io::Error::other("the hashing thread stopped"))
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.fill == 0 {
            return Ok(());
        }
        if let Some((file, start)) = self.current {
            self.segments.push(Segment {
                file,
                start,
                end: self.fill,
                last: false,
            });
            self.current = Some((file, 0));
        }
        if !self.segments.is_empty() {
            self.send_hashes()?;
        }
        let next = match self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            Some(i) => self.pool.swap_remove(i),
            None => Arc::new(AlignedBuf::zeroed(CHUNK)),
        };
        let full = std::mem::replace(&mut self.buf, next);
        let job = WriteJob {
            at: self.pos,
            buf: Arc::clone(&full),
            fill: self.fill,
        };
        self.pool.push(full);
        self.pos += self.fill as u64;
        self.fill = 0;
        self.tx
            .as_ref()
            .ok_or_else(|| io::Error::other("the writer has finished"))?
            .send(job)
            .map_err(|_| io::Error::other("the writer thread stopped"))
    }
}

impl Write for SeqWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.fill == CHUNK {
            self.flush_buf()?;
        }
        let n = data.len().min(CHUNK - self.fill);
        let fill = self.fill;
        self.data()[fill..fill + n].copy_from_slice(&data[..n]);
        self.fill += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}
