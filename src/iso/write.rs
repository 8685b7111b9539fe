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
use crate::io::{cancel, read_full, Progress, SourceChanged, BUF_SIZE};

/// Metadata is gathered up to this size before it is handed to the writer.
const META_BUF: usize = 1 << 20;
/// Chunks queued for the writer and for the file hasher: with the pool this
/// bounds the memory in flight to a few MiB whatever the file sizes.
const QUEUE: usize = 4;
static ZEROS: [u8; 64 * 1024] = [0u8; 64 * 1024];

/// File data read into a pooled buffer: its first `len` bytes. The buffer
/// keeps its full size, so reusing it never clears it.
struct Chunk {
    buf: Vec<u8>,
    len: usize,
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

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
    fn put(&self, chunk: Arc<Chunk>) {
        if let Some(Chunk { buf: v, .. }) = Arc::into_inner(chunk) {
            let _ = self.tx.try_send(v);
        }
    }
}

enum Msg {
    /// Metadata or small pieces, written as they are.
    Bytes(Vec<u8>),
    /// File data: a chunk of zeros becomes a hole.
    Data(Arc<Chunk>),
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

/// Windows in flight: one being filled, the others being written.
const WINDOWS: usize = 4;
/// Direct writes in progress at once: two keep the device busy while the
/// next is prepared.
const IO_THREADS: usize = 2;

/// A full window for an I/O thread: the buffer, bytes to write, offset.
type IoJob = (AlignedBuf, usize, u64);

/// The writer thread's side: the window being filled and where it starts.
/// Full windows go to I/O threads, which write them directly and hand the
/// buffers back.
struct Out {
    path: PathBuf,
    file: Arc<DirectFile>,
    window: AlignedBuf,
    /// Image offset of `window[0]`, a multiple of WINDOW.
    start: u64,
    /// Bytes of the window filled (the image position is `start + fill`).
    fill: usize,
    io_tx: Option<SyncSender<IoJob>>,
    free_rx: Receiver<AlignedBuf>,
    io_threads: Vec<JoinHandle<()>>,
    /// The first error of an I/O thread.
    failed: Arc<Mutex<Option<io::Error>>>,
}

impl Out {
    fn new(file: File, path: PathBuf) -> Result<Out> {
        let file = Arc::new(DirectFile::new(file));
        let (io_tx, io_rx) = sync_channel::<IoJob>(WINDOWS);
        let io_rx = Arc::new(Mutex::new(io_rx));
        let (free_tx, free_rx) = sync_channel::<AlignedBuf>(WINDOWS);
        for _ in 1..WINDOWS {
            let _ = free_tx.send(AlignedBuf::zeroed(WINDOW));
        }
        let failed = Arc::new(Mutex::new(None));
        let mut io_threads = Vec::new();
        for i in 0..IO_THREADS {
            let (file, rx, free, failed) =
                (file.clone(), io_rx.clone(), free_tx.clone(), failed.clone());
            let t = std::thread::Builder::new()
                .name(format!("iso-io-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok((buf, n, at)) = job else { return };
                    if let Err(e) = file.write_all_at(&buf[..n], at) {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        return;
                    }
                    if free.send(buf).is_err() {
                        return;
                    }
                })
                .context("starting an I/O thread")?;
            io_threads.push(t);
        }
        Ok(Out {
            path,
            file,
            window: AlignedBuf::zeroed(WINDOW),
            start: 0,
            fill: 0,
            io_tx: Some(io_tx),
            free_rx,
            io_threads,
            failed,
        })
    }

    /// The error that stopped an I/O thread, as the writer's error.
    fn io_error(&self) -> Result<()> {
        match self.failed.lock().ok().and_then(|mut f| f.take()) {
            Some(e) => Err(e).with_context(|| format!("writing {}", self.path.display())),
            None => Ok(()),
        }
    }

    fn stopped(&self) -> anyhow::Error {
        match self.io_error() {
            Err(e) => e,
            Ok(()) => anyhow::anyhow!("writing {}: the I/O threads stopped", self.path.display()),
        }
    }

    /// Hands the filled part of the window (rounded up to a whole number
    /// of blocks; the file is cut to size at the end) to an I/O thread,
    /// unless it is all zeros: the file is new, so skipping leaves a hole
    /// that reads as zeros.
    fn flush(&mut self) -> Result<()> {
        self.io_error()?;
        let n = self.fill.div_ceil(ALIGN) * ALIGN;
        self.window[self.fill..n].fill(0);
        if !is_zero(&self.window[..n]) {
            let next = self.free_rx.recv().map_err(|_| self.stopped())?;
            let full = std::mem::replace(&mut self.window, next);
            let sent = self
                .io_tx
                .as_ref()
                .map(|tx| tx.send((full, n, self.start)).is_ok());
            if sent != Some(true) {
                return Err(self.stopped());
            }
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

    /// Writes the last window, waits for the I/O threads, cuts the file to
    /// size and syncs it; returns the size.
    fn finish(mut self) -> Result<u64> {
        let end = self.start + self.fill as u64;
        if self.fill > 0 {
            self.flush()?;
        }
        self.join();
        self.io_error()?;
        let f = self.file.file();
        f.set_len(end)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(end)
    }

    fn join(&mut self) {
        self.io_tx = None;
        for t in self.io_threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.join();
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
    let mut out = Out::new(file, path)?;
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
    fn put_data(&mut self, chunk: Arc<Chunk>) -> Result<()> {
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
    fn open(&self, source: usize) -> Result<Box<dyn Read + Send + '_>>;
    fn describe(&self, source: usize) -> String;
    /// Called with the SHA-256 of content `source` once copied.
    fn copied(&self, source: usize, sha256: [u8; 32]) -> Result<()>;
}

/// A volume written up to (not including) part `next`.
pub struct Suspended {
    pub sink: Sink,
    pub next: usize,
}

/// What the reading thread hands a file hasher.
enum HashMsg {
    Data(Arc<Chunk>),
    /// The file ends; send its digest under this id.
    End(usize),
}

/// Threads that hash file contents while the reading thread moves on:
/// each file goes whole to one of them, in turn, so small files are
/// hashed side by side and a large one never holds up reading.
struct FileHashers {
    txs: Vec<SyncSender<HashMsg>>,
    results: Receiver<(usize, [u8; 32])>,
    threads: Vec<JoinHandle<()>>,
    next: usize,
    pending: usize,
}

impl FileHashers {
    fn new(pool: &Pool) -> Result<FileHashers> {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let (rtx, results) = std::sync::mpsc::channel();
        let mut txs = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n {
            let (tx, rx) = sync_channel::<HashMsg>(2 * QUEUE);
            let rtx = rtx.clone();
            let pool = pool.clone();
            let t = std::thread::Builder::new()
                .name(format!("iso-hash-{i}"))
                .spawn(move || {
                    let mut h = Sha256::new();
                    for msg in rx {
                        match msg {
                            HashMsg::Data(chunk) => {
                                h.update(&chunk[..]);
                                pool.put(chunk);
                            }
                            HashMsg::End(id) => {
                                let d = std::mem::take(&mut h).finalize().into();
                                if rtx.send((id, d)).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                })
                .context("starting a hashing thread")?;
            txs.push(tx);
            threads.push(t);
        }
        Ok(FileHashers {
            txs,
            results,
            threads,
            next: 0,
            pending: 0,
        })
    }

    /// The hasher for the next file.
    fn begin(&mut self) -> usize {
        self.next = (self.next + 1) % self.txs.len();
        self.next
    }

    fn send(&self, w: usize, msg: HashMsg) -> Result<()> {
        self.txs[w]
            .send(msg)
            .map_err(|_| anyhow::anyhow!("a hashing thread stopped"))
    }

    fn end(&mut self, w: usize, id: usize) -> Result<()> {
        self.send(w, HashMsg::End(id))?;
        self.pending += 1;
        Ok(())
    }

    /// Digests ready so far; with `wait`, every digest still owed.
    fn ready(&mut self, wait: bool) -> Result<Vec<(usize, [u8; 32])>> {
        let mut out = Vec::new();
        while self.pending > 0 {
            let r = if wait {
                self.results
                    .recv()
                    .map_err(|_| anyhow::anyhow!("a hashing thread stopped"))?
            } else {
                match self.results.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            self.pending -= 1;
            out.push(r);
        }
        Ok(out)
    }
}

impl Drop for FileHashers {
    fn drop(&mut self) {
        self.txs.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Copies `size` bytes of `r` into the sink, handing them to hasher `w`
/// too; fails when the source is shorter or longer than planned.
fn copy_data(
    sink: &mut Sink,
    mut r: impl Read,
    size: u64,
    progress: &Progress,
    hashers: &FileHashers,
    w: usize,
) -> Result<()> {
    let pool = sink.pool.clone();
    let mut done = 0u64;
    loop {
        cancel::check()?;
        let mut buf = pool.get();
        let n = read_full(&mut r, &mut buf)?;
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
        let chunk = Arc::new(Chunk { buf, len: n });
        hashers.send(w, HashMsg::Data(chunk.clone()))?;
        sink.put_data(chunk)?;
        progress.inc(n as u64);
        if n < BUF_SIZE {
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
    Ok(())
}

/// Writes parts `from..` of `layout` until part `stop` (exclusive), reading
/// file data from `sources`; every content copied is reported to
/// `sources.copied` with its SHA-256 before this returns.
pub fn write_parts(
    layout: &Layout,
    mut sink: Sink,
    from: usize,
    stop: usize,
    sources: &dyn Sources,
    progress: &Progress,
) -> Result<Suspended> {
    let mut hashers = FileHashers::new(&sink.pool)?;
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
                let w = hashers.begin();
                copy_data(&mut sink, r, blob.size, progress, &hashers, w)
                    .with_context(|| format!("copying {}", sources.describe(blob.source)))?;
                hashers.end(w, blob.source)?;
                for (source, h) in hashers.ready(false)? {
                    sources.copied(source, h)?;
                }
            }
            other => sink.put(&layout.render(other))?,
        }
    }
    for (source, h) in hashers.ready(true)? {
        sources.copied(source, h)?;
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
