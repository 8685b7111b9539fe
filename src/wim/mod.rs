//! Safe wrapper over the raw wimlib bindings (`wimlib-sys`, wimlib 1.14.4
//! built statically).
//!
//! What the rest of tsmedia needs from WIM files and nothing more: open a
//! WIM, read its images' names and file trees, extract single files, export
//! one image to a new deterministic WIM, verify, and split into `.swm`
//! parts.
//!
//! * Paths inside an image are `/`-separated, relative to the image root,
//!   with no leading `/` (`Windows/Boot/PCAT/bootmgr`). Inputs may use `/`
//!   or `\` and are matched case-insensitively, like Windows does (see
//!   [`init`]).
//! * Image indexes are 1-based, as in wimlib and DISM.
//! * Strings are UTF-8 (wimlib's `tchar` is `char` on Unix); a path or name
//!   with a NUL byte gives [`WimError::InteriorNul`], never a panic.
//!
//! ```no_run
//! use std::path::Path;
//! let wim = tsmedia::wim::Wim::open(Path::new("boot.wim"))?;
//! for e in wim.list(1)? {
//!     println!("{} {}", e.size, e.path);
//! }
//! # Ok::<(), tsmedia::wim::WimError>(())
//! ```

mod capture;
mod error;
mod split;

pub use capture::{add_files, capture, CaptureCompression, CaptureOptions};
pub use error::WimError;
pub use split::split;

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use wimlib_sys as ffi;

/// Result of the one `wimlib_global_init` call (0 = success).
static INIT: OnceLock<c_int> = OnceLock::new();

/// Initialise wimlib once for the process; later calls do nothing.
///
/// Uses `WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE`, so every path looked up
/// inside an image ([`Wim::stat`], [`Wim::extract_files`]) is matched
/// case-insensitively like on Windows, and turns wimlib's own printing of
/// error messages to stderr off (errors are returned as [`WimError`]).
/// Every function of this module calls it, so calling it is optional.
pub fn init() {
    let _ = init_code();
}

fn init_code() -> c_int {
    *INIT.get_or_init(|| {
        // SAFETY: both functions take plain values and only set wimlib's
        // global state; OnceLock makes this run once, before any other
        // wimlib call of this module.
        unsafe {
            ffi::wimlib_set_print_errors(false);
            ffi::wimlib_global_init(ffi::WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE as c_int)
        }
    })
}

fn ensure_init(path: &Path) -> Result<(), WimError> {
    match init_code() {
        0 => Ok(()),
        code => Err(WimError::lib("initialise wimlib for", path, code)),
    }
}

/// A C string from a host path.
pub(crate) fn path_cstring(path: &Path) -> Result<CString, WimError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| WimError::InteriorNul {
        what: "file path",
        value: path.display().to_string(),
    })
}

fn str_cstring(what: &'static str, s: &str) -> Result<CString, WimError> {
    CString::new(s).map_err(|_| WimError::InteriorNul {
        what,
        value: s.to_owned(),
    })
}

/// Copy a wimlib string, `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for this call.
unsafe fn opt_string(ptr: *const std::os::raw::c_char) -> Option<String> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per this function's contract.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// Compression type of a WIM's (non-solid) resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xpress,
    Lzx,
    /// LZMS, as in solid `.esd` files.
    Lzms,
    /// A value this wrapper does not know.
    Other(i32),
}

impl Compression {
    fn from_raw(v: i32) -> Compression {
        match u32::try_from(v) {
            Ok(ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_NONE) => Compression::None,
            Ok(ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_XPRESS) => Compression::Xpress,
            Ok(ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_LZX) => Compression::Lzx,
            Ok(ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_LZMS) => Compression::Lzms,
            _ => Compression::Other(v),
        }
    }
}

/// Header information of an open WIM (`wimlib_get_wim_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WimInfo {
    pub guid: [u8; 16],
    pub image_count: u32,
    /// 1-based index of the bootable image, 0 if none.
    pub boot_index: u32,
    pub compression: Compression,
    pub chunk_size: u32,
    /// For split WIMs: this part's number (1-based) and the number of parts.
    pub part_number: u16,
    pub total_parts: u16,
    pub has_integrity_table: bool,
    /// Total size of the WIM file in bytes, as recorded in it.
    pub total_bytes: u64,
    raw_compression: i32,
}

/// One file or folder of an image, from [`Wim::list`] or [`Wim::stat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WimEntry {
    /// Path relative to the image root, `/`-separated, no leading `/`,
    /// spelled as stored in the image. The root itself is `""`.
    pub path: String,
    /// Size of the unnamed data stream (the file's content); 0 for folders
    /// and reparse points.
    pub size: u64,
    /// A folder (reparse-point folders such as junctions are reported with
    /// `is_symlink` instead).
    pub is_dir: bool,
    /// A reparse point: symbolic link, junction or other; reported as a file
    /// with size 0.
    pub is_symlink: bool,
    /// SHA-1 of the content; `None` for empty files, folders and reparse
    /// points.
    pub sha1: Option<[u8; 20]>,
}

impl WimEntry {
    /// The last path component (the file name).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// A [`WimEntry`] plus the stored file name (which may differ from the last
/// component of `path` if the name holds a `\`).
struct RawEntry {
    entry: WimEntry,
    name: String,
}

/// Build a [`RawEntry`] from what `wimlib_iterate_dir_tree` passes.
///
/// # Safety
/// `d` is a valid `wimlib_dir_entry` handed to an iterate callback, so
/// `streams` has at least one element and the strings are valid or NULL.
unsafe fn raw_entry(d: &ffi::wimlib_dir_entry) -> RawEntry {
    // SAFETY: per this function's contract.
    let full = unsafe { opt_string(d.full_path) }.unwrap_or_default();
    // SAFETY: per this function's contract.
    let name = unsafe { opt_string(d.filename) }.unwrap_or_default();
    let path = full.replace('\\', "/").trim_start_matches('/').to_owned();
    let is_reparse = d.attributes & ffi::WIMLIB_FILE_ATTRIBUTE_REPARSE_POINT != 0;
    let is_dir = !is_reparse && d.attributes & ffi::WIMLIB_FILE_ATTRIBUTE_DIRECTORY != 0;
    let (size, sha1) = if is_dir || is_reparse {
        (0, None)
    } else {
        // SAFETY: wimlib always allocates streams[0] (the unnamed data stream
        // for an ordinary file); see iterate_dir.c, do_iterate_dir_tree.
        let res = unsafe { &(*d.streams.as_ptr()).resource };
        let sha1 = (res.sha1_hash != [0u8; 20]).then_some(res.sha1_hash);
        (res.uncompressed_size, sha1)
    };
    RawEntry {
        entry: WimEntry {
            path,
            size,
            is_dir,
            is_symlink: is_reparse,
            sha1,
        },
        name,
    }
}

/// `wimlib_iterate_dir_tree` callback: appends each entry to the
/// `Vec<RawEntry>` in `ctx`. Never panics (allocation failure aborts).
unsafe extern "C" fn collect_entry(
    dentry: *const ffi::wimlib_dir_entry,
    ctx: *mut c_void,
) -> c_int {
    if dentry.is_null() || ctx.is_null() {
        return 0;
    }
    // SAFETY: ctx is the &mut Vec<RawEntry> passed by Wim::iterate, alive and
    // not otherwise borrowed during the call.
    let out = unsafe { &mut *ctx.cast::<Vec<RawEntry>>() };
    // SAFETY: wimlib passes a valid dentry for the duration of the callback.
    out.push(unsafe { raw_entry(&*dentry) });
    0
}

/// An open WIM file (`WIMStruct`), freed on drop.
///
/// `Send` but not `Sync`: wimlib lets a `WIMStruct` move between threads
/// but not be used by two at once, and even reading calls mutate its
/// internal state (loaded metadata), hence `&self` methods are not
/// shareable.
pub struct Wim {
    raw: NonNull<ffi::WIMStruct>,
    path: PathBuf,
    info: WimInfo,
}

// SAFETY: a WIMStruct is not tied to the thread that created it; wimlib only
// forbids concurrent use of one WIMStruct, which !Sync (from NonNull)
// prevents.
unsafe impl Send for Wim {}

impl std::fmt::Debug for Wim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wim")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

impl Drop for Wim {
    fn drop(&mut self) {
        // SAFETY: raw came from wimlib_open_wim, is freed only here, and no
        // other WIMStruct borrows from it once our methods have returned
        // (export_image frees its destination WIMStruct before returning).
        unsafe { ffi::wimlib_free(self.raw.as_ptr()) }
    }
}

/// A WIMStruct created by this module for writing; freed on drop.
struct OwnedRaw(NonNull<ffi::WIMStruct>);

impl OwnedRaw {
    /// Sets the WIM's GUID and writes it to `dest` keeping that GUID
    /// (without `WIMLIB_WRITE_FLAG_RETAIN_GUID`, `wimlib_write` makes a
    /// random one), with wimlib's default number of threads.
    fn write_keeping_guid(
        &self,
        guid: [u8; 16],
        dest: &Path,
        c_dest: &CStr,
        op: &'static str,
    ) -> Result<(), WimError> {
        // SAFETY: wimlib_wim_info is plain data; all-zero is valid.
        let mut info: ffi::wimlib_wim_info = unsafe { std::mem::zeroed() };
        info.guid = guid;
        // SAFETY: live WIMStruct; info is valid for the call; only the GUID
        // is read (WIMLIB_CHANGE_GUID).
        let code = unsafe {
            ffi::wimlib_set_wim_info(self.0.as_ptr(), &info, ffi::WIMLIB_CHANGE_GUID as c_int)
        };
        if code != 0 {
            return Err(WimError::lib(op, dest, code));
        }
        let write_flags = ffi::WIMLIB_WRITE_FLAG_RETAIN_GUID as c_int;
        // SAFETY: live WIMStruct; c_dest is a valid C string; 0 threads lets
        // wimlib choose.
        let code = unsafe {
            ffi::wimlib_write(
                self.0.as_ptr(),
                c_dest.as_ptr(),
                ffi::WIMLIB_ALL_IMAGES,
                write_flags,
                0,
            )
        };
        if code != 0 {
            return Err(WimError::Lib {
                op,
                path: dest.to_path_buf(),
                code,
                message: error::error_string(code),
            });
        }
        Ok(())
    }
}

impl Drop for OwnedRaw {
    fn drop(&mut self) {
        // SAFETY: created by wimlib_create_new_wim and freed only here.
        unsafe { ffi::wimlib_free(self.0.as_ptr()) }
    }
}

const EXTRACT_FLAGS: c_int = (ffi::WIMLIB_EXTRACT_FLAG_NO_ACLS
    | ffi::WIMLIB_EXTRACT_FLAG_NO_ATTRIBUTES
    | ffi::WIMLIB_EXTRACT_FLAG_NORPFIX
    | ffi::WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE) as c_int;

impl Wim {
    /// Open a WIM file read-only (`wimlib_open_wim`, flags 0).
    ///
    /// Errors: [`WimError::Io`] when the file cannot be read,
    /// [`WimError::NotAWim`] when it is not a WIM or its header, blob table
    /// or XML is damaged or truncated.
    pub fn open(path: &Path) -> Result<Wim, WimError> {
        Self::open_with_flags(path, 0)
    }

    /// Like [`Wim::open`], and also check the integrity table if the WIM
    /// has one (`WIMLIB_OPEN_FLAG_CHECK_INTEGRITY`; reads the whole file). A
    /// mismatch is [`WimError::NotAWim`].
    pub fn open_checked(path: &Path) -> Result<Wim, WimError> {
        Self::open_with_flags(path, ffi::WIMLIB_OPEN_FLAG_CHECK_INTEGRITY as c_int)
    }

    fn open_with_flags(path: &Path, flags: c_int) -> Result<Wim, WimError> {
        ensure_init(path)?;
        // Our own check first, for a precise io::Error (wimlib only says
        // "failed to open").
        let meta = std::fs::metadata(path).map_err(|e| WimError::io("open", path, e))?;
        if meta.is_dir() {
            return Err(WimError::io(
                "open",
                path,
                std::io::Error::other("is a directory, not a WIM file"),
            ));
        }
        let c_path = path_cstring(path)?;
        let mut raw: *mut ffi::WIMStruct = ptr::null_mut();
        // SAFETY: c_path is a valid C string; raw is a valid out-pointer.
        let code = unsafe { ffi::wimlib_open_wim(c_path.as_ptr(), flags, &mut raw) };
        if code != 0 {
            return Err(WimError::open(path, code));
        }
        let raw = NonNull::new(raw).ok_or_else(|| {
            WimError::lib(
                "open",
                path,
                ffi::wimlib_error_code_WIMLIB_ERR_NOMEM as c_int,
            )
        })?;
        let mut wim = Wim {
            raw,
            path: path.to_path_buf(),
            info: WimInfo {
                guid: [0; 16],
                image_count: 0,
                boot_index: 0,
                compression: Compression::None,
                chunk_size: 0,
                part_number: 1,
                total_parts: 1,
                has_integrity_table: false,
                total_bytes: 0,
                raw_compression: 0,
            },
        };
        wim.info = wim.read_info()?;
        Ok(wim)
    }

    fn read_info(&self) -> Result<WimInfo, WimError> {
        // SAFETY: wimlib_wim_info is plain data (integers, arrays, bitfield
        // bytes); all-zero is a valid value.
        let mut raw_info: ffi::wimlib_wim_info = unsafe { std::mem::zeroed() };
        // SAFETY: self.raw is a live WIMStruct; raw_info is a valid out-pointer.
        let code = unsafe { ffi::wimlib_get_wim_info(self.raw.as_ptr(), &mut raw_info) };
        if code != 0 {
            return Err(WimError::lib("read the header of", &self.path, code));
        }
        Ok(WimInfo {
            guid: raw_info.guid,
            image_count: raw_info.image_count,
            boot_index: raw_info.boot_index,
            compression: Compression::from_raw(raw_info.compression_type),
            chunk_size: raw_info.chunk_size,
            part_number: raw_info.part_number,
            total_parts: raw_info.total_parts,
            has_integrity_table: raw_info.has_integrity_table() != 0,
            total_bytes: raw_info.total_bytes,
            raw_compression: raw_info.compression_type,
        })
    }

    pub(crate) fn raw(&self) -> *mut ffi::WIMStruct {
        self.raw.as_ptr()
    }

    /// The path the WIM was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Header information (GUID, image count, boot index, compression...).
    pub fn info(&self) -> &WimInfo {
        &self.info
    }

    /// Number of images (1-based indexes run `1..=image_count()`).
    pub fn image_count(&self) -> u32 {
        self.info.image_count
    }

    /// `Ok` when `image` is in `1..=image_count()`, else
    /// [`WimError::NoSuchImage`].
    pub fn check_image(&self, image: u32) -> Result<(), WimError> {
        if image == 0 || image > self.info.image_count {
            Err(WimError::NoSuchImage {
                path: self.path.clone(),
                index: image,
                count: self.info.image_count,
            })
        } else {
            Ok(())
        }
    }

    /// Image index as wimlib's `int`, after [`Wim::check_image`].
    fn c_image(&self, image: u32) -> Result<c_int, WimError> {
        self.check_image(image)?;
        c_int::try_from(image).map_err(|_| WimError::NoSuchImage {
            path: self.path.clone(),
            index: image,
            count: self.info.image_count,
        })
    }

    /// The image's NAME from the XML data; `None` when the image does not
    /// exist or has no (or an empty) name.
    pub fn image_name(&self, image: u32) -> Option<String> {
        self.image_property(image, "NAME")
    }

    /// The image's DESCRIPTION; `None` when absent or empty.
    pub fn image_description(&self, image: u32) -> Option<String> {
        self.image_property(image, "DESCRIPTION")
    }

    /// Any simple per-image XML property (`wimlib_get_image_property`), e.g.
    /// `"WINDOWS/ARCH"` or `"WINDOWS/VERSION/BUILD"`; `None` when absent or
    /// empty, or when the image does not exist.
    pub fn image_property(&self, image: u32, name: &str) -> Option<String> {
        let image = self.c_image(image).ok()?;
        let c_name = CString::new(name).ok()?;
        // SAFETY: live WIMStruct, valid image, valid C string. The result is
        // NULL or a string valid until the next wimlib call; copied at once.
        let value = unsafe {
            opt_string(ffi::wimlib_get_image_property(
                self.raw.as_ptr(),
                image,
                c_name.as_ptr(),
            ))
        };
        value.filter(|v| !v.is_empty())
    }

    /// Run `wimlib_iterate_dir_tree`, collecting entries. Returns wimlib's
    /// code with what was collected.
    fn iterate(&self, image: c_int, inner: &CStr, flags: u32) -> (c_int, Vec<RawEntry>) {
        let mut out: Vec<RawEntry> = Vec::new();
        // SAFETY: live WIMStruct; inner is a valid C string; the callback
        // only touches `out`, which outlives the call and is not used
        // elsewhere meanwhile.
        let code = unsafe {
            ffi::wimlib_iterate_dir_tree(
                self.raw.as_ptr(),
                image,
                inner.as_ptr(),
                flags as c_int,
                Some(collect_entry),
                (&mut out as *mut Vec<RawEntry>).cast::<c_void>(),
            )
        };
        (code, out)
    }

    /// Every file and folder of `image`, recursively, in wimlib's order
    /// (parents before children). The root itself is omitted. Named data
    /// streams are ignored; reparse points (symbolic links, junctions) are
    /// listed with `is_symlink`.
    pub fn list(&self, image: u32) -> Result<Vec<WimEntry>, WimError> {
        let c_image = self.c_image(image)?;
        let (code, entries) =
            self.iterate(c_image, c"/", ffi::WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE);
        if code != 0 {
            return Err(WimError::lib("list the files of", &self.path, code));
        }
        Ok(entries
            .into_iter()
            .map(|r| r.entry)
            .filter(|e| !e.path.is_empty())
            .collect())
    }

    /// The files and folders directly inside the folder `inner` of `image`
    /// (case-insensitive path); empty when the folder does not exist.
    pub fn children(&self, image: u32, inner: &str) -> Result<Vec<WimEntry>, WimError> {
        let c_image = self.c_image(image)?;
        let c_inner = str_cstring("path inside the image", inner)?;
        let (code, entries) = self.iterate(
            c_image,
            &c_inner,
            ffi::WIMLIB_ITERATE_DIR_TREE_FLAG_CHILDREN,
        );
        if code == ffi::wimlib_error_code_WIMLIB_ERR_PATH_DOES_NOT_EXIST as c_int {
            return Ok(Vec::new());
        }
        if code != 0 {
            return Err(WimError::lib("list a folder of", &self.path, code));
        }
        Ok(entries.into_iter().map(|r| r.entry).collect())
    }

    fn stat_raw(&self, image: u32, inner: &str) -> Result<Option<RawEntry>, WimError> {
        let c_image = self.c_image(image)?;
        let c_inner = str_cstring("path inside the image", inner)?;
        let (code, entries) = self.iterate(c_image, &c_inner, 0);
        if code == ffi::wimlib_error_code_WIMLIB_ERR_PATH_DOES_NOT_EXIST as c_int {
            return Ok(None);
        }
        if code != 0 {
            return Err(WimError::lib("look up a path in", &self.path, code));
        }
        Ok(entries.into_iter().next())
    }

    /// One file or folder by path (`/` or `\` separated, leading separator
    /// optional, case-insensitive); `None` when absent. The returned path is
    /// spelled as stored in the image. `""` or `"/"` gives the root (path
    /// `""`).
    pub fn stat(&self, image: u32, inner: &str) -> Result<Option<WimEntry>, WimError> {
        Ok(self.stat_raw(image, inner)?.map(|r| r.entry))
    }

    /// Extract regular files of `image` flat into `dest_dir` (created if
    /// missing) and return the path of each extracted file, in the order of
    /// `inner`.
    ///
    /// A file lands in `dest_dir/NAME`, NAME as stored in the image. When
    /// several requested files share a name (compared case-insensitively,
    /// e.g. `Boot/BCD` and `EFI/Microsoft/Boot/BCD`), the first keeps
    /// `dest_dir/NAME` and the k-th (k >= 2) goes to `dest_dir/_k/NAME` (the
    /// folder name gets more leading `_` if it would clash with a requested
    /// name). Existing files are replaced; use a dedicated `dest_dir`, as
    /// an unrelated file named like a collision folder makes this fail.
    ///
    /// No ACLs, attributes, UNIX owners or reparse fix-ups are applied, so
    /// this works without root; timestamps are set as stored. Errors:
    /// [`WimError::NoSuchPath`], [`WimError::NotAFile`] for folders and
    /// reparse points, [`WimError::Io`], [`WimError::Lib`].
    pub fn extract_files(
        &self,
        image: u32,
        inner: &[&str],
        dest_dir: &Path,
    ) -> Result<Vec<PathBuf>, WimError> {
        let c_image = self.c_image(image)?;
        // Resolve every path first: precise errors, and the stored names.
        let mut stored: Vec<RawEntry> = Vec::with_capacity(inner.len());
        for p in inner {
            let raw = self
                .stat_raw(image, p)?
                .ok_or_else(|| WimError::NoSuchPath {
                    path: self.path.clone(),
                    image,
                    inner: (*p).to_owned(),
                })?;
            if raw.entry.is_dir || raw.entry.is_symlink || raw.entry.path.is_empty() {
                return Err(WimError::NotAFile {
                    path: self.path.clone(),
                    image,
                    inner: (*p).to_owned(),
                });
            }
            stored.push(raw);
        }

        // Layer k (0-based) holds the (k+1)-th file of each name.
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let layers: Vec<usize> = stored
            .iter()
            .map(|r| {
                let n = seen.entry(r.name.to_lowercase()).or_insert(0);
                *n += 1;
                *n - 1
            })
            .collect();
        let names: HashSet<String> = seen.into_keys().collect();
        let layer_dir = |k: usize| -> PathBuf {
            if k == 0 {
                return dest_dir.to_path_buf();
            }
            let mut sub = format!("_{}", k + 1);
            while names.contains(&sub.to_lowercase()) {
                sub.insert(0, '_');
            }
            dest_dir.join(sub)
        };

        let layer_count = layers.iter().map(|k| k + 1).max().unwrap_or(0);
        let mut result: Vec<PathBuf> = vec![PathBuf::new(); stored.len()];
        for k in 0..layer_count {
            let dir = layer_dir(k);
            std::fs::create_dir_all(&dir).map_err(|e| WimError::io("create folder", &dir, e))?;
            let idx: Vec<usize> = (0..stored.len()).filter(|&i| layers[i] == k).collect();
            // Pass the stored (exact) paths: no ambiguity for wimlib.
            let c_paths = idx
                .iter()
                .map(|&i| {
                    str_cstring(
                        "path inside the image",
                        &format!("/{}", stored[i].entry.path),
                    )
                })
                .collect::<Result<Vec<CString>, WimError>>()?;
            let ptrs: Vec<*const std::os::raw::c_char> =
                c_paths.iter().map(|c| c.as_ptr()).collect();
            let c_dir = path_cstring(&dir)?;
            // SAFETY: live WIMStruct, valid image; c_dir and every pointer in
            // ptrs are valid C strings that outlive the call; ptrs.len() is
            // the array's length.
            let code = unsafe {
                ffi::wimlib_extract_paths(
                    self.raw.as_ptr(),
                    c_image,
                    c_dir.as_ptr(),
                    ptrs.as_ptr(),
                    ptrs.len(),
                    EXTRACT_FLAGS,
                )
            };
            if code != 0 {
                return Err(WimError::lib("extract files from", &self.path, code));
            }
            for &i in &idx {
                let out = dir.join(&stored[i].name);
                std::fs::symlink_metadata(&out)
                    .map_err(|e| WimError::io("find extracted file", &out, e))?;
                result[i] = out;
            }
        }
        Ok(result)
    }

    /// Write a new standalone WIM at `dest` holding only `image` of this
    /// WIM, with `guid` as its GUID.
    ///
    /// Same compression type and chunk size as the source, so file data is
    /// copied without recompression; the image's XML entry (name,
    /// description, times, Windows info) is copied unchanged; if `image` is
    /// the source's boot image, the new WIM's boot index is 1, else 0. No
    /// integrity table is written.
    ///
    /// Deterministic: the same source, image and GUID give a byte-identical
    /// file (wimlib would otherwise put a random GUID in the header; it
    /// adds no timestamps when exporting an unmodified image). `dest` is
    /// overwritten; callers wanting atomicity write to a temporary name.
    pub fn export_image(&self, image: u32, dest: &Path, guid: [u8; 16]) -> Result<(), WimError> {
        let c_image = self.c_image(image)?;
        let c_dest = path_cstring(dest)?;
        let ctype =
            ffi::wimlib_compression_type::try_from(self.info.raw_compression).map_err(|_| {
                WimError::lib(
                    "export an image of",
                    &self.path,
                    ffi::wimlib_error_code_WIMLIB_ERR_INVALID_COMPRESSION_TYPE as c_int,
                )
            })?;
        let op = "export an image of";

        let mut out: *mut ffi::WIMStruct = ptr::null_mut();
        // SAFETY: out is a valid out-pointer; ctype is checked by wimlib.
        let code = unsafe { ffi::wimlib_create_new_wim(ctype, &mut out) };
        if code != 0 {
            return Err(WimError::lib(op, &self.path, code));
        }
        let out = OwnedRaw(NonNull::new(out).ok_or_else(|| {
            WimError::lib(
                op,
                &self.path,
                ffi::wimlib_error_code_WIMLIB_ERR_NOMEM as c_int,
            )
        })?);

        if self.info.compression != Compression::None && self.info.chunk_size != 0 {
            // SAFETY: live WIMStruct owned by `out`.
            let code =
                unsafe { ffi::wimlib_set_output_chunk_size(out.0.as_ptr(), self.info.chunk_size) };
            if code != 0 {
                return Err(WimError::lib(op, &self.path, code));
            }
        }

        // The one exported image is what gets booted, whichever index it
        // had in the source: mark it as the WIM's boot image.
        let export_flags = ffi::WIMLIB_EXPORT_FLAG_BOOT as c_int;
        // SAFETY: both WIMStructs are live; NULL name/description mean "keep
        // the source's". `out` references self's blobs and image metadata,
        // and is dropped (freed) at the end of this function, before self.
        let code = unsafe {
            ffi::wimlib_export_image(
                self.raw.as_ptr(),
                c_image,
                out.0.as_ptr(),
                ptr::null(),
                ptr::null(),
                export_flags,
            )
        };
        if code != 0 {
            return Err(WimError::lib(op, &self.path, code));
        }

        out.write_keeping_guid(guid, dest, &c_dest, "write the exported image to")?;
        drop(out);
        Ok(())
    }

    /// Verify the WIM (`wimlib_verify_wim`): every image's metadata can be
    /// read and every file's data decompresses and matches its SHA-1. Reads
    /// the whole file. For a split WIM's first part this fails with a
    /// missing-resource error, as the other parts are not referenced.
    pub fn verify(&self) -> Result<(), WimError> {
        // SAFETY: live WIMStruct; flags must be 0.
        let code = unsafe { ffi::wimlib_verify_wim(self.raw.as_ptr(), 0) };
        if code != 0 {
            return Err(WimError::lib("verify", &self.path, code));
        }
        Ok(())
    }
}
