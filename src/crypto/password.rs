//! Getting the password: from a file, an environment variable or a prompt
//! without echo; never from the command line.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::UsageError;

/// Shortest password accepted for new media.
pub const MIN_LEN: usize = 12;

/// Where the password comes from.
#[derive(Debug, Clone, Default)]
pub struct PasswordSource {
    pub file: Option<std::path::PathBuf>,
    pub env: Option<String>,
}

impl PasswordSource {
    pub fn is_given(&self) -> bool {
        self.file.is_some() || self.env.is_some()
    }
}

fn from_file(p: &Path) -> Result<Zeroizing<String>, UsageError> {
    let s = Zeroizing::new(std::fs::read_to_string(p).map_err(|e| {
        UsageError::new(
            format!("cannot read the password file {}: {e}", p.display()),
            "give --password-file a readable file holding the password on its first line",
        )
    })?);
    let first = s.lines().next().unwrap_or("");
    Ok(Zeroizing::new(first.to_string()))
}

/// Reads the password. `confirm` asks twice when prompting (new media).
pub fn get(src: &PasswordSource, confirm: bool) -> Result<Zeroizing<String>, UsageError> {
    let pw = if let Some(f) = &src.file {
        from_file(f)?
    } else if let Some(v) = &src.env {
        Zeroizing::new(std::env::var(v).map_err(|_| {
            UsageError::new(
                format!("the environment variable {v} (--password-env) is not set"),
                format!("export {v}=<password>, or use --password-file"),
            )
        })?)
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let a = Zeroizing::new(rpassword::prompt_password("Media password: ").map_err(|e| {
            UsageError::new(
                format!("cannot read the password: {e}"),
                "use --password-file",
            )
        })?);
        if confirm {
            let b = Zeroizing::new(rpassword::prompt_password("Repeat the password: ").map_err(
                |e| {
                    UsageError::new(
                        format!("cannot read the password: {e}"),
                        "use --password-file",
                    )
                },
            )?);
            if *a != *b {
                return Err(UsageError::new(
                    "the two passwords differ",
                    "type the same password twice",
                ));
            }
        }
        a
    } else {
        return Err(UsageError::new(
            "the medium is password protected, and no password was given",
            "pass --password-file FILE or --password-env VAR (there is no terminal to ask on)",
        ));
    };
    Ok(pw)
}

/// Checks a password for a new medium.
pub fn check_new(pw: &str) -> Result<(), UsageError> {
    let n = pw.chars().count();
    if n < MIN_LEN {
        return Err(UsageError::new(
            format!("the password is {n} characters long; at least {MIN_LEN} are required"),
            format!("choose a password of {MIN_LEN} or more characters"),
        ));
    }
    Ok(())
}
