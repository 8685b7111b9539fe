//! ECMA-167 / OSTA UDF on-disk structures: descriptor tags and their CRCs,
//! OSTA CS0 strings, allocation descriptors, and the volume and file
//! descriptors a reader of a UDF bridge needs. Pure parsing: no I/O.

use super::descriptors::{bytes, le16, le32, le64, u8_at};

pub const TAG_PRIMARY_VOLUME: u16 = 1;
pub const TAG_ANCHOR: u16 = 2;
pub const TAG_VOLUME_POINTER: u16 = 3;
pub const TAG_IMPLEMENTATION_USE: u16 = 4;
pub const TAG_PARTITION: u16 = 5;
pub const TAG_LOGICAL_VOLUME: u16 = 6;
pub const TAG_UNALLOCATED_SPACE: u16 = 7;
pub const TAG_TERMINATING: u16 = 8;
pub const TAG_INTEGRITY: u16 = 9;
pub const TAG_FILE_SET: u16 = 256;
pub const TAG_FILE_ID: u16 = 257;
pub const TAG_ALLOCATION_EXTENT: u16 = 258;
pub const TAG_INDIRECT_ENTRY: u16 = 259;
pub const TAG_FILE_ENTRY: u16 = 261;
pub const TAG_EXTENDED_FILE_ENTRY: u16 = 266;

/// The sector of the first Anchor Volume Descriptor Pointer.
pub const ANCHOR_SECTOR: u64 = 256;

/// A descriptor tag (ECMA-167 3/7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub id: u16,
    pub version: u16,
    pub checksum: u8,
    pub serial: u16,
    pub crc: u16,
    pub crc_len: u16,
    pub location: u32,
}

pub fn parse_tag(b: &[u8]) -> Tag {
    Tag {
        id: le16(b, 0),
        version: le16(b, 2),
        checksum: u8_at(b, 4),
        serial: le16(b, 6),
        crc: le16(b, 8),
        crc_len: le16(b, 10),
        location: le32(b, 12),
    }
}

/// The tag checksum: bytes 0-3 and 5-15 of the tag, summed modulo 256.
pub fn tag_checksum(b: &[u8]) -> u8 {
    bytes::<16>(b, 0)
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .fold(0u8, |s, (_, &x)| s.wrapping_add(x))
}

/// The descriptor CRC (ECMA-167 3/7.2.6): CRC-ITU-T, polynomial
/// x^16 + x^12 + x^5 + 1, initial value 0, most significant bit first.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// What is wrong with a tag, if anything (as expected / found pairs).
pub fn tag_faults(b: &[u8], location: u32) -> Vec<(String, String)> {
    let t = parse_tag(b);
    let mut out = Vec::new();
    let sum = tag_checksum(b);
    if sum != t.checksum {
        out.push((
            format!("tag checksum {sum:#04x}"),
            format!("{:#04x}", t.checksum),
        ));
    }
    let end = 16 + usize::from(t.crc_len);
    match b.get(16..end) {
        // A CRC length of 0: no CRC recorded.
        Some(_) if t.crc_len == 0 => {}
        Some(body) => {
            let crc = crc16(body);
            if crc != t.crc {
                out.push((
                    format!("descriptor CRC {crc:#06x} over {} bytes", t.crc_len),
                    format!("{:#06x}", t.crc),
                ));
            }
        }
        None => out.push((
            format!("a CRC length within the descriptor's {} bytes", b.len()),
            format!("{}", t.crc_len),
        )),
    }
    if t.location != location {
        out.push((
            format!("tag location {location}"),
            format!("{}", t.location),
        ));
    }
    out
}

/// OSTA CS0 characters (UDF 2.1.1): a compression id (8: one byte per
/// character, 16: UCS-2 big-endian; 254/255 are the same for deleted
/// entries) then the characters.
pub fn cs0(b: &[u8]) -> Result<String, String> {
    let Some((&comp, rest)) = b.split_first() else {
        return Ok(String::new());
    };
    match comp {
        8 | 254 => Ok(rest.iter().map(|&c| c as char).collect()),
        16 | 255 => {
            if rest.len() % 2 != 0 {
                return Err(format!(
                    "an even number of UCS-2 bytes, found {}",
                    rest.len()
                ));
            }
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            Ok(String::from_utf16_lossy(&units))
        }
        other => Err(format!("compression id 8 or 16, found {other}")),
    }
}

/// A d-string field (ECMA-167 1/7.2.12): CS0 characters, and the length used
/// in the field's last byte.
pub fn dstring(field: &[u8]) -> Result<String, String> {
    let Some((&len, body)) = field.split_last() else {
        return Ok(String::new());
    };
    let len = usize::from(len);
    if len == 0 {
        return Ok(String::new());
    }
    if len > body.len() {
        return Err(format!("a length up to {}, found {len}", body.len()));
    }
    cs0(&body[..len])
}

/// Extent types in the two high bits of an allocation descriptor's length.
pub const EXTENT_RECORDED: u8 = 0;
pub const EXTENT_ALLOCATED_NOT_RECORDED: u8 = 1;
pub const EXTENT_NOT_ALLOCATED: u8 = 2;
pub const EXTENT_NEXT: u8 = 3;

/// Allocation descriptor forms, from the ICB tag flags (bits 0-2).
pub const AD_SHORT: u8 = 0;
pub const AD_LONG: u8 = 1;
pub const AD_EXTENDED: u8 = 2;
pub const AD_EMBEDDED: u8 = 3;

/// An allocation descriptor (short_ad, long_ad or ext_ad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ad {
    pub kind: u8,
    pub len: u32,
    pub block: u32,
    /// The partition reference (long and extended forms only).
    pub partition: Option<u16>,
}

/// A long_ad (ECMA-167 4/14.14.2) at `off`.
pub fn long_ad(b: &[u8], off: usize) -> Ad {
    let l = le32(b, off);
    Ad {
        kind: (l >> 30) as u8,
        len: l & 0x3FFF_FFFF,
        block: le32(b, off + 4),
        partition: Some(le16(b, off + 8)),
    }
}

/// Bytes of one allocation descriptor of a form.
pub fn ad_size(form: u8) -> Option<usize> {
    match form {
        AD_SHORT => Some(8),
        AD_LONG => Some(16),
        AD_EXTENDED => Some(20),
        _ => None,
    }
}

/// The allocation descriptors in `area`, of `form`; an extent length of 0
/// ends the list. At most `cap` descriptors are returned.
pub fn parse_ads(area: &[u8], form: u8, cap: usize) -> Result<Vec<Ad>, String> {
    let size = ad_size(form).ok_or_else(|| format!("allocation descriptor form {form}"))?;
    let mut out = Vec::new();
    for c in area.chunks_exact(size) {
        let ad = match form {
            AD_SHORT => {
                let l = le32(c, 0);
                Ad {
                    kind: (l >> 30) as u8,
                    len: l & 0x3FFF_FFFF,
                    block: le32(c, 4),
                    partition: None,
                }
            }
            AD_LONG => long_ad(c, 0),
            _ => {
                // ext_ad: extent length, recorded length, information
                // length, lb_addr, implementation use.
                let l = le32(c, 0);
                Ad {
                    kind: (l >> 30) as u8,
                    len: l & 0x3FFF_FFFF,
                    block: le32(c, 12),
                    partition: Some(le16(c, 16)),
                }
            }
        };
        if ad.len == 0 {
            break;
        }
        if out.len() >= cap {
            return Err(format!("at most {cap} allocation descriptors"));
        }
        out.push(ad);
    }
    Ok(out)
}

/// Anchor Volume Descriptor Pointer: (length, location) of the main and
/// reserve volume descriptor sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub main: (u32, u32),
    pub reserve: (u32, u32),
}

pub fn parse_anchor(b: &[u8]) -> Anchor {
    Anchor {
        main: (le32(b, 16), le32(b, 20)),
        reserve: (le32(b, 24), le32(b, 28)),
    }
}

/// Primary Volume Descriptor fields used here.
#[derive(Debug, Clone)]
pub struct PrimaryVolume {
    pub sequence_number: u32,
    pub volume_id: Result<String, String>,
    pub volume_sequence: u16,
    pub max_volume_sequence: u16,
}

pub fn parse_primary_volume(b: &[u8]) -> PrimaryVolume {
    PrimaryVolume {
        sequence_number: le32(b, 16),
        volume_id: dstring(&bytes::<32>(b, 24)),
        volume_sequence: le16(b, 56),
        max_volume_sequence: le16(b, 58),
    }
}

/// Partition Descriptor fields used here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub sequence_number: u32,
    pub number: u16,
    /// The partition contents identifier ("+NSR02", "+NSR03").
    pub contents: String,
    pub access_type: u32,
    pub start: u32,
    pub length: u32,
}

pub fn parse_partition(b: &[u8]) -> Partition {
    Partition {
        sequence_number: le32(b, 16),
        number: le16(b, 22),
        contents: regid_text(&bytes::<23>(b, 25)),
        access_type: le32(b, 184),
        start: le32(b, 188),
        length: le32(b, 192),
    }
}

/// The identifier of an entity identifier (regid), up to its first zero.
pub fn regid_text(id: &[u8]) -> String {
    id.iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect()
}

/// A partition map of a Logical Volume Descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionMap {
    /// Type 1: a physical partition, by number.
    Physical {
        volume_sequence: u16,
        partition: u16,
    },
    /// Type 2 (virtual, sparable, metadata...): named by its identifier.
    Other { kind: u8, identifier: String },
}

/// Logical Volume Descriptor fields used here.
#[derive(Debug, Clone)]
pub struct LogicalVolume {
    pub sequence_number: u32,
    pub volume_id: Result<String, String>,
    pub block_size: u32,
    pub domain: String,
    /// The UDF revision from the domain identifier suffix (0x0102, 0x0201...).
    pub udf_revision: u16,
    pub file_set: Ad,
    pub maps: Vec<PartitionMap>,
    /// A problem with the partition map table, if any.
    pub map_fault: Option<(String, String)>,
}

/// Upper bound of partition maps read.
pub const MAX_PARTITION_MAPS: u32 = 64;

pub fn parse_logical_volume(b: &[u8]) -> LogicalVolume {
    let map_len = le32(b, 264) as usize;
    let n_maps = le32(b, 268);
    let mut maps = Vec::new();
    let mut map_fault = None;
    let table = b.get(440..).unwrap_or(&[]);
    if map_len > table.len() {
        map_fault = Some((
            format!(
                "a partition map table within the descriptor ({} bytes)",
                table.len()
            ),
            format!("{map_len} bytes"),
        ));
    } else if n_maps > MAX_PARTITION_MAPS {
        map_fault = Some((
            format!("at most {MAX_PARTITION_MAPS} partition maps"),
            format!("{n_maps}"),
        ));
    } else {
        let table = &table[..map_len];
        let mut off = 0usize;
        for i in 0..n_maps {
            let kind = u8_at(table, off);
            let len = usize::from(u8_at(table, off + 1));
            if len < 6 || off + len > table.len() {
                map_fault = Some((
                    format!("partition map {i} within the table"),
                    format!("type {kind}, {len} bytes at offset {off}"),
                ));
                break;
            }
            let m = &table[off..off + len];
            maps.push(if kind == 1 {
                PartitionMap::Physical {
                    volume_sequence: le16(m, 2),
                    partition: le16(m, 4),
                }
            } else {
                PartitionMap::Other {
                    kind,
                    identifier: regid_text(&bytes::<23>(m, 5)),
                }
            });
            off += len;
        }
    }
    LogicalVolume {
        sequence_number: le32(b, 16),
        volume_id: dstring(&bytes::<128>(b, 84)),
        block_size: le32(b, 212),
        domain: regid_text(&bytes::<23>(b, 217)),
        udf_revision: le16(b, 216 + 24),
        file_set: long_ad(b, 248),
        maps,
        map_fault,
    }
}

/// The root directory ICB of a File Set Descriptor.
pub fn file_set_root(b: &[u8]) -> Ad {
    long_ad(b, 400)
}

/// ICB file types (ECMA-167 4/14.6.6).
pub const FILE_TYPE_DIRECTORY: u8 = 4;
pub const FILE_TYPE_REGULAR: u8 = 5;
pub const FILE_TYPE_SYMLINK: u8 = 12;

/// A File Entry or Extended File Entry.
#[derive(Debug, Clone)]
pub struct FileEntry<'a> {
    pub strategy: u16,
    pub file_type: u8,
    /// Allocation descriptor form (ICB flags bits 0-2).
    pub ad_form: u8,
    pub info_len: u64,
    /// The allocation descriptors, or the data itself when embedded.
    pub ads: &'a [u8],
}

/// Parses a File Entry (tag 261) or Extended File Entry (tag 266).
pub fn parse_file_entry(b: &[u8], tag_id: u16) -> Result<FileEntry<'_>, String> {
    let (ea_at, fixed) = match tag_id {
        TAG_FILE_ENTRY => (168, 176),
        TAG_EXTENDED_FILE_ENTRY => (208, 216),
        other => return Err(format!("a file entry (tag 261 or 266), found tag {other}")),
    };
    if b.len() < fixed {
        return Err(format!("{fixed} bytes, found {}", b.len()));
    }
    let l_ea = le32(b, ea_at) as usize;
    let l_ad = le32(b, ea_at + 4) as usize;
    let start = fixed.saturating_add(l_ea);
    let end = start.saturating_add(l_ad);
    if end > b.len() {
        return Err(format!(
            "extended attributes and allocation descriptors within the block ({} bytes), found {l_ea} + {l_ad} bytes after {fixed}",
            b.len()
        ));
    }
    Ok(FileEntry {
        strategy: le16(b, 16 + 4),
        file_type: u8_at(b, 16 + 11),
        ad_form: (le16(b, 16 + 18) & 7) as u8,
        info_len: le64(b, 56),
        ads: &b[start..end],
    })
}

/// File characteristics of a File Identifier Descriptor.
pub const FID_HIDDEN: u8 = 0x01;
pub const FID_DIRECTORY: u8 = 0x02;
pub const FID_DELETED: u8 = 0x04;
pub const FID_PARENT: u8 = 0x08;

/// A File Identifier Descriptor (ECMA-167 4/14.4).
#[derive(Debug, Clone)]
pub struct Fid<'a> {
    pub characteristics: u8,
    pub icb: Ad,
    pub name: &'a [u8],
    /// Bytes the descriptor occupies, padding included.
    pub total_len: usize,
    /// Bytes the descriptor's fields occupy, padding excluded.
    pub body_len: usize,
}

/// Parses the FID at the start of `b`.
pub fn parse_fid(b: &[u8]) -> Result<Fid<'_>, String> {
    if b.len() < 38 {
        return Err(format!("38 bytes, found {}", b.len()));
    }
    let l_fi = usize::from(b[19]);
    let l_iu = usize::from(le16(b, 36));
    let body_len = 38 + l_iu + l_fi;
    if body_len > b.len() {
        return Err(format!(
            "a descriptor within the directory ({} bytes left), found {body_len} bytes",
            b.len()
        ));
    }
    Ok(Fid {
        characteristics: b[18],
        icb: long_ad(b, 20),
        name: &b[38 + l_iu..body_len],
        total_len: (body_len + 3) & !3,
        body_len,
    })
}

/// The allocation descriptors of an Allocation Extent Descriptor.
pub fn allocation_extent_area(b: &[u8]) -> Result<&[u8], String> {
    let l_ad = le32(b, 20) as usize;
    b.get(24..24usize.saturating_add(l_ad))
        .ok_or_else(|| format!("{l_ad} bytes of descriptors within the block"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_known_values() {
        // The example of ECMA-167 3/7.2.6, and the common check value.
        assert_eq!(crc16(&[0x70, 0x6A, 0x77]), 0x3299);
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    fn tagged(id: u16, location: u32, body_len: usize) -> Vec<u8> {
        let mut b = vec![0u8; 16 + body_len];
        for (i, x) in b[16..].iter_mut().enumerate() {
            *x = i as u8;
        }
        b[0..2].copy_from_slice(&id.to_le_bytes());
        b[2..4].copy_from_slice(&2u16.to_le_bytes());
        let crc = crc16(&b[16..]);
        b[8..10].copy_from_slice(&crc.to_le_bytes());
        b[10..12].copy_from_slice(&(body_len as u16).to_le_bytes());
        b[12..16].copy_from_slice(&location.to_le_bytes());
        b[4] = tag_checksum(&b);
        b
    }

    #[test]
    fn tags_are_checked() {
        let b = tagged(TAG_FILE_ENTRY, 9, 100);
        assert!(tag_faults(&b, 9).is_empty());
        assert_eq!(tag_faults(&b, 10).len(), 1);
        let mut c = b.clone();
        c[6] ^= 1; // serial number: the checksum no longer matches
        let f = tag_faults(&c, 9);
        assert_eq!(f.len(), 1);
        assert!(f[0].0.starts_with("tag checksum"));
        let mut c = b.clone();
        c[50] ^= 1;
        assert!(tag_faults(&c, 9)[0].0.starts_with("descriptor CRC"));
        assert!(!tag_faults(&b[..60], 9).is_empty());
        let mut c = b.clone();
        c[8..12].fill(0); // no CRC: nothing to check but the checksum
        c[4] = tag_checksum(&c);
        c[50] ^= 1;
        assert!(tag_faults(&c, 9).is_empty());
    }

    #[test]
    fn cs0_strings() {
        assert_eq!(cs0(b"\x08abc").unwrap(), "abc");
        assert_eq!(cs0(&[8, 0xDC]).unwrap(), "Ü");
        assert_eq!(cs0(&[16, 0x00, 0xDC, 0x20, 0x13]).unwrap(), "Ü–");
        assert!(cs0(&[16, 0]).is_err());
        assert!(cs0(&[9, 65]).is_err());
        let mut f = [0u8; 32];
        f[..4].copy_from_slice(b"\x08VOL");
        f[31] = 4;
        assert_eq!(dstring(&f).unwrap(), "VOL");
        f[31] = 40;
        assert!(dstring(&f).is_err());
    }

    #[test]
    fn allocation_descriptors() {
        let mut a = Vec::new();
        a.extend_from_slice(&(2048u32 | (1 << 30)).to_le_bytes());
        a.extend_from_slice(&5u32.to_le_bytes());
        a.extend_from_slice(&[0u8; 8]);
        let ads = parse_ads(&a, AD_SHORT, 10).unwrap();
        assert_eq!(ads.len(), 1);
        assert_eq!((ads[0].kind, ads[0].len, ads[0].block), (1, 2048, 5));
        assert!(parse_ads(&a, AD_EMBEDDED, 10).is_err());
        a.extend_from_slice(&a.clone());
        assert_eq!(
            parse_ads(&a, AD_SHORT, 10).unwrap().len(),
            1,
            "a zero length ends the list"
        );
    }

    #[test]
    fn file_entries_and_fids_within_bounds() {
        let mut fe = vec![0u8; 2048];
        fe[168..172].copy_from_slice(&100u32.to_le_bytes());
        fe[172..176].copy_from_slice(&3000u32.to_le_bytes());
        assert!(parse_file_entry(&fe, TAG_FILE_ENTRY).is_err());
        fe[172..176].copy_from_slice(&16u32.to_le_bytes());
        let e = parse_file_entry(&fe, TAG_FILE_ENTRY).unwrap();
        assert_eq!(e.ads.len(), 16);
        assert!(parse_file_entry(&fe, 5).is_err());

        let mut fid = vec![0u8; 44];
        fid[19] = 5;
        fid[38..43].copy_from_slice(b"\x08name");
        let f = parse_fid(&fid).unwrap();
        assert_eq!((f.name, f.total_len), (&b"\x08name"[..], 44));
        fid[19] = 50;
        assert!(parse_fid(&fid).is_err());
    }
}
