//! `tsmedia create`: profile -> plan -> writer.

use std::path::PathBuf;

use anyhow::Result;

use super::Global;
use crate::cli::CreateArgs;
use crate::crypto::kdf::KdfParams;
use crate::crypto::password;
use crate::error::UsageError;
use crate::profile::{self, OutputFormat};
use crate::write::{self, WriteOptions};

pub fn run(g: &Global, a: CreateArgs) -> Result<i32> {
    let loaded = profile::load(&a.profile)?;
    let format: OutputFormat = a
        .format
        .map(Into::into)
        .or(loaded.profile.output.as_ref().and_then(|o| o.format))
        .unwrap_or(OutputFormat::Folder);
    let output: PathBuf = match (
        &a.output,
        loaded.profile.output.as_ref().and_then(|o| o.path.as_ref()),
    ) {
        (Some(o), _) => o.clone(),
        (None, Some(p)) => profile::validate::resolve(&loaded.base_dir, p),
        (None, None) => {
            return Err(UsageError::new(
                "no output path",
                "give --output PATH, or set `output.path` in the profile",
            )
            .into())
        }
    };
    let pw_src = a.password.source();
    let mut loaded = loaded;
    if pw_src.is_given() {
        loaded.profile.media.password_protected = true;
    }
    if a.encrypt_content {
        loaded.profile.media.encrypt_content = true;
    }
    let vp = profile::validate::validate(loaded, a.media_type.map(Into::into))?;
    check_output_against_inputs(&vp, &output)?;
    // Ask for the password before the long work starts.
    let password = if vp.profile().media.password_protected {
        let pw = password::get(&pw_src, true)?;
        password::check_new(&pw)?;
        Some(pw)
    } else {
        None
    };
    let encrypt_content = vp.profile().media.encrypt_content;
    let plan = crate::plan::build_with(
        &vp,
        &crate::plan::PlanOptions {
            boot_manager: a.boot_manager.map(Into::into),
            password: password.clone(),
        },
    )?;
    let plan = match &password {
        Some(pw) if encrypt_content => {
            // FAT32 and ISO volume sets split large WIMs into .swm parts,
            // which must happen to the plaintext; the limits are checked,
            // and volumes assigned, again on the ciphertext.
            let plan = crate::plan::limits::apply(plan, format)?;
            crate::plan::encrypt::apply(plan, pw, KdfParams::DEFAULT)?
        }
        _ => plan,
    };
    drop(password);
    let plan = crate::plan::limits::apply(plan, format)?;
    if matches!(format, OutputFormat::UsbImage | OutputFormat::UsbDevice) && !g.quiet {
        let has_bootmgr = plan
            .entries
            .iter()
            .any(|e| e.path.eq_ignore_ascii_case("bootmgr"));
        let (warn, note) = crate::usb::boot::boot_note(a.partition_table, has_bootmgr);
        if warn {
            eprintln!("warning: {note}");
        } else if g.verbose > 0 {
            eprintln!("{note}");
        }
    }
    if g.verbose > 0 && !g.quiet {
        eprintln!(
            "plan: {} medium \"{}\", {} files, {} ({} bytes), format {format}",
            plan.media_type,
            plan.label,
            plan.entries.len(),
            crate::write::output::human_bytes(plan.total_size()),
            plan.total_size()
        );
        if g.verbose > 1 {
            for e in &plan.entries {
                eprintln!("  /{} ({} bytes) <- {}", e.path, e.size, e.origin());
            }
        }
    }
    // Test hook: a pause between planning and writing, so tests can change a
    // source or send a signal at a known point.
    if let Some(ms) = std::env::var("TSMEDIA_TEST_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        eprintln!("pausing {ms} ms before writing");
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        while std::time::Instant::now() < until {
            crate::io::cancel::check()?;
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    let opts = WriteOptions {
        force: a.force,
        quiet: g.quiet,
        hash_output: a.json,
    };
    let needed = plan.total_size();
    let report = write_medium(&plan, format, &output, &opts, &a)
        .map_err(|e| explain_space(e, &output, needed))?;
    if let Some(der) = plan
        .media_certificate_der
        .as_ref()
        .filter(|d| !d.is_empty())
    {
        write_certificate(g, format, &output, der)?;
    }
    print_report(g, &a, &report)?;
    Ok(0)
}

/// Where the public media certificate goes: `<output>.media.cer`.
pub fn certificate_path(output: &std::path::Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".media.cer");
    output.with_file_name(name)
}

/// Writes the media certificate (DER) beside the output, through a
/// temporary name. A USB device has no "beside": the certificate is left
/// out, with a note.
fn write_certificate(
    g: &Global,
    format: OutputFormat,
    output: &std::path::Path,
    der: &[u8],
) -> Result<()> {
    use anyhow::Context as _;
    if format == OutputFormat::UsbDevice {
        if !g.quiet {
            eprintln!("note: the media certificate is not written for a USB device; build a usb-image or folder to get <output>.media.cer");
        }
        return Ok(());
    }
    let path = certificate_path(output);
    let tmp = path.with_file_name(format!(
        ".{}.tsmedia-partial-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, der)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("writing the media certificate {}", path.display()))?;
    Ok(())
}

/// A write that ran out of space says how much the medium needs.
fn explain_space(e: anyhow::Error, output: &std::path::Path, needed: u64) -> anyhow::Error {
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(libc::ENOSPC))
    });
    if full {
        e.context(format!(
            "out of space writing {}: the medium needs {} ({needed} bytes); free some space or choose another --output (nothing was left behind)",
            output.display(),
            crate::write::output::human_bytes(needed)
        ))
    } else {
        e
    }
}

fn write_medium(
    plan: &crate::plan::Plan,
    format: OutputFormat,
    output: &std::path::Path,
    opts: &WriteOptions,
    a: &CreateArgs,
) -> Result<write::Report> {
    Ok(match format {
        OutputFormat::Folder => write::folder::write(plan, output, opts)?,
        OutputFormat::Iso => crate::iso::write(plan, output, opts)?,
        OutputFormat::UsbImage | OutputFormat::UsbDevice => {
            let usb_opts = write::usb::UsbOptions {
                table: a.partition_table,
                size: a.size,
                allow_non_removable: a.allow_non_removable,
                yes: a.yes,
                verify: !a.no_verify,
                verify_image: false,
            };
            if format == OutputFormat::UsbImage {
                write::usb::write_image(plan, output, opts, &usb_opts)?
            } else {
                write::usb::write_device(plan, output, opts, &usb_opts)?
            }
        }
        OutputFormat::Wim => {
            let wopts = write::wim::WimOptions {
                compression: a.compression.into(),
                split: a.split,
            };
            write::wim::write(plan, output, opts, &wopts)?
        }
    })
}

fn print_report(g: &Global, a: &CreateArgs, report: &write::Report) -> Result<()> {
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !g.quiet {
        eprintln!(
            "wrote {} medium to {} ({} files, {})",
            report.media_type,
            report.output.display(),
            report.files,
            crate::write::output::human_bytes(report.output_bytes)
        );
    }
    Ok(())
}

/// Refuses an output that is, or is inside, one of the profile's sources,
/// or that would contain the profile itself.
fn check_output_against_inputs(vp: &profile::ValidProfile, output: &std::path::Path) -> Result<()> {
    let abs = |p: &std::path::Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // Canonicalize the longest existing ancestor.
        let mut base = p.clone();
        let mut rest = Vec::new();
        while !base.exists() {
            match (base.file_name().map(|n| n.to_os_string()), base.parent()) {
                (Some(n), Some(par)) => {
                    rest.push(n);
                    base = par.to_path_buf();
                }
                _ => break,
            }
        }
        let mut c = base.canonicalize().unwrap_or(base);
        for n in rest.into_iter().rev() {
            c.push(n);
        }
        c
    };
    let out = abs(output);
    let p = vp.profile();
    let mut inputs: Vec<(String, String)> =
        vec![("--profile".into(), vp.loaded.file.display().to_string())];
    if let Some(b) = &p.boot_image.path {
        inputs.push(("boot_image.path".into(), b.clone()));
    }
    if let Some(os) = p.os_image.as_ref().and_then(|o| o.path.clone()) {
        inputs.push(("os_image.path".into(), os));
    }
    for (i, cs) in p.content_sources.iter().enumerate() {
        if let Some(l) = &cs.content_library {
            inputs.push((format!("content_sources[{i}].content_library"), l.clone()));
        }
        if let Some(f) = &cs.folder {
            inputs.push((format!("content_sources[{i}].folder"), f.clone()));
        }
    }
    if let Some(ts) = &p.task_sequence {
        inputs.push(("task_sequence.path".into(), ts.path.clone()));
    }
    for (i, pkg) in p.packages.iter().enumerate() {
        if let Some(src) = &pkg.source {
            inputs.push((format!("packages[{i}].source"), src.clone()));
        }
    }
    if let Some(f) = p.prestart.as_ref().and_then(|x| x.files.clone()) {
        inputs.push(("prestart.files".into(), f));
    }
    for (i, x) in p.extra_files.iter().enumerate() {
        inputs.push((format!("extra_files[{i}].source"), x.source.clone()));
    }
    for (key, v) in inputs {
        let src = if key == "--profile" {
            abs(std::path::Path::new(&v))
        } else {
            abs(&vp.resolve(&v))
        };
        if out == src || out.starts_with(&src) || src.starts_with(&out) {
            return Err(UsageError::new(
                format!(
                    "the output {} overlaps `{key}` ({}): writing it would change or destroy an input",
                    output.display(),
                    src.display()
                ),
                "write the medium somewhere outside the sources",
            )
            .into());
        }
    }
    Ok(())
}
