//! Positioned reads and writes on a disk (a device, an image file, or a
//! buffer in tests), and a buffered sequential writer on top.

use std::io::{self, Write};

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

/// Collects sequential writes into large positioned writes.
pub struct SeqWriter<'a, D: BlockIo + ?Sized> {
    dev: &'a mut D,
    /// Offset of `buf[0]`.
    pos: u64,
    buf: Vec<u8>,
}

const CHUNK: usize = 4 << 20;

impl<'a, D: BlockIo + ?Sized> SeqWriter<'a, D> {
    pub fn new(dev: &'a mut D, offset: u64) -> Self {
        SeqWriter {
            dev,
            pos: offset,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    /// Where the next byte goes.
    pub fn position(&self) -> u64 {
        self.pos + self.buf.len() as u64
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
            let room = (CHUNK - self.buf.len()).max(1) as u64;
            let n = left.min(room) as usize;
            self.buf.resize(self.buf.len() + n, 0);
            left -= n as u64;
            if self.buf.len() >= CHUNK {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.dev.write_all_at(&self.buf, self.pos)?;
            self.pos += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flushes and gives the device back.
    pub fn finish(mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl<D: BlockIo + ?Sized> Write for SeqWriter<'_, D> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.is_empty() && data.len() >= CHUNK {
            self.dev.write_all_at(data, self.pos)?;
            self.pos += data.len() as u64;
            return Ok(data.len());
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()
    }
}

impl<D: BlockIo + ?Sized> Drop for SeqWriter<'_, D> {
    fn drop(&mut self) {
        // Errors surface through finish(); a drop without it (an error path)
        // has nothing more to write.
        self.buf.clear();
    }
}
