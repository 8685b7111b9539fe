//! The El Torito boot catalog: a validation entry, the initial/default entry,
//! then sections (a header and its entries) for further platforms. Pure
//! parsing: no I/O.

use super::descriptors::{le16, le32};
use crate::read::Problems;

/// Bytes of one catalog entry.
pub const ENTRY: usize = 32;
/// Boot indicator of a bootable entry.
pub const BOOTABLE: u8 = 0x88;
/// Section header indicator: more sections follow.
pub const SECTION_MORE: u8 = 0x90;
/// Section header indicator: the final section.
pub const SECTION_FINAL: u8 = 0x91;
/// Entry extension indicator.
pub const EXTENSION: u8 = 0x44;

/// A boot entry as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub platform: u8,
    pub bootable: bool,
    pub media_type: u8,
    pub load_segment: u16,
    pub system_type: u8,
    pub sector_count: u16,
    pub load_rba: u32,
}

/// The validation entry's checksum: the 16-bit little-endian words of the
/// entry must sum to zero.
pub fn validation_sum(e: &[u8]) -> u16 {
    e.chunks_exact(2).take(ENTRY / 2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    })
}

fn boot_entry(e: &[u8], platform: u8, what: &str, problems: &mut Problems) -> CatalogEntry {
    if e[0] != BOOTABLE && e[0] != 0 {
        problems.push(
            format!("boot catalog {what}"),
            "boot indicator 0x88 or 0x00",
            format!("{:#04x}", e[0]),
        );
    }
    if e[1] & 0x0F > 4 {
        problems.push(
            format!("boot catalog {what}"),
            "boot media type 0 to 4",
            format!("{}", e[1] & 0x0F),
        );
    }
    CatalogEntry {
        platform,
        bootable: e[0] == BOOTABLE,
        media_type: e[1],
        load_segment: le16(e, 2),
        system_type: e[4],
        sector_count: le16(e, 6),
        load_rba: le32(e, 8),
    }
}

/// Parses a catalog (`b` holds its sectors). Structure problems are pushed;
/// the entries that could be read are returned even when some are wrong.
pub fn parse_catalog(b: &[u8], problems: &mut Problems) -> Vec<CatalogEntry> {
    let mut out = Vec::new();
    if b.len() < 2 * ENTRY {
        problems.push(
            "boot catalog",
            "a validation entry and an initial entry",
            format!("{} bytes", b.len()),
        );
        return out;
    }
    let v = &b[..ENTRY];
    if v[0] != 1 {
        problems.push(
            "boot catalog validation entry",
            "header id 0x01",
            format!("{:#04x}", v[0]),
        );
    }
    let sum = validation_sum(v);
    if sum != 0 {
        problems.push(
            "boot catalog validation entry",
            "16-bit words summing to 0 (checksum)",
            format!("sum {sum:#06x}"),
        );
    }
    if v[30] != 0x55 || v[31] != 0xAA {
        problems.push(
            "boot catalog validation entry",
            "key bytes 55 AA",
            format!("{:02X} {:02X}", v[30], v[31]),
        );
    }
    let platform = v[1];
    out.push(boot_entry(
        &b[ENTRY..2 * ENTRY],
        platform,
        "initial/default entry",
        problems,
    ));

    let mut entries = b[2 * ENTRY..].chunks_exact(ENTRY);
    let mut section = 0usize;
    let mut ended = false;
    while let Some(h) = entries.next() {
        match h[0] {
            SECTION_MORE | SECTION_FINAL => {}
            0 => break,
            other => {
                problems.push(
                    format!("boot catalog entry after section {section}"),
                    "a section header (0x90 or 0x91) or the end of the catalog",
                    format!("{other:#04x}"),
                );
                ended = true;
                break;
            }
        }
        section += 1;
        let final_section = h[0] == SECTION_FINAL;
        let platform = h[1];
        let count = le16(h, 2);
        for i in 0..count {
            let what = format!("section {section} entry {}", i + 1);
            let Some(e) = entries.next() else {
                problems.push(
                    format!("boot catalog section {section}"),
                    format!("{count} entries"),
                    format!("the catalog ends after {i}"),
                );
                return out;
            };
            out.push(boot_entry(e, platform, &what, problems));
            // Extension entries follow while bit 5 says so.
            let mut more = e[1] & 0x20 != 0;
            while more {
                match entries.next() {
                    Some(x) if x[0] == EXTENSION => more = x[1] & 0x20 != 0,
                    Some(x) => {
                        problems.push(
                            format!("boot catalog {what} extension"),
                            "indicator 0x44",
                            format!("{:#04x}", x[0]),
                        );
                        return out;
                    }
                    None => return out,
                }
            }
        }
        if final_section {
            ended = true;
            break;
        }
    }
    if section > 0 && !ended {
        problems.push(
            "boot catalog",
            "a final section header (0x91)",
            "none before the end of the catalog",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(boot: u8, media: u8, count: u16, rba: u32) -> [u8; ENTRY] {
        let mut e = [0u8; ENTRY];
        e[0] = boot;
        e[1] = media;
        e[6..8].copy_from_slice(&count.to_le_bytes());
        e[8..12].copy_from_slice(&rba.to_le_bytes());
        e
    }

    fn catalog() -> Vec<u8> {
        let mut v = [0u8; ENTRY];
        v[0] = 1;
        v[30] = 0x55;
        v[31] = 0xAA;
        let sum = validation_sum(&v);
        v[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        let mut b = v.to_vec();
        b.extend_from_slice(&entry(BOOTABLE, 0, 8, 40));
        let mut h = [0u8; ENTRY];
        h[0] = SECTION_FINAL;
        h[1] = 0xEF;
        h[2] = 1;
        b.extend_from_slice(&h);
        b.extend_from_slice(&entry(BOOTABLE, 0, 2880, 50));
        b.resize(2048, 0);
        b
    }

    #[test]
    fn a_bios_and_efi_catalog() {
        let mut p = Problems::new();
        let e = parse_catalog(&catalog(), &mut p);
        assert!(p.is_empty(), "{:?}", p.into_vec());
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].platform, e[0].sector_count, e[0].load_rba),
            (0, 8, 40)
        );
        assert_eq!(
            (e[1].platform, e[1].sector_count, e[1].load_rba),
            (0xEF, 2880, 50)
        );
        assert!(e[1].bootable);
    }

    #[test]
    fn a_damaged_validation_entry_is_reported_and_the_rest_still_read() {
        let mut c = catalog();
        c[5] ^= 0x40;
        let mut p = Problems::new();
        let e = parse_catalog(&c, &mut p);
        let p = p.into_vec();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].what, "boot catalog validation entry");
        assert!(p[0].expected.contains("checksum"));
        assert_eq!(e.len(), 2);

        let mut c = catalog();
        c[31] = 0;
        let mut p = Problems::new();
        parse_catalog(&c, &mut p);
        assert!(p.iter().any(|p| p.expected.contains("55 AA")));
    }

    #[test]
    fn short_and_inconsistent_catalogs_do_not_panic() {
        let c = catalog();
        for n in 0..c.len().min(200) {
            let mut p = Problems::new();
            parse_catalog(&c[..n], &mut p);
        }
        let mut c = catalog();
        c[64 + 2] = 0xFF; // a section claiming 255 entries
        let mut p = Problems::new();
        parse_catalog(&c, &mut p);
        assert!(!p.is_empty());
    }
}
