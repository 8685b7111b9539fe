//! The streaming pass: every sector of a volume written once, in ascending
//! order, hashed as it goes. File data is copied in 1 MiB chunks (never a
//! whole file in memory); runs of zeros in file data become holes in the
//! output, so sparse sources stay sparse.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::layout::{Layout, Part};
use super::SECTOR;
use crate::io::direct::{AlignedBuf, DirectFile, ALIGN};
use crate::io::{cancel, Progress, SourceChanged, BUF_SIZE};

/// Metadata is gathered up to this size before it is handed to the writer.
const META_BUF: usize = 1 << 20;
/// Chunks queued for the writer and for the file hasher: with the pool this
/// bounds the memory in flight to a few MiB whatever the file sizes.
const QUEUE: usize = 4;
static ZEROS: [u8; 64 * 1024] = [0u8; 64 * 1024];

/// Reusable 1 MiB buffers: a chunk goes to the writer and to the file
/// hasher; whichever drops it last returns it here.
#[derive(Clone)]
struct Pool {
    tx: SyncSender<Vec<u8>>,
    rx: Arc<Mutex<Receiver<Vec<u8>>>>,
}

impl Pool {
    fn new() -> Pool {
        let (tx, rx) = sync_channel(4 * QUEUE);
        Pool {
            tx,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    fn get(&self) -> Vec<u8> {
        let got = self.rx.lock().ok().and_then(|r| r.try_recv().ok());
        let mut v = got.unwrap_or_default();
        v.resize(BUF_SIZE, 0);
        v
    }

    /// Returns the buffer when `chunk` was its last user.
    fn put(&self, chunk: Arc<Vec<u8>>) {
        if let Some(v) = Arc::into_inner(chunk) {
            let _ = self.tx.try_send(v);
        }
    }
}

enum Msg {
    /// Metadata or small pieces, written as they are.
    Bytes(Vec<u8>),
    /// File data: a chunk of zeros becomes a hole.
    Data(Arc<Vec<u8>>),
    /// Zero bytes, as a hole.
    Zeros(u64),
}

/// The output file of one volume. A writer thread writes what it is sent,
/// in order (and hashes the whole image when asked), while the caller reads
/// sources and hashes files.
pub struct Sink {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<Result<Written>>>,
    path: PathBuf,
    /// Bytes of the image so far (sent, buffered or holes).
    pos: u64,
    buf: Vec<u8>,
    pool: Pool,
}

/// The image's SHA-256 (when asked for) and size.
pub type Written = (Option<[u8; 32]>, u64);

/// Output is gathered into aligned windows of this size and each written
/// with one direct write.
const WINDOW: usize = 4 << 20;

/// The writer thread's side: the window being filled and where it starts.
struct Out {
    file: DirectFile,
    path: PathBuf,
    window: AlignedBuf,
    /// Image offset of `window[0]`, a multiple of WINDOW.
    start: u64,
    /// Bytes of the window filled (the image position is `start + fill`).
    fill: usize,
}

impl Out {
    fn ctx(&self) -> String {
        format!("writing {}", self.path.display())
    }

    /// Writes the filled part of the window (rounded up to a whole number
    /// of blocks; the file is cut to size at the end) unless it is all
    /// zeros: the file is new, so skipping leaves a hole that reads as zeros.
    fn flush(&mut self) -> Result<()> {
        let n = self.fill.div_ceil(ALIGN) * ALIGN;
        self.window[self.fill..n].fill(0);
        if !is_zero(&self.window[..n]) {
            let ctx = self.ctx();
            self.file
                .write_all_at(&self.window[..n], self.start)
                .context(ctx)?;
        }
        self.start += WINDOW as u64;
        self.fill = 0;
        Ok(())
    }

    fn put(&mut self, mut b: &[u8]) -> Result<()> {
        while !b.is_empty() {
            let k = b.len().min(WINDOW - self.fill);
            self.window[self.fill..self.fill + k].copy_from_slice(&b[..k]);
            self.fill += k;
            b = &b[k..];
            if self.fill == WINDOW {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// `n` zero bytes: whole windows of them are skipped (holes).
    fn zeros(&mut self, mut n: u64) -> Result<()> {
        while n > 0 {
            if self.fill == 0 && n >= WINDOW as u64 {
                let skip = n / WINDOW as u64 * WINDOW as u64;
                self.start += skip;
                n -= skip;
                continue;
            }
            let k = n.min((WINDOW - self.fill) as u64) as usize;
            self.window[self.fill..self.fill + k].fill(0);
            self.fill += k;
            n -= k as u64;
            if self.fill == WINDOW {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        let end = self.start + self.fill as u64;
        if self.fill > 0 {
            self.flush()?;
        }
        let ctx = self.ctx();
        let f = self.file.file();
        f.set_len(end).and_then(|_| f.sync_all()).context(ctx)?;
        Ok(end)
    }
}

fn writer(
    file: File,
    path: PathBuf,
    rx: Receiver<Msg>,
    pool: Pool,
    hash_image: bool,
) -> Result<Written> {
    let mut hasher = hash_image.then(Sha256::new);
    let mut out = Out {
        file: DirectFile::new(file),
        path,
        window: AlignedBuf::zeroed(WINDOW),
        start: 0,
        fill: 0,
    };
    for msg in rx {
        match msg {
            Msg::Bytes(b) => {
                if let Some(h) = &mut hasher {
                    h.update(&b);
                }
                out.put(&b)?;
            }
            Msg::Data(chunk) => {
                if let Some(h) = &mut hasher {
                    h.update(&chunk[..]);
                }
                out.put(&chunk)?;
                pool.put(chunk);
            }
            Msg::Zeros(n) => {
                if let Some(h) = &mut hasher {
                    let mut left = n;
                    while left > 0 {
                        let k = left.min(ZEROS.len() as u64) as usize;
                        h.update(&ZEROS[..k]);
                        left -= k as u64;
                    }
                }
                out.zeros(n)?;
            }
        }
    }
    let size = out.finish()?;
    Ok((hasher.map(|h| h.finalize().into()), size))
}

impl Sink {
    /// Creates the image file at `path`; with `hash_image`, the writer
    /// also computes the SHA-256 of the whole image.
    pub fn create(path: &Path, hash_image: bool) -> Result<Sink> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let (tx, rx) = sync_channel(QUEUE);
        let pool = Pool::new();
        let p = path.to_path_buf();
        let wpool = pool.clone();
        let thread = std::thread::Builder::new()
            .name("iso-writer".into())
            .spawn(move || writer(file, p, rx, wpool, hash_image))
            .context("starting the writer thread")?;
        Ok(Sink {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_path_buf(),
            pos: 0,
            buf: Vec::with_capacity(META_BUF),
            pool,
        })
    }

    /// Hands `msg` to the writer; when the writer has stopped, its error.
    fn send(&mut self, msg: Msg) -> Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(msg).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Err(e))) => Err(e),
            _ => anyhow::bail!("writing {}: the writer stopped", self.path.display()),
        }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            let b = std::mem::replace(&mut self.buf, Vec::with_capacity(META_BUF));
            self.send(Msg::Bytes(b))?;
        }
        Ok(())
    }

    /// Appends bytes (metadata, small pieces).
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(b);
        self.pos += b.len() as u64;
        if self.buf.len() >= META_BUF {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a chunk of file data.
    fn put_data(&mut self, chunk: Arc<Vec<u8>>) -> Result<()> {
        if chunk.len() < 64 * 1024 {
            let r = self.put(&chunk);
            self.pool.put(chunk);
            return r;
        }
        self.flush()?;
        self.pos += chunk.len() as u64;
        self.send(Msg::Data(chunk))
    }

    /// Appends `n` zero bytes (a hole when large).
    fn zeros(&mut self, n: u64) -> Result<()> {
        if n < 64 * 1024 {
            let mut left = n as usize;
            while left > 0 {
                let k = left.min(ZEROS.len());
                self.put(&ZEROS[..k])?;
                left -= k;
            }
            return Ok(());
        }
        self.flush()?;
        self.pos += n;
        self.send(Msg::Zeros(n))
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Writes what is left, sizes the file (a trailing hole), syncs it and
    /// returns the image's SHA-256 (when asked for) and size.
    pub fn finish(mut self) -> Result<Written> {
        self.flush()?;
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            _ => anyhow::bail!("writing {}: the writer stopped", self.path.display()),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

/// Reads up to a whole buffer; fewer bytes only at the end of the source.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Copies `size` bytes of `r` into the sink and returns their SHA-256;
/// fails when the source is shorter or longer than planned. Files larger
/// than one buffer are hashed on a second thread while this one reads and
/// the writer thread hashes the image and writes.
fn copy_data(
    sink: &mut Sink,
    mut r: impl Read,
    size: u64,
    progress: &Progress,
) -> Result<[u8; 32]> {
    let pool = sink.pool.clone();
    let big = size > BUF_SIZE as u64;
    let (htx, hrx) = sync_channel::<Arc<Vec<u8>>>(QUEUE);
    let hpool = pool.clone();
    let hasher = big.then(|| {
        std::thread::spawn(move || {
            let mut h = Sha256::new();
            for chunk in hrx {
                h.update(&chunk[..]);
                hpool.put(chunk);
            }
            <[u8; 32]>::from(h.finalize())
        })
    });
    let mut inline = Sha256::new();
    let mut done = 0u64;
    let result = (|| -> Result<()> {
        loop {
            cancel::check()?;
            let mut buf = pool.get();
            let n = fill(&mut r, &mut buf)?;
            if n == 0 {
                return Ok(());
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
            buf.truncate(n);
            let chunk = Arc::new(buf);
            if big {
                htx.send(chunk.clone())
                    .map_err(|_| anyhow::anyhow!("the hashing thread stopped"))?;
            } else {
                inline.update(&chunk[..]);
            }
            sink.put_data(chunk)?;
            progress.inc(n as u64);
            if n < BUF_SIZE {
                return Ok(());
            }
        }
    })();
    drop(htx);
    let hash = match hasher {
        Some(t) => t
            .join()
            .map_err(|_| anyhow::anyhow!("the hashing thread panicked"))?,
        None => inline.finalize().into(),
    };
    result?;
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
    Ok(hash)
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
                let h = copy_data(&mut sink, r, blob.size, progress)
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
