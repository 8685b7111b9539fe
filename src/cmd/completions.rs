//! `tsmedia completions SHELL`: a completion script generated from the clap
//! definitions in `cli.rs`, so it always offers the options the program takes.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`, for the command `tsmedia`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tsmedia", &mut buf);
    buf
}

/// Prints the script on stdout.
pub fn run(shell: Shell) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(&script(shell))
        .and_then(|()| out.flush())
        .context("writing the completion script to stdout")?;
    Ok(0)
}
