//! ISO volume sets: when the content does not fit one volume of the chosen
//! `media.size`, files are assigned to volumes 1, 2, … before anything is
//! written, so `tsmedia plan` shows the assignment.
//!
//! * Volume 1 holds the boot files, the boot image and `SMS/data` (the
//!   manifest too), and boots.
//! * Extra files, then each package (the OS image and prestart files are
//!   packages too), go whole to the first volume with room, or to a new
//!   volume.
//! * A package larger than a volume is spread file by file over new
//!   volumes; a WIM larger than a volume is first split into `.swm` parts
//!   (`tsmedia::wim::split`). Any other file larger than a volume is a
//!   problem of the profile.
//!
//! Sizes count each file's data in whole sectors plus a generous allowance
//! for its metadata (ISO 9660, Joliet and UDF records), so a volume never
//! ends up larger than the medium.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sha2::Digest;

use super::{sort_key, Entry, Group, Plan, Source};
use crate::profile::InvalidProfile;

/// Metadata allowance per file: its UDF file entry (one sector), its ISO
/// 9660, Joliet and UDF records, and a share of its folder's.
const PER_FILE: u64 = 4096;
/// Metadata allowance per volume: system area, descriptors, anchors, path tables.
const PER_VOLUME: u64 = 1024 * 1024;
/// Bytes each manifest record grows by when it names its volume.
const MANIFEST_VOLUME_FIELD: u64 = 24;

fn cost(e: &Entry) -> u64 {
    e.size.div_ceil(2048) * 2048 + PER_FILE
}

fn is_wim(e: &Entry) -> bool {
    matches!(e.source, Source::File(_))
        && e.path
            .rsplit('.')
            .next()
            .is_some_and(|x| x.eq_ignore_ascii_case("wim"))
}

/// The largest `.swm` part for `room` bytes: small enough to still fit
/// once encrypted, since password-protected media split their WIMs before
/// encrypting them (the parts are then placed again by their encrypted size).
fn part_size(room: u64) -> u64 {
    // The overhead grows with the size, so that of `room` is enough for less.
    let overhead = crate::crypto::stream::encrypted_size(room) - room;
    room.saturating_sub(overhead)
}

fn human(n: u64) -> String {
    crate::write::output::human_bytes(n)
}

/// Assigns every entry of `plan` a volume for media of `capacity` bytes.
pub fn assign(mut plan: Plan, capacity: u64) -> Result<Plan> {
    let usable = capacity.saturating_sub(PER_VOLUME);
    let size_name = plan.media_size.as_str();
    let problem = |path: &str, size: u64, why: &str| -> anyhow::Error {
        InvalidProfile {
            file: plan.profile_file.clone(),
            problems: vec![Plan::problem(
                "media.size",
                format!(
                    "`/{path}` ({}) is larger than one `{size_name}` volume ({} usable){why}",
                    human(size),
                    human(usable)
                ),
                "choose a larger media.size (dvd, dvd-dl or unlimited), or split the file into smaller ones",
            )],
        }
        .into()
    };

    // Volume 1: boot files and settings, whatever happens.
    let mut used: Vec<u64> = vec![0];
    let reserve = plan.entries.len() as u64 * MANIFEST_VOLUME_FIELD;
    for e in &plan.entries {
        if matches!(e.group, Group::Boot | Group::Data) {
            used[0] += cost(e);
        }
    }
    used[0] += reserve;
    if used[0] > usable {
        return Err(InvalidProfile {
            file: plan.profile_file.clone(),
            problems: vec![Plan::problem(
                "media.size",
                format!(
                    "the boot files and settings alone ({}) do not fit one `{size_name}` volume ({} usable)",
                    human(used[0]),
                    human(usable)
                ),
                "choose a larger media.size (dvd, dvd-dl or unlimited)",
            )],
        }
        .into());
    }
    for e in &mut plan.entries {
        e.volume = 1;
    }

    // Units: extra files first, then packages in the order they appear.
    let mut units: Vec<Group> = Vec::new();
    if plan.entries.iter().any(|e| e.group == Group::Extra) {
        units.push(Group::Extra);
    }
    for e in &plan.entries {
        if matches!(e.group, Group::Package(_)) && !units.contains(&e.group) {
            units.push(e.group.clone());
        }
    }

    let mut new_entries: Vec<Entry> = Vec::new();
    let mut removed: Vec<usize> = Vec::new();
    let mut renamed: Vec<(String, String)> = Vec::new();
    for unit in units {
        let idx: Vec<usize> = (0..plan.entries.len())
            .filter(|&i| plan.entries[i].group == unit)
            .collect();
        let total: u64 = idx.iter().map(|&i| cost(&plan.entries[i])).sum();
        if total <= usable {
            let v = match used.iter().position(|u| u + total <= usable) {
                Some(v) => v,
                None => {
                    used.push(0);
                    used.len() - 1
                }
            };
            used[v] += total;
            for &i in &idx {
                plan.entries[i].volume = v as u32 + 1;
            }
            continue;
        }
        // Larger than a volume: spread over new volumes, file by file.
        used.push(0);
        let place = |used: &mut Vec<u64>, c: u64| -> u32 {
            if *used.last().expect("a volume") + c > usable {
                used.push(0);
            }
            *used.last_mut().expect("a volume") += c;
            used.len() as u32
        };
        for i in idx {
            let c = cost(&plan.entries[i]);
            if c <= usable {
                let v = place(&mut used, c);
                plan.entries[i].volume = v;
                continue;
            }
            let e = plan.entries[i].clone();
            if !is_wim(&e) {
                return Err(problem(
                    &e.path,
                    e.size,
                    " and is not a WIM that can be split",
                ));
            }
            let parts = split_wim(&plan, &e, part_size(usable - PER_FILE)).map_err(|err| {
                problem(
                    &e.path,
                    e.size,
                    &format!(" and could not be split into .swm parts: {err:#}"),
                )
            })?;
            removed.push(i);
            for (k, part) in parts.into_iter().enumerate() {
                let first_part = k == 0;
                let size = std::fs::metadata(&part)
                    .with_context(|| format!("reading {}", part.display()))?
                    .len();
                let name = part
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let dir = e.path.rsplit_once('/').map(|x| x.0).unwrap_or("");
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let mut pe = Entry {
                    path,
                    size,
                    source: Source::File(part),
                    note: super::note(format!("{} (split part {})", e.origin(), k + 1)),
                    group: e.group.clone(),
                    volume: 0,
                    sha256: None,
                };
                pe.volume = place(&mut used, cost(&pe));
                if first_part {
                    renamed.push((e.path.clone(), pe.path.clone()));
                }
                new_entries.push(pe);
            }
        }
    }
    if !removed.is_empty() {
        let mut keep = Vec::new();
        for (i, e) in std::mem::take(&mut plan.entries).into_iter().enumerate() {
            if !removed.contains(&i) {
                keep.push(e);
            }
        }
        keep.extend(new_entries);
        keep.sort_by(|a, b| sort_key(&a.path).cmp(&sort_key(&b.path)));
        plan.entries = keep;
    }
    plan.rename_in_settings(&renamed);
    plan.size_manifest();
    Ok(plan)
}

/// Splits the WIM of `e` into `.swm` parts of at most `part_size` bytes in
/// the plan's scratch folder.
fn split_wim(plan: &Plan, e: &Entry, part_size: u64) -> Result<Vec<PathBuf>> {
    let Source::File(src) = &e.source else {
        anyhow::bail!("not a file");
    };
    let scratch = plan
        .scratch
        .as_ref()
        .context("the plan has no scratch folder")?;
    let tag = sha2::Sha256::digest(e.path.as_bytes());
    let dir = scratch
        .path()
        .join(format!("swm-{}", hex::encode(&tag[..6])));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = e
        .path
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.').map(|x| x.0))
        .unwrap_or("install");
    let first = dir.join(format!("{stem}.swm"));
    Ok(crate::wim::split(src, &first, part_size)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{MediaSize, MediaType};
    use std::sync::Arc;

    fn entry(path: &str, size: u64, group: Group) -> Entry {
        Entry {
            path: path.into(),
            size,
            source: Source::Bytes(Arc::from(&b""[..])),
            note: None,
            group,
            volume: 1,
            sha256: None,
        }
    }

    fn plan(entries: Vec<Entry>) -> Plan {
        Plan {
            profile_file: "p.json".into(),
            media_type: MediaType::Standalone,
            label: "T".into(),
            profile_name: None,
            profile_sha256: String::new(),
            media_guid: "{G}".into(),
            created: time::OffsetDateTime::UNIX_EPOCH,
            validity: None,
            media_size: MediaSize::Cd,
            site: None,
            certificate: None,
            image_info: None,
            entries,
            empty_dirs: Vec::new(),
            boot: Default::default(),
            scratch: None,
            packages: Vec::new(),
            media_certificate_der: None,
        }
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn split_parts_still_fit_once_encrypted() {
        for room in [1 << 20, 650 << 20, 4_700_000_000u64, 8_500_000_000 - 12345] {
            let p = part_size(room);
            let enc = crate::crypto::stream::encrypted_size(p);
            assert!(enc <= room, "{room}: {p} encrypts to {enc}");
            assert!(room - p < room / 1000 + 4096, "{room}: {p} wastes little");
        }
    }

    #[test]
    fn packages_stay_whole_and_boot_files_stay_on_volume_1() {
        let p = plan(vec![
            entry("boot/etfsboot.com", 4096, Group::Boot),
            entry("SMS/data/x", 10, Group::Data),
            entry("SMS/PKG/A/a.bin", 400 * MIB, Group::Package("A".into())),
            entry("SMS/PKG/B/b1.bin", 200 * MIB, Group::Package("B".into())),
            entry("SMS/PKG/B/b2.bin", 200 * MIB, Group::Package("B".into())),
            entry("SMS/PKG/C/c.bin", 200 * MIB, Group::Package("C".into())),
            entry("tsmedia.marker", 10, Group::Extra),
        ]);
        let p = assign(p, 650 * MIB).unwrap();
        let vol = |path: &str| p.entries.iter().find(|e| e.path == path).unwrap().volume;
        assert_eq!(vol("boot/etfsboot.com"), 1);
        assert_eq!(vol("SMS/data/x"), 1);
        assert_eq!(vol("tsmedia.marker"), 1);
        assert_eq!(vol("SMS/PKG/A/a.bin"), 1);
        assert_eq!(vol("SMS/PKG/B/b1.bin"), 2);
        assert_eq!(vol("SMS/PKG/B/b2.bin"), 2);
        // C fits next to A on volume 1 (first fit).
        assert_eq!(vol("SMS/PKG/C/c.bin"), 1);
        assert_eq!(p.volume_count(), 2);
    }

    #[test]
    fn a_package_larger_than_a_volume_is_spread() {
        let p = plan(vec![
            entry("SMS/data/x", 10, Group::Data),
            entry("SMS/PKG/A/1.bin", 500 * MIB, Group::Package("A".into())),
            entry("SMS/PKG/A/2.bin", 500 * MIB, Group::Package("A".into())),
        ]);
        let p = assign(p, 650 * MIB).unwrap();
        let v: Vec<u32> = p.entries.iter().map(|e| e.volume).collect();
        assert_eq!(v, vec![1, 2, 3]);
    }

    #[test]
    fn a_file_larger_than_a_volume_that_is_no_wim_is_a_problem() {
        let p = plan(vec![
            entry("SMS/data/x", 10, Group::Data),
            entry("SMS/PKG/A/big.bin", 700 * MIB, Group::Package("A".into())),
        ]);
        let err = assign(p, 650 * MIB).unwrap_err();
        let inv = err.downcast_ref::<InvalidProfile>().unwrap();
        assert!(inv.problems[0].message.contains("/SMS/PKG/A/big.bin"));
        assert!(inv.problems[0].fix.contains("media.size"));
    }
}
