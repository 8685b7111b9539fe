//! ECMA-119 directory records (9.1), their names under ISO 9660 and Joliet,
//! and the Rock Ridge entries (SUSP / RRIP) of their system use areas.
//! Pure parsing: no I/O.

use super::descriptors::{both16, both32, le32, u8_at, ucs2be};

/// Directory record flag: the entry is hidden ("existence").
pub const FLAG_HIDDEN: u8 = 0x01;
/// Directory record flag: the entry is a directory.
pub const FLAG_DIRECTORY: u8 = 0x02;
/// Directory record flag: an associated file (e.g. a resource fork).
pub const FLAG_ASSOCIATED: u8 = 0x04;
/// Directory record flag: this is not the final record of the file.
pub const FLAG_MULTI_EXTENT: u8 = 0x80;

/// The smallest directory record: 33 fixed bytes and a 1-byte identifier.
pub const MIN_RECORD: usize = 34;

/// One directory record.
#[derive(Debug, Clone)]
pub struct DirRecord<'a> {
    pub ext_attr_len: u8,
    pub extent: u32,
    pub size: u32,
    pub flags: u8,
    pub file_unit_size: u8,
    pub interleave_gap: u8,
    pub volume_sequence: u16,
    pub id: &'a [u8],
    pub system_use: &'a [u8],
    /// Names of both-byte-order fields whose two copies disagree.
    pub mismatched: Vec<&'static str>,
}

impl DirRecord<'_> {
    pub fn is_dir(&self) -> bool {
        self.flags & FLAG_DIRECTORY != 0
    }

    /// The "." (self) or ".." (parent) record.
    pub fn is_self_or_parent(&self) -> bool {
        self.id == [0] || self.id == [1]
    }

    /// The first block of the data: extended attribute records come first.
    pub fn data_block(&self) -> u64 {
        u64::from(self.extent) + u64::from(self.ext_attr_len)
    }
}

/// Parses the record at the start of `b` (whose first byte is its length).
pub fn parse_record(b: &[u8]) -> Result<DirRecord<'_>, String> {
    let len = usize::from(u8_at(b, 0));
    if len < MIN_RECORD {
        return Err(format!(
            "a record of at least {MIN_RECORD} bytes, found {len}"
        ));
    }
    if len > b.len() {
        return Err(format!(
            "a record within its sector, found {len} bytes with {} left",
            b.len()
        ));
    }
    let b = &b[..len];
    let id_len = usize::from(b[32]);
    if id_len == 0 || 33 + id_len > len {
        return Err(format!(
            "a file identifier of 1 to {} bytes, found {id_len}",
            len - 33
        ));
    }
    let id = &b[33..33 + id_len];
    // A padding byte follows an identifier of even length.
    let su_start = (33 + id_len + usize::from(id_len % 2 == 0)).min(len);
    let mut mismatched = Vec::new();
    let (extent, ok) = both32(b, 2);
    if !ok {
        mismatched.push("extent location");
    }
    let (size, ok) = both32(b, 10);
    if !ok {
        mismatched.push("data length");
    }
    let (volume_sequence, ok) = both16(b, 28);
    if !ok {
        mismatched.push("volume sequence number");
    }
    Ok(DirRecord {
        ext_attr_len: b[1],
        extent,
        size,
        flags: b[25],
        file_unit_size: b[26],
        interleave_gap: b[27],
        volume_sequence,
        id,
        system_use: &b[su_start..],
        mismatched,
    })
}

/// Strips a version suffix (";" and digits) and then a trailing ".", as
/// ECMA-119 7.5 file identifiers carry them ("EMPTY.;1" is "EMPTY").
pub fn strip_version(name: &str) -> &str {
    let base = match name.rfind(';') {
        Some(i) if name[i + 1..].bytes().all(|c| c.is_ascii_digit()) => &name[..i],
        _ => name,
    };
    match base.strip_suffix('.') {
        Some(b) if !b.is_empty() => b,
        _ => base,
    }
}

/// The name of an ISO 9660 record (d-characters; other bytes as Latin-1).
pub fn iso9660_name(id: &[u8]) -> String {
    let s: String = id.iter().map(|&b| b as char).collect();
    strip_version(&s).to_string()
}

/// The name of a Joliet record (UCS-2 big-endian).
pub fn joliet_name(id: &[u8]) -> String {
    let s = ucs2be(id);
    strip_version(&s).to_string()
}

/// What the SUSP/Rock Ridge entries of one system use area say.
#[derive(Debug, Clone, Default)]
pub struct Susp {
    /// An "SP" entry: SUSP is in use, with this many bytes to skip in each
    /// system use area (only meaningful in the root's "." record).
    pub sp_skip: Option<u8>,
    /// The alternate name ("NM"), its parts concatenated.
    pub name: Option<Vec<u8>>,
    /// The last "NM" part had the CONTINUE flag.
    pub name_continues: bool,
    /// "RE": a relocated directory (listed where its "CL" points from).
    pub relocated: bool,
    /// "CL": the directory really is at this block.
    pub child_link: Option<u32>,
    /// "CE": more entries at (block, offset, length).
    pub continuation: Option<(u32, u32, u32)>,
    /// "PX": the POSIX file mode.
    pub mode: Option<u32>,
}

/// POSIX file type bits of a Rock Ridge mode, and the regular file type.
pub const MODE_TYPE: u32 = 0o170000;
pub const MODE_REGULAR: u32 = 0o100000;

/// Upper bound of an alternate name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// Parses the SUSP entries of `area` into `acc` (several areas of one record,
/// linked by "CE", accumulate). Stops at "ST", at a malformed entry, or at
/// the end. Returns whether the area was well formed.
pub fn parse_susp(area: &[u8], acc: &mut Susp) -> bool {
    let mut off = 0usize;
    acc.continuation = None;
    while off + 4 <= area.len() {
        let sig = [area[off], area[off + 1]];
        let len = usize::from(area[off + 2]);
        if len < 4 || off + len > area.len() {
            // Padding zeros end an area quietly.
            return area[off..].iter().all(|&b| b == 0);
        }
        let e = &area[off..off + len];
        match &sig {
            b"SP" if len >= 7 && e[4] == 0xBE && e[5] == 0xEF => acc.sp_skip = Some(e[6]),
            b"NM" if len >= 5 => {
                let flags = e[4];
                // CURRENT (2) and PARENT (4) names are "." and "..".
                if flags & 0x06 == 0 {
                    let part = &e[5..];
                    let name = acc.name.get_or_insert_with(Vec::new);
                    if !acc.name_continues {
                        name.clear();
                    }
                    if name.len() + part.len() <= MAX_NAME_BYTES {
                        name.extend_from_slice(part);
                    }
                    acc.name_continues = flags & 0x01 != 0;
                }
            }
            b"RE" => acc.relocated = true,
            b"PX" if len >= 12 => acc.mode = Some(both32(e, 4).0),
            b"CL" if len >= 12 => acc.child_link = Some(both32(e, 4).0),
            b"CE" if len >= 28 => {
                acc.continuation = Some((le32(e, 4), le32(e, 12), le32(e, 20)));
            }
            b"ST" => return true,
            _ => {}
        }
        off += len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as ECMA-119 lays it out.
    fn record(id: &[u8], extent: u32, size: u32, flags: u8, su: &[u8]) -> Vec<u8> {
        let pad = usize::from(id.len() % 2 == 0);
        let len = 33 + id.len() + pad + su.len();
        let mut r = vec![0u8; len];
        r[0] = len as u8;
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[14..18].copy_from_slice(&size.to_be_bytes());
        r[25] = flags;
        r[28..30].copy_from_slice(&1u16.to_le_bytes());
        r[30..32].copy_from_slice(&1u16.to_be_bytes());
        r[32] = id.len() as u8;
        r[33..33 + id.len()].copy_from_slice(id);
        r[33 + id.len() + pad..].copy_from_slice(su);
        r
    }

    #[test]
    fn records_parse_and_bad_ones_are_refused() {
        let r = record(b"SETUP.EXE;1", 40, 1234, 0, b"");
        let d = parse_record(&r).unwrap();
        assert_eq!((d.extent, d.size, d.is_dir()), (40, 1234, false));
        assert_eq!(iso9660_name(d.id), "SETUP.EXE");
        assert!(d.mismatched.is_empty());

        let mut bad = r.clone();
        bad[3] ^= 0x10;
        assert_eq!(
            parse_record(&bad).unwrap().mismatched,
            vec!["extent location"]
        );
        let mut bad = r.clone();
        bad[32] = 200;
        assert!(parse_record(&bad).is_err());
        bad[0] = 20;
        assert!(parse_record(&bad).is_err());
        assert!(parse_record(&r[..20]).is_err());
        assert!(parse_record(&[]).is_err());
    }

    #[test]
    fn name_rules() {
        assert_eq!(strip_version("EMPTY.;1"), "EMPTY");
        assert_eq!(strip_version("A.TXT;12"), "A.TXT");
        assert_eq!(strip_version("A.TXT"), "A.TXT");
        assert_eq!(strip_version("A;B"), "A;B");
        assert_eq!(strip_version("."), ".");
        let j: Vec<u8> = "Überprüfung – Ünïcode.txt;1"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(joliet_name(&j), "Überprüfung – Ünïcode.txt");
    }

    #[test]
    fn rock_ridge_entries() {
        let mut su = Vec::new();
        su.extend_from_slice(b"NM\x0a\x01\x01long-");
        su.extend_from_slice(b"PX\x0c\x01\xa4\x81\x00\x00\x00\x00\x81\xa4");
        su.extend_from_slice(b"NM\x09\x01\x00name");
        su.extend_from_slice(b"RE\x04\x01");
        let mut cl = b"CL\x0c\x01".to_vec();
        cl.extend_from_slice(&77u32.to_le_bytes());
        cl.extend_from_slice(&77u32.to_be_bytes());
        su.extend_from_slice(&cl);
        let mut s = Susp::default();
        assert!(parse_susp(&su, &mut s));
        assert_eq!(s.name.as_deref(), Some(&b"long-name"[..]));
        assert!(s.relocated);
        assert_eq!(s.child_link, Some(77));
        assert_eq!(s.mode, Some(0o100644));
        // A truncated entry is malformed, and must not panic.
        let mut s = Susp::default();
        assert!(!parse_susp(&su[..7], &mut s));
    }
}
