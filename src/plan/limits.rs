//! Format limits, checked on the plan before anything is written: volume
//! sizes for ISO volume sets, FAT32's 4 GiB file limit for USB media.

use anyhow::Result;

use super::Plan;
use crate::profile::{InvalidProfile, OutputFormat};

/// Adapts a plan to what `format` can hold, or explains why it cannot.
pub fn apply(plan: Plan, format: OutputFormat) -> Result<Plan> {
    match format {
        OutputFormat::Folder | OutputFormat::Wim => Ok(plan),
        OutputFormat::Iso => iso(plan),
        OutputFormat::UsbImage | OutputFormat::UsbDevice => Ok(plan),
    }
}

/// ISO: names must fit UDF's 255-byte file identifiers; content larger than
/// the chosen `media.size` becomes a volume set.
fn iso(plan: Plan) -> Result<Plan> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let names = plan
        .entries
        .iter()
        .flat_map(|e| e.path.split('/').map(move |n| (n, &e.path)))
        .chain(
            plan.empty_dirs
                .iter()
                .flat_map(|d| d.split('/').map(move |n| (n, d))),
        );
    for (name, path) in names {
        let n = crate::iso::udf::name_len(name);
        if n > crate::iso::udf::MAX_NAME_BYTES && seen.insert(name.to_string()) {
            problems.push(Plan::problem(
                "",
                format!(
                    "`{name}` in `/{path}` takes {n} bytes in UDF, which allows {} (names with characters beyond Latin-1 take 2 bytes per character, so at most 127 of them)",
                    crate::iso::udf::MAX_NAME_BYTES
                ),
                "shorten the name",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(InvalidProfile {
            file: plan.profile_file.clone(),
            problems,
        }
        .into());
    }
    match plan.media_size.capacity() {
        Some(cap) => super::volumes::assign(plan, cap),
        None => Ok(plan),
    }
}
