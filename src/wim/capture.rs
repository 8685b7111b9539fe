//! Capturing a folder tree into a new WIM, deterministically.
//!
//! wimlib stamps the image's XML with the current time when it writes a new
//! image, and gives a new WIM a random GUID. To make two captures of the same
//! tree identical, [`capture`] sets the GUID and keeps it, writes the WIM,
//! then reopens it, sets the image's creation and modification times to the
//! caller's timestamp and appends the updated XML in place (the image's
//! metadata is unchanged then, so wimlib leaves those times alone).

use std::ffi::CString;
use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};

use wimlib_sys as ffi;

use super::{path_cstring, str_cstring, OwnedRaw, Wim, WimError};

/// Compression of a captured WIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureCompression {
    None,
    Xpress,
    Lzx,
}

impl CaptureCompression {
    fn raw(self) -> ffi::wimlib_compression_type {
        match self {
            CaptureCompression::None => ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_NONE,
            CaptureCompression::Xpress => {
                ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_XPRESS
            }
            CaptureCompression::Lzx => ffi::wimlib_compression_type_WIMLIB_COMPRESSION_TYPE_LZX,
        }
    }
}

/// What to capture and how.
pub struct CaptureOptions<'a> {
    pub compression: CaptureCompression,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// Extra XML properties of the image (`NAME` or `PARENT/CHILD`).
    pub properties: &'a [(&'a str, &'a str)],
    pub guid: [u8; 16],
    /// Image creation and modification time, Unix seconds.
    pub time: i64,
    /// Called with (bytes done, bytes total) while data is written; return
    /// false to abort.
    pub progress: Option<&'a mut dyn FnMut(u64, u64) -> bool>,
}

struct ProgressCtx<'a, 'b> {
    f: &'a mut (dyn FnMut(u64, u64) -> bool + 'b),
}

unsafe extern "C" fn progress_trampoline(
    msg: ffi::wimlib_progress_msg,
    info: *mut ffi::wimlib_progress_info,
    ctx: *mut c_void,
) -> ffi::wimlib_progress_status {
    if ctx.is_null() || info.is_null() {
        return ffi::wimlib_progress_status_WIMLIB_PROGRESS_STATUS_CONTINUE;
    }
    if msg == ffi::wimlib_progress_msg_WIMLIB_PROGRESS_MSG_WRITE_STREAMS {
        // SAFETY: ctx is the ProgressCtx registered by `capture`, alive for
        // the whole wimlib_write call; info points to the write_streams
        // member for this message type.
        let (ctx, ws) = unsafe { (&mut *(ctx as *mut ProgressCtx), (*info).write_streams) };
        if !(ctx.f)(ws.completed_bytes, ws.total_bytes) {
            return ffi::wimlib_progress_status_WIMLIB_PROGRESS_STATUS_ABORT;
        }
    }
    ffi::wimlib_progress_status_WIMLIB_PROGRESS_STATUS_CONTINUE
}

/// Windows FILETIME (100 ns since 1601) of a Unix time.
fn filetime(unix: i64) -> u64 {
    ((unix + 11_644_473_600).max(0) as u64) * 10_000_000
}

/// Captures the folder `source` (symbolic links followed, no ACLs) as the one
/// image of a new WIM at `dest`.
pub fn capture(source: &Path, dest: &Path, opts: CaptureOptions<'_>) -> Result<(), WimError> {
    super::ensure_init(source)?;
    let c_source = path_cstring(source)?;
    let c_dest = path_cstring(dest)?;
    let c_name = str_cstring("image name", opts.name)?;
    let op = "capture";

    let mut raw: *mut ffi::WIMStruct = ptr::null_mut();
    // SAFETY: raw is a valid out-pointer.
    let code = unsafe { ffi::wimlib_create_new_wim(opts.compression.raw(), &mut raw) };
    if code != 0 {
        return Err(WimError::lib(op, source, code));
    }
    let out = OwnedRaw(NonNull::new(raw).ok_or_else(|| {
        WimError::lib(op, source, ffi::wimlib_error_code_WIMLIB_ERR_NOMEM as c_int)
    })?);

    let add_flags = (ffi::WIMLIB_ADD_FLAG_DEREFERENCE | ffi::WIMLIB_ADD_FLAG_NO_ACLS) as c_int;
    // SAFETY: live WIMStruct, valid C strings, NULL config = defaults.
    let code = unsafe {
        ffi::wimlib_add_image(
            out.0.as_ptr(),
            c_source.as_ptr(),
            c_name.as_ptr(),
            ptr::null(),
            add_flags,
        )
    };
    if code != 0 {
        return Err(WimError::lib(op, source, code));
    }
    set_props(out.0, 1, &opts, dest)?;

    let progress = opts.progress;
    let mut ctx_holder;
    let ctx_ptr: *mut c_void = match progress {
        Some(f) => {
            ctx_holder = ProgressCtx { f };
            &mut ctx_holder as *mut ProgressCtx as *mut c_void
        }
        None => ptr::null_mut(),
    };
    if !ctx_ptr.is_null() {
        // SAFETY: the context outlives every wimlib call on `out` below
        // (it is unregistered before `out` is dropped).
        unsafe {
            ffi::wimlib_register_progress_function(
                out.0.as_ptr(),
                Some(progress_trampoline),
                ctx_ptr,
            )
        };
    }
    let written = out.write_keeping_guid(opts.guid, dest, &c_dest, "write the captured image to");
    // SAFETY: unregister before ctx_holder goes out of scope.
    unsafe { ffi::wimlib_register_progress_function(out.0.as_ptr(), None, ptr::null_mut()) };
    if let Err(e) = written {
        let _ = std::fs::remove_file(dest);
        return Err(e);
    }
    drop(out);

    // Second step: pin the image's times and rewrite the XML in place.
    pin_times(dest, opts.time)
}

/// Sets the image's creation and modification times and rewrites the XML in
/// place. wimlib stamps an image it writes modified with the current time,
/// so this comes after any change to the image's files.
fn pin_times(dest: &Path, time: i64) -> Result<(), WimError> {
    let w = Wim::open(dest)?;
    let ft = filetime(time);
    let hi = format!("0x{:08X}", (ft >> 32) as u32);
    let lo = format!("0x{:08X}", ft as u32);
    for (k, v) in [
        ("CREATIONTIME/HIGHPART", &hi),
        ("CREATIONTIME/LOWPART", &lo),
        ("LASTMODIFICATIONTIME/HIGHPART", &hi),
        ("LASTMODIFICATIONTIME/LOWPART", &lo),
    ] {
        set_prop(w.raw, 1, k, v, dest)?;
    }
    // SAFETY: live WIMStruct opened from dest; in-place overwrite.
    let code = unsafe { ffi::wimlib_overwrite(w.raw.as_ptr(), 0, 1) };
    if code != 0 {
        return Err(WimError::lib("update the image times in", dest, code));
    }
    Ok(())
}

/// Adds host files to image 1 of the WIM at `dest` (each as (host path,
/// path in the image)), then pins the image's times again.
pub fn add_files(dest: &Path, files: &[(PathBuf, String)], time: i64) -> Result<(), WimError> {
    let w = Wim::open(dest)?;
    let mut c_strings = Vec::with_capacity(files.len());
    for (host, inner) in files {
        c_strings.push((
            path_cstring(host)?,
            str_cstring("path in the image", inner)?,
        ));
    }
    let cmds: Vec<ffi::wimlib_update_command> = c_strings
        .iter()
        .map(|(h, i)| {
            // SAFETY: plain data; all-zero is valid before the fields are set.
            let mut c: ffi::wimlib_update_command = unsafe { std::mem::zeroed() };
            c.op = ffi::wimlib_update_op_WIMLIB_UPDATE_OP_ADD;
            c.__bindgen_anon_1.add = ffi::wimlib_add_command {
                fs_source_path: h.as_ptr() as *mut _,
                wim_target_path: i.as_ptr() as *mut _,
                config_file: ptr::null_mut(),
                add_flags: (ffi::WIMLIB_ADD_FLAG_NO_ACLS | ffi::WIMLIB_ADD_FLAG_DEREFERENCE)
                    as c_int,
            };
            c
        })
        .collect();
    // SAFETY: live WIMStruct; the commands point at C strings that outlive
    // the call; wimlib does not modify them.
    let code = unsafe { ffi::wimlib_update_image(w.raw.as_ptr(), 1, cmds.as_ptr(), cmds.len(), 0) };
    if code != 0 {
        return Err(WimError::lib("add files to", dest, code));
    }
    // SAFETY: live WIMStruct opened from dest; in-place overwrite, one thread.
    let code = unsafe { ffi::wimlib_overwrite(w.raw.as_ptr(), 0, 1) };
    if code != 0 {
        return Err(WimError::lib("write the added files to", dest, code));
    }
    drop(w);
    pin_times(dest, time)
}

fn set_prop(
    raw: NonNull<ffi::WIMStruct>,
    image: c_int,
    name: &str,
    value: &str,
    dest: &Path,
) -> Result<(), WimError> {
    let k = str_cstring("property name", name)?;
    let v: CString = str_cstring("property value", value)?;
    // SAFETY: live WIMStruct; valid C strings.
    let code =
        unsafe { ffi::wimlib_set_image_property(raw.as_ptr(), image, k.as_ptr(), v.as_ptr()) };
    if code != 0 {
        return Err(WimError::lib("set an image property of", dest, code));
    }
    Ok(())
}

fn set_props(
    raw: NonNull<ffi::WIMStruct>,
    image: c_int,
    opts: &CaptureOptions<'_>,
    dest: &Path,
) -> Result<(), WimError> {
    if let Some(d) = opts.description {
        set_prop(raw, image, "DESCRIPTION", d, dest)?;
    }
    for (k, v) in opts.properties {
        set_prop(raw, image, k, v, dest)?;
    }
    Ok(())
}
