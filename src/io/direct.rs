//! Writes that bypass the page cache where they can.
//!
//! A medium is written once and not read back by this process (except to
//! verify a device), so copying every byte into the page cache only to have
//! the kernel write it out later costs a second copy and leaves gigabytes
//! of dirty memory behind. [`DirectFile`] sends the 4 KiB-aligned part of
//! each write through a second descriptor opened with `O_DIRECT` (the
//! device reads straight from our buffer) and the unaligned edges through
//! the ordinary descriptor. Where `O_DIRECT` is refused (some file
//! systems), every write goes through the page cache as before.
//!
//! [`AlignedBuf`] gives buffers whose address meets `O_DIRECT`'s alignment.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::File;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

/// Alignment of direct writes: address, offset and length. 4 KiB covers
/// disks with 512-byte and with 4 KiB logical sectors.
pub const ALIGN: usize = 4096;

/// A zero-filled byte buffer aligned to [`ALIGN`].
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation like a Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out `&[u8]`.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// A buffer of `len` zero bytes (`len` > 0).
    pub fn zeroed(len: usize) -> AlignedBuf {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, len }
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len.max(1), ALIGN).expect("a valid buffer layout")
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes live at `ptr` for as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// A file (or block device) written at offsets, aligned parts directly.
/// Writes at different offsets may run from several threads at once.
pub struct DirectFile {
    file: File,
    direct: Option<File>,
    /// Set when the file system refused a direct write.
    refused: AtomicBool,
}

impl DirectFile {
    /// Wraps `file`, which must be open for writing. A second descriptor
    /// with `O_DIRECT` is opened on the same file through `/proc/self/fd`;
    /// when that fails, or `TSMEDIA_NO_DIRECT_IO` is set, writes are
    /// ordinary ones.
    pub fn new(file: File) -> DirectFile {
        let direct = if std::env::var_os("TSMEDIA_NO_DIRECT_IO").is_some() {
            None
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
                .ok()
        };
        DirectFile {
            file,
            direct,
            refused: AtomicBool::new(false),
        }
    }

    /// Whether aligned writes bypass the page cache.
    fn is_direct(&self) -> bool {
        self.direct.is_some() && !self.refused.load(Ordering::Relaxed)
    }

    /// The ordinary descriptor (for reads, sizing and syncing).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Writes all of `buf` at `offset`: the part whose address and offset
    /// are both [`ALIGN`]ed (and whose length is a multiple of it) directly,
    /// the rest through the page cache.
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let Some(direct) = self.direct.as_ref().filter(|_| self.is_direct()) else {
            return self.file.write_all_at(buf, offset);
        };
        let head = ((ALIGN as u64 - offset % ALIGN as u64) % ALIGN as u64) as usize;
        let head = head.min(buf.len());
        let mid = (buf.len() - head) / ALIGN * ALIGN;
        let addr = buf.as_ptr() as usize + head;
        if mid == 0 || addr % ALIGN != 0 {
            return self.file.write_all_at(buf, offset);
        }
        self.file.write_all_at(&buf[..head], offset)?;
        let mut done = 0;
        while done < mid {
            let at = head + done;
            match direct.write_at(&buf[at..head + mid], offset + at as u64) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                // A short direct write can leave an unaligned remainder:
                // the page cache takes the rest.
                Ok(n) if n % ALIGN != 0 => {
                    done += n;
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    // This file system takes O_DIRECT opens but not these
                    // writes: no more direct writes.
                    self.refused.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        let rest = head + done;
        self.file.write_all_at(&buf[rest..], offset + rest as u64)
    }

    /// Flushes everything to the medium.
    pub fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn aligned_buffers_are_aligned_and_zeroed() {
        for len in [1, 4095, 4096, 1 << 20] {
            let b = AlignedBuf::zeroed(len);
            assert_eq!(b.as_ptr() as usize % ALIGN, 0);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn every_split_of_a_write_lands_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut src = AlignedBuf::zeroed(5 * ALIGN);
        for (i, b) in src.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        let mut expected = vec![0u8; 12 * ALIGN];
        let f = DirectFile::new(File::create(&path).unwrap());
        // Aligned, unaligned start, unaligned address, short, long.
        for (from, to, at) in [
            (0, 2 * ALIGN, 0u64),
            (100, 3 * ALIGN + 7, 2 * ALIGN as u64 + 100),
            (ALIGN, 5 * ALIGN, 6 * ALIGN as u64),
            (3, 10, 11 * ALIGN as u64 + 5),
            (17, 4 * ALIGN, 7 * ALIGN as u64 + 17),
        ] {
            f.write_all_at(&src[from..to], at).unwrap();
            expected[at as usize..at as usize + (to - from)].copy_from_slice(&src[from..to]);
        }
        f.sync_all().unwrap();
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        got.resize(expected.len(), 0);
        assert!(got == expected, "the file holds what was written");
    }
}
