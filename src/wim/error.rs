//! The error type of [`crate::wim`] and the helpers that build it from wimlib
//! error codes.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

use wimlib_sys as ffi;

/// An error from the WIM layer.
///
/// Every variant names the WIM file it concerns; the variants that come from
/// wimlib itself carry wimlib's numeric error code and its message
/// (`wimlib_get_error_string`).
#[derive(Debug, thiserror::Error)]
pub enum WimError {
    /// The file is not a WIM, or its header, blob table or XML data is
    /// damaged or truncated.
    #[error("{} is not a WIM file or is damaged: {message} (wimlib error {code})", path.display())]
    NotAWim {
        path: PathBuf,
        code: i32,
        message: String,
    },

    /// An image index outside `1..=count` was asked for.
    #[error("{}: there is no image {index} (the WIM has {count} image(s), numbered from 1)", path.display())]
    NoSuchImage {
        path: PathBuf,
        index: u32,
        count: u32,
    },

    /// A path that does not exist inside the image.
    #[error("{}: image {image} has no file or folder \"{inner}\"", path.display())]
    NoSuchPath {
        path: PathBuf,
        image: u32,
        inner: String,
    },

    /// A path inside the image that names a folder or reparse point
    /// (symbolic link, junction) where a regular file was needed.
    #[error("{}: \"{inner}\" in image {image} is not a regular file", path.display())]
    NotAFile {
        path: PathBuf,
        image: u32,
        inner: String,
    },

    /// A file-system operation done by this module (not by wimlib) failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A path or name given to wimlib holds a NUL byte, which C strings
    /// cannot carry.
    #[error("{what} contains a NUL byte: {value:?}")]
    InteriorNul { what: &'static str, value: String },

    /// [`crate::wim::split`]: one resource (a file's stored data, or the
    /// image metadata that must all go in the first part) plus the fixed
    /// per-part overhead does not fit in `part_size`. WIM parts cannot split
    /// a resource, so wimlib would write a part larger than asked.
    #[error(
        "cannot split {} into parts of at most {part_size} bytes: it holds a resource of \
         {largest} bytes that cannot be divided between parts (with the part's headers it \
         needs about {needed} bytes); choose a larger part size",
        path.display()
    )]
    ResourceTooLarge {
        path: PathBuf,
        part_size: u64,
        largest: u64,
        needed: u64,
    },

    /// [`crate::wim::split`]: a part came out larger than `part_size` all the
    /// same (found by checking the written files). The parts are deleted.
    #[error(
        "splitting {} wrote part {} of {actual} bytes, more than the requested {part_size}; \
         choose a larger part size",
        path.display(),
        part.display()
    )]
    PartTooLarge {
        path: PathBuf,
        part: PathBuf,
        part_size: u64,
        actual: u64,
    },

    /// Any other wimlib failure.
    #[error("wimlib failed to {op} {}: {message} (wimlib error {code})", path.display())]
    Lib {
        op: &'static str,
        path: PathBuf,
        code: i32,
        message: String,
    },
}

impl WimError {
    /// The wimlib error code, for the variants that come from wimlib.
    pub fn code(&self) -> Option<i32> {
        match self {
            WimError::NotAWim { code, .. } | WimError::Lib { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn lib(op: &'static str, path: &Path, code: c_int) -> WimError {
        WimError::Lib {
            op,
            path: path.to_path_buf(),
            code,
            message: error_string(code),
        }
    }

    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> WimError {
        WimError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Error for a failed `wimlib_open_wim`: codes that mean "this is not a
    /// (whole, sound) WIM" become [`WimError::NotAWim`].
    pub(crate) fn open(path: &Path, code: c_int) -> WimError {
        const NOT_A_WIM: &[ffi::wimlib_error_code] = &[
            ffi::wimlib_error_code_WIMLIB_ERR_NOT_A_WIM_FILE,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_HEADER,
            ffi::wimlib_error_code_WIMLIB_ERR_UNEXPECTED_END_OF_FILE,
            ffi::wimlib_error_code_WIMLIB_ERR_UNKNOWN_VERSION,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_CHUNK_SIZE,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_COMPRESSION_TYPE,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_LOOKUP_TABLE_ENTRY,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_INTEGRITY_TABLE,
            ffi::wimlib_error_code_WIMLIB_ERR_INTEGRITY,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_PART_NUMBER,
            ffi::wimlib_error_code_WIMLIB_ERR_INVALID_PIPABLE_WIM,
            ffi::wimlib_error_code_WIMLIB_ERR_IMAGE_COUNT,
            ffi::wimlib_error_code_WIMLIB_ERR_XML,
            ffi::wimlib_error_code_WIMLIB_ERR_DECOMPRESSION,
        ];
        if u32::try_from(code).is_ok_and(|c| NOT_A_WIM.contains(&c)) {
            WimError::NotAWim {
                path: path.to_path_buf(),
                code,
                message: error_string(code),
            }
        } else {
            WimError::lib("open", path, code)
        }
    }
}

/// wimlib's message for an error code.
pub(crate) fn error_string(code: c_int) -> String {
    let Ok(ucode) = ffi::wimlib_error_code::try_from(code) else {
        return format!("unknown wimlib error {code}");
    };
    // SAFETY: wimlib_get_error_string accepts any value and returns a pointer
    // to a static NUL-terminated string ("Unknown error" for unknown codes).
    let ptr = unsafe { ffi::wimlib_get_error_string(ucode) };
    if ptr.is_null() {
        return format!("unknown wimlib error {code}");
    }
    // SAFETY: non-null, NUL-terminated, static lifetime (see above).
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}
