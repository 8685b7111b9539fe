//! SIGINT and SIGTERM set a flag that every copy loop checks, so a build
//! stops promptly and unwinds through the guards that remove partial output.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Installs the handlers (idempotent).
pub fn install() {
    let f = flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(f));
    }
}

/// Fails with [`Interrupted`] once a signal has arrived.
pub fn check() -> io::Result<()> {
    if flag().load(Ordering::Relaxed) {
        Err(io::Error::other(Interrupted))
    } else {
        Ok(())
    }
}

pub fn interrupted() -> bool {
    flag().load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted: the build was stopped and its partial output removed")]
pub struct Interrupted;
