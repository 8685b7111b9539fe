//! `tsmedia plan`: the whole medium, without writing it.

use anyhow::Result;

use super::Global;
use crate::cli::PlanArgs;
use crate::profile::{self, InvalidProfile, OutputFormat};
use crate::write::output::human_bytes;

pub fn run(_g: &Global, a: PlanArgs) -> Result<i32> {
    let dbx = crate::secureboot::Dbx::load(a.secure_boot.dbx.as_deref())?;
    let loaded = profile::load(&a.profile)?;
    let format = a
        .format
        .map(Into::into)
        .or(loaded.profile.output.as_ref().and_then(|o| o.format))
        .unwrap_or(OutputFormat::Folder);
    let res = profile::validate::validate(loaded, a.media_type.map(Into::into))
        .map_err(anyhow::Error::from)
        .and_then(|vp| {
            crate::plan::build_with(
                &vp,
                &crate::plan::PlanOptions {
                    boot_manager: a.boot_manager.map(Into::into),
                    ..Default::default()
                },
            )
        })
        .and_then(|p| crate::plan::limits::apply(p, format));
    let plan = match res {
        Ok(p) => p,
        Err(e) => {
            if a.json {
                if let Some(inv) = e.downcast_ref::<InvalidProfile>() {
                    let v = serde_json::json!({ "ok": false, "problems": inv.problems });
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
            }
            return Err(e);
        }
    };
    let sb = crate::secureboot::report::from_plan(&plan, &dbx);
    let usb = matches!(format, OutputFormat::UsbImage | OutputFormat::UsbDevice);
    let boot_note = usb.then(|| {
        let has_bootmgr = plan
            .entries
            .iter()
            .any(|e| e.path.eq_ignore_ascii_case("bootmgr"));
        crate::usb::boot::boot_note(a.partition_table, has_bootmgr)
    });
    if a.json {
        let mut v = serde_json::to_value(plan.view())?;
        v["ok"] = true.into();
        v["problems"] = serde_json::json!([]);
        v["secure_boot"] = serde_json::to_value(&sb)?;
        let (warnings, notes): (Vec<_>, Vec<_>) = boot_note.iter().partition(|(w, _)| *w);
        v["warnings"] = sb
            .warnings
            .iter()
            .cloned()
            .chain(warnings.iter().map(|(_, t)| t.clone()))
            .collect();
        v["notes"] = notes.iter().map(|(_, t)| t.clone()).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "{} medium \"{}\" ({}), {} files, {}",
        plan.media_type,
        plan.label,
        plan.media_guid,
        plan.entries.len(),
        human_bytes(plan.total_size())
    );
    if let Some(b) = &plan.boot.bios {
        println!("BIOS boot: /{b}");
    }
    if let Some(u) = &plan.boot.uefi {
        println!("UEFI boot: /{u}");
    }
    if let (Some(m), Some(from)) = (plan.boot.boot_manager, plan.boot.boot_manager_from) {
        println!("boot manager: {m} (chosen by {from})");
    }
    for l in sb.text_lines() {
        println!("{l}");
    }
    match &boot_note {
        Some((true, t)) => println!("warning: {t}"),
        Some((false, t)) => println!("{t}"),
        None => {}
    }
    let w = plan
        .entries
        .iter()
        .map(|e| e.size.to_string().len())
        .max()
        .unwrap_or(1);
    let volumes = plan.volume_count();
    if volumes > 1 {
        println!(
            "volume set: {volumes} volumes of {} (volume 1 boots and holds the boot files and SMS/data)",
            plan.media_size.as_str()
        );
    }
    for e in &plan.entries {
        if volumes > 1 {
            println!(
                "{:>w$}  [volume {}]  /{}  <- {}",
                e.size,
                e.volume,
                e.path,
                e.origin(),
                w = w
            );
        } else {
            println!("{:>w$}  /{}  <- {}", e.size, e.path, e.origin(), w = w);
        }
    }
    for d in &plan.empty_dirs {
        println!("{:>w$}  /{}/  (empty folder)", "-", d, w = w);
    }
    if !plan.packages.is_empty() {
        println!("packages:");
        for p in &plan.packages {
            let refs = if p.referenced_by.is_empty() {
                "not referenced".to_string()
            } else {
                format!("referenced by {}", p.referenced_by.join(", "))
            };
            println!(
                "  {} \"{}\" ({}) /{}  <- {}; {refs}",
                p.id, p.name, p.kind, p.path, p.origin
            );
        }
    }
    println!(
        "total: {} files, {} bytes; no problems found",
        plan.entries.len(),
        plan.total_size()
    );
    for w in &sb.warnings {
        println!("WARNING: {w}");
    }
    Ok(0)
}
