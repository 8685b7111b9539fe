//! Small `Read`/`Write` adapters stacked where files are copied: hashing,
//! progress, exact-length checks, and cancellation on SIGINT/SIGTERM.

pub mod cancel;
pub mod direct;
pub mod hash;
pub mod progress;

use std::io::{self, Read, Write};

pub use hash::HashingReader;
pub use progress::Progress;

/// Buffer size used for every streamed copy.
pub const BUF_SIZE: usize = 1 << 20;

/// Reads until `buf` is full or the source ends; returns the bytes read
/// (fewer than `buf.len()` only at the end of the source).
pub fn read_full<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
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

/// Copies exactly `expected` bytes from `r` to `w`, hashing them. Fails when
/// the source turns out shorter or longer than planned (it changed during
/// the build), or when the build is interrupted.
pub fn copy_exact<R: Read, W: Write + ?Sized>(
    r: R,
    w: &mut W,
    expected: u64,
    progress: &Progress,
) -> io::Result<[u8; 32]> {
    let mut hr = HashingReader::new(r);
    let mut buf = vec![0u8; BUF_SIZE.min(expected.max(4096) as usize + 1)];
    let mut done: u64 = 0;
    loop {
        cancel::check()?;
        let n = match hr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        done += n as u64;
        if done > expected {
            return Err(changed(expected, done, "grew"));
        }
        w.write_all(&buf[..n])?;
        progress.inc(n as u64);
    }
    if done != expected {
        return Err(changed(expected, done, "shrank"));
    }
    Ok(hr.finish())
}

fn changed(expected: u64, got: u64, how: &str) -> io::Error {
    io::Error::other(SourceChanged {
        expected,
        got,
        how: how.to_string(),
    })
}

/// A source file whose length differs from the plan: it changed during the build.
#[derive(Debug, thiserror::Error)]
#[error("the file {how} while it was being copied (planned {expected} bytes, read {got}); it changed during the build, so the medium would not match its manifest: run the build again once the source is stable")]
pub struct SourceChanged {
    pub expected: u64,
    pub got: u64,
    pub how: String,
}

/// A writer that only counts the bytes written to it.
#[derive(Debug, Default)]
pub struct CountingSink(pub u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
