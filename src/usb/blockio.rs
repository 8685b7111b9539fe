//! Positioned reads and writes on a disk (a device, an image file, or a
//! buffer in tests), and a buffered sequential writer on top.

use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};

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
/// Chunks queued for the writer thread at most.
const QUEUE: usize = 3;

type Job = (u64, Vec<u8>, usize);

/// Sequential writes, collected into large positioned writes that a second
/// thread performs: reading and hashing the next data overlaps with writing
/// the last. Created by [`with_seq_writer`].
pub struct SeqWriter {
    /// Offset of `buf[0]`.
    pos: u64,
    /// Always CHUNK bytes long (initialised once, reused); `fill` are data.
    buf: Vec<u8>,
    fill: usize,
    tx: Option<SyncSender<Job>>,
    spare: Receiver<Vec<u8>>,
}

/// Runs `f` with a [`SeqWriter`] that starts at `offset` of `dev`, then waits
/// for every write. An error of the writer thread wins over `f`'s (it is the
/// cause).
pub fn with_seq_writer<D, R>(
    dev: &mut D,
    offset: u64,
    f: impl FnOnce(&mut SeqWriter) -> anyhow::Result<R>,
) -> anyhow::Result<R>
where
    D: BlockIo + Send + ?Sized,
{
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let (back_tx, back_rx) = channel::<Vec<u8>>();
        let writer = s.spawn(move || -> io::Result<()> {
            for (at, buf, fill) in rx {
                dev.write_all_at(&buf[..fill], at)?;
                let _ = back_tx.send(buf);
            }
            Ok(())
        });
        let mut w = SeqWriter {
            pos: offset,
            buf: vec![0u8; CHUNK],
            fill: 0,
            tx: Some(tx),
            spare: back_rx,
        };
        let r = f(&mut w).and_then(|v| {
            w.flush_buf()?;
            Ok(v)
        });
        w.tx = None;
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
            self.buf[self.fill..self.fill + n].fill(0);
            self.fill += n;
            left -= n as u64;
        }
        Ok(())
    }

    /// Reads up to `max` bytes from `r` straight into the buffer and returns
    /// them (empty at the end of `r`).
    pub fn read_from(&mut self, r: &mut dyn Read, max: usize) -> io::Result<&[u8]> {
        if self.fill == CHUNK {
            self.flush_buf()?;
        }
        let room = (CHUNK - self.fill).min(max);
        let start = self.fill;
        let n = loop {
            match r.read(&mut self.buf[start..start + room]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.fill += n;
        Ok(&self.buf[start..start + n])
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.fill == 0 {
            return Ok(());
        }
        let next = match self.spare.try_recv() {
            Ok(b) => b,
            Err(_) => vec![0u8; CHUNK],
        };
        let full = std::mem::replace(&mut self.buf, next);
        let job = (self.pos, full, self.fill);
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
        self.buf[self.fill..self.fill + n].copy_from_slice(&data[..n]);
        self.fill += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}
