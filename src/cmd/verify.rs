//! `tsmedia verify`: is the medium what its manifest says?

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::crypto::password::{self, PasswordSource};
use crate::error::VerifyFailed;

/// `verify`'s Secure Boot options.
#[derive(Debug, Clone, Default)]
pub struct SecureBootOptions {
    /// `--dbx FILE`.
    pub dbx: Option<PathBuf>,
    /// `--strict`: warnings fail the check (exit 3).
    pub strict: bool,
}

pub fn run(
    g: &Global,
    paths: &[PathBuf],
    pw: PasswordSource,
    json: bool,
    sbo: &SecureBootOptions,
) -> Result<i32> {
    let dbx = crate::secureboot::Dbx::load(sbo.dbx.as_deref())?;
    let m = crate::read::open::open(paths)?;
    let password = if pw.is_given() {
        Some(password::get(&pw, false)?)
    } else {
        None
    };
    // The password also opens encrypted content, when the medium has some.
    let key = match (&password, crate::verify::read_manifest(m.as_ref())) {
        (Some(p), Ok(man)) if man.encryption.is_some() => {
            Some(crate::verify::open_key(m.as_ref(), &man, p)?)
        }
        _ => None,
    };
    let out = crate::verify::verify(
        m.as_ref(),
        key.as_ref(),
        password.as_ref().map(|p| p.as_str()),
        g.quiet || json,
    )?;
    let sb = crate::secureboot::report::from_medium(m.as_ref(), &dbx);
    if json {
        let mut v = serde_json::to_value(&out)?;
        v["ok"] = out.problems.is_empty().into();
        v["secure_boot"] = serde_json::to_value(&sb)?;
        v["warnings"] = serde_json::to_value(&sb.warnings)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for p in &out.problems {
            println!("{p}");
        }
        if !out.tsmedia_manifest {
            println!("{}: no tsmedia manifest (made by the product?): structure and settings checked, every file read", out.medium);
        }
        println!(
            "settings: Variables.dat {}{}",
            out.variables,
            out.policy
                .as_ref()
                .map(|p| format!("; Policy.xml {p}"))
                .unwrap_or_default()
        );
        for l in sb.text_lines() {
            println!("{l}");
        }
        for w in &sb.warnings {
            println!("WARNING: {w}");
        }
        println!(
            "{}: {} files, {} bytes checked{}; {}",
            out.medium,
            out.files_checked,
            out.bytes_checked,
            if out.encrypted_files > 0 {
                if out.decrypted {
                    format!(
                        " ({} encrypted, decrypted and checked)",
                        out.encrypted_files
                    )
                } else {
                    format!(" ({} encrypted, checked as stored; give the password to check their content)", out.encrypted_files)
                }
            } else {
                String::new()
            },
            if out.problems.is_empty() {
                "intact".to_string()
            } else {
                format!("{} problem(s)", out.problems.len())
            }
        );
    }
    if out.problems.is_empty() && sbo.strict && !sb.warnings.is_empty() {
        return Err(VerifyFailed(format!(
            "{} warning(s) on {} (--strict makes warnings fail)",
            sb.warnings.len(),
            out.medium
        ))
        .into());
    }
    if out.problems.is_empty() {
        Ok(0)
    } else {
        Err(VerifyFailed(format!(
            "{} problem(s) found on {}",
            out.problems.len(),
            out.medium
        ))
        .into())
    }
}
