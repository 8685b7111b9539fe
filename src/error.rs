//! Errors that callers branch on, and the exit code each maps to.

use crate::profile::InvalidProfile;

/// Bad input that is not a profile problem: arguments, an existing output,
/// an output inside an input. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}\n    fix: {fix}")]
pub struct UsageError {
    pub message: String,
    pub fix: String,
}

impl UsageError {
    pub fn new(message: impl Into<String>, fix: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// A medium that does not match what it should be. Exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("verification failed: {0}")]
pub struct VerifyFailed(pub String);

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_INVALID: i32 = 2;
pub const EXIT_VERIFY: i32 = 3;

/// The exit code for an error chain.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if cause.is::<InvalidProfile>() || cause.is::<UsageError>() {
            return EXIT_INVALID;
        }
        if cause.is::<VerifyFailed>() || cause.is::<crate::crypto::DecryptError>() {
            return EXIT_VERIFY;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if inner.is::<crate::crypto::DecryptError>() {
                    return EXIT_VERIFY;
                }
            }
        }
        if let Some(crate::wim::WimError::NotAWim { .. }) =
            cause.downcast_ref::<crate::wim::WimError>()
        {
            return EXIT_INVALID;
        }
    }
    EXIT_FAILURE
}
