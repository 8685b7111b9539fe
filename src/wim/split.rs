//! Splitting a WIM into `.swm` parts (`wimlib_split`).

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use wimlib_sys as ffi;

use super::{path_cstring, Wim, WimError};

/// Size of a WIM header.
const HEADER_SIZE: u64 = 208;
/// Size of one blob table entry.
const BLOB_ENTRY_SIZE: u64 = 50;
/// Chunk size of integrity tables (one SHA-1 per chunk).
const INTEGRITY_CHUNK: u64 = 10 * 1024 * 1024;

/// Split the WIM `src` into parts of at most `part_size` bytes each.
///
/// `dest_first` names the first part; wimlib names the others by inserting
/// the part number before the extension: `…/install.swm` gives
/// `install.swm`, `install2.swm`, `install3.swm`… Returns the parts' paths in
/// order. Existing files of those names are overwritten.
///
/// wimlib itself only budgets the resources' stored sizes against its part
/// size, not each part's header, blob table, XML data and integrity table,
/// and puts a resource larger than the part size in a part of its own. This
/// function therefore
/// * passes wimlib `part_size` minus an upper bound of that per-part
///   overhead;
/// * fails with [`WimError::ResourceTooLarge`] before writing anything when
///   the largest file resource, or all the image metadata (which must all go
///   in part 1), cannot fit in a part with that overhead;
/// * checks the written parts' sizes and, should one still exceed
///   `part_size`, deletes all parts and fails with
///   [`WimError::PartTooLarge`].
///
/// WIMs with solid resources (`.esd`, `--solid`) cannot be split (wimlib
/// limitation): export them to a non-solid WIM first. On any error the parts
/// written so far are deleted.
pub fn split(src: &Path, dest_first: &Path, part_size: u64) -> Result<Vec<PathBuf>, WimError> {
    let wim = Wim::open(src)?;
    if part_size == 0 {
        return Err(WimError::Lib {
            op: "split",
            path: src.to_path_buf(),
            code: ffi::wimlib_error_code_WIMLIB_ERR_INVALID_PARAM as c_int,
            message: "the part size must not be 0".into(),
        });
    }
    let c_dest = path_cstring(dest_first)?;

    let stats = blob_stats(&wim)?;
    if stats.solid {
        return Err(WimError::Lib {
            op: "split",
            path: src.to_path_buf(),
            code: ffi::wimlib_error_code_WIMLIB_ERR_UNSUPPORTED as c_int,
            message: "the WIM has solid (ESD-style) resources, which wimlib cannot split; \
                      export it to a non-solid WIM first"
                .into(),
        });
    }
    let xml = xml_size(&wim)?;
    let integrity = if wim.info().has_integrity_table {
        12 + 20 * (part_size / INTEGRITY_CHUNK + 1)
    } else {
        0
    };
    let overhead = HEADER_SIZE + xml + xml / 8 + 4096 + BLOB_ENTRY_SIZE * stats.count + integrity;
    let largest = stats.largest_blob.max(stats.metadata_total);
    let needed = largest.saturating_add(overhead);
    if needed > part_size {
        return Err(WimError::ResourceTooLarge {
            path: src.to_path_buf(),
            part_size,
            largest,
            needed,
        });
    }

    let mut parts: Vec<PathBuf> = Vec::new();
    // SAFETY: live WIMStruct; `parts` outlives the wimlib_split call, after
    // which the function is unregistered before `parts` is used again.
    unsafe {
        ffi::wimlib_register_progress_function(
            wim.raw(),
            Some(record_part),
            (&mut parts as *mut Vec<PathBuf>).cast::<c_void>(),
        );
    }
    // SAFETY: live WIMStruct; c_dest is a valid C string; flags 0 keep the
    // source's integrity-table choice.
    let code = unsafe { ffi::wimlib_split(wim.raw(), c_dest.as_ptr(), part_size - overhead, 0) };
    // SAFETY: live WIMStruct; removes the pointer to `parts`.
    unsafe { ffi::wimlib_register_progress_function(wim.raw(), None, std::ptr::null_mut()) };
    drop(wim);

    if code != 0 {
        remove_all(&parts);
        return Err(WimError::lib("split", src, code));
    }
    for part in &parts {
        let actual = match std::fs::metadata(part) {
            Ok(m) => m.len(),
            Err(e) => {
                remove_all(&parts);
                return Err(WimError::io("check the size of split part", part, e));
            }
        };
        if actual > part_size {
            let part = part.clone();
            remove_all(&parts);
            return Err(WimError::PartTooLarge {
                path: src.to_path_buf(),
                part,
                part_size,
                actual,
            });
        }
    }
    Ok(parts)
}

fn remove_all(parts: &[PathBuf]) {
    for p in parts {
        let _ = std::fs::remove_file(p);
    }
}

/// Progress callback: records each part's name as wimlib starts it.
unsafe extern "C" fn record_part(
    msg: ffi::wimlib_progress_msg,
    info: *mut ffi::wimlib_progress_info,
    ctx: *mut c_void,
) -> ffi::wimlib_progress_status {
    if msg == ffi::wimlib_progress_msg_WIMLIB_PROGRESS_MSG_SPLIT_BEGIN_PART
        && !info.is_null()
        && !ctx.is_null()
    {
        // SAFETY: for SPLIT_BEGIN_PART the `split` member of the union is
        // the one wimlib filled in.
        let name = unsafe { (*info).split.part_name };
        if !name.is_null() {
            // SAFETY: ctx is the &mut Vec<PathBuf> registered by split(),
            // alive and unused elsewhere during wimlib_split.
            let parts = unsafe { &mut *ctx.cast::<Vec<PathBuf>>() };
            // SAFETY: part_name is a NUL-terminated string valid during the
            // callback.
            let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
            parts.push(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)));
        }
    }
    ffi::wimlib_progress_status_WIMLIB_PROGRESS_STATUS_CONTINUE
}

#[derive(Default)]
struct BlobStats {
    count: u64,
    largest_blob: u64,
    metadata_total: u64,
    solid: bool,
}

unsafe extern "C" fn add_blob(res: *const ffi::wimlib_resource_entry, ctx: *mut c_void) -> c_int {
    if res.is_null() || ctx.is_null() {
        return 0;
    }
    // SAFETY: ctx is the &mut BlobStats passed by blob_stats(), alive and
    // unused elsewhere during the call.
    let stats = unsafe { &mut *ctx.cast::<BlobStats>() };
    // SAFETY: wimlib passes a valid resource entry for the callback's duration.
    let res = unsafe { &*res };
    stats.count += 1;
    if res.packed() != 0 {
        stats.solid = true;
    }
    if res.is_metadata() != 0 {
        stats.metadata_total += res.compressed_size;
    } else {
        stats.largest_blob = stats.largest_blob.max(res.compressed_size);
    }
    0
}

fn blob_stats(wim: &Wim) -> Result<BlobStats, WimError> {
    let mut stats = BlobStats::default();
    // SAFETY: live WIMStruct; the callback only touches `stats`, which
    // outlives the call.
    let code = unsafe {
        ffi::wimlib_iterate_lookup_table(
            wim.raw(),
            0,
            Some(add_blob),
            (&mut stats as *mut BlobStats).cast::<c_void>(),
        )
    };
    if code != 0 {
        return Err(WimError::lib("read the blob table of", wim.path(), code));
    }
    Ok(stats)
}

/// Size in bytes of the WIM's XML data (UTF-16LE), as written in each part.
fn xml_size(wim: &Wim) -> Result<u64, WimError> {
    let mut buf: *mut c_void = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: live WIMStruct; valid out-pointers.
    let code = unsafe { ffi::wimlib_get_xml_data(wim.raw(), &mut buf, &mut size) };
    if code != 0 {
        return Err(WimError::lib("read the XML data of", wim.path(), code));
    }
    // SAFETY: the buffer was allocated with wimlib's allocator, which is
    // malloc since this crate never installs another one.
    unsafe { libc::free(buf) };
    Ok(size as u64)
}
