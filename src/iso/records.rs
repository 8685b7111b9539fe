//! ISO 9660 (ECMA-119) and Joliet on-disk structures: volume descriptors,
//! directory records, path table records and dates. Bytes only, no I/O.

use time::OffsetDateTime;

use super::SECTOR;

/// Which of the two ISO 9660 trees a structure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The primary volume: d-character names.
    Primary,
    /// The Joliet supplementary volume: UCS-2 names.
    Joliet,
}

/// A both-endian 16-bit field.
fn both16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    b[at + 2..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A both-endian 32-bit field.
fn both32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    b[at + 4..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// A 17-byte volume descriptor date in UTC ("YYYYMMDDHHMMSScc" and offset).
pub fn date17(t: OffsetDateTime) -> [u8; 17] {
    let t = t.to_offset(time::UtcOffset::UTC);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}00",
        t.year().clamp(0, 9999),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let mut b = [0u8; 17];
    b[..16].copy_from_slice(s.as_bytes());
    b
}

/// The "not specified" date: sixteen '0' digits and offset 0.
pub fn date17_unset() -> [u8; 17] {
    let mut b = [b'0'; 17];
    b[16] = 0;
    b
}

/// A 7-byte directory record date in UTC.
pub fn date7(t: OffsetDateTime) -> [u8; 7] {
    let t = t.to_offset(time::UtcOffset::UTC);
    [
        (t.year() - 1900).clamp(0, 255) as u8,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        0,
    ]
}

/// Directory record flags.
pub const FLAG_DIR: u8 = 0x02;
pub const FLAG_MULTI_EXTENT: u8 = 0x80;

/// One directory record. `id` is the encoded file identifier (`[0]` for
/// ".", `[1]` for "..").
pub fn dir_record(id: &[u8], extent: u32, len: u32, flags: u8, date: [u8; 7]) -> Vec<u8> {
    let n = record_len(id.len());
    let mut r = vec![0u8; n];
    r[0] = n as u8;
    both32(&mut r, 2, extent);
    both32(&mut r, 10, len);
    r[18..25].copy_from_slice(&date);
    r[25] = flags;
    both16(&mut r, 28, 1); // volume sequence number
    r[32] = id.len() as u8;
    r[33..33 + id.len()].copy_from_slice(id);
    r
}

/// Bytes a directory record with an identifier of `id_len` bytes takes.
pub fn record_len(id_len: usize) -> usize {
    let n = 33 + id_len;
    n + (n & 1)
}

/// One path table record, little-endian (L table) or big-endian (M table).
pub fn path_record(id: &[u8], extent: u32, parent: u16, big_endian: bool) -> Vec<u8> {
    let n = 8 + id.len() + (id.len() & 1);
    let mut r = vec![0u8; n];
    r[0] = id.len() as u8;
    if big_endian {
        r[2..6].copy_from_slice(&extent.to_be_bytes());
        r[6..8].copy_from_slice(&parent.to_be_bytes());
    } else {
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..8].copy_from_slice(&parent.to_le_bytes());
    }
    r[8..8 + id.len()].copy_from_slice(id);
    r
}

/// Bytes a path table record with an identifier of `id_len` bytes takes.
pub fn path_record_len(id_len: usize) -> usize {
    8 + id_len + (id_len & 1)
}

/// What the primary and the Joliet volume descriptors record.
pub struct Descriptor<'a> {
    pub volume_id: &'a str,
    pub volume_set_id: &'a str,
    pub publisher: &'a str,
    pub preparer: &'a str,
    pub application: &'a str,
    pub space_sectors: u32,
    pub path_table_size: u32,
    pub path_table_l: u32,
    pub path_table_m: u32,
    /// The root's "." record (34 bytes).
    pub root: Vec<u8>,
    pub created: OffsetDateTime,
}

/// Writes `s` into `b[at..at+len]` as the tree's characters, padded with spaces.
fn text(b: &mut [u8], at: usize, len: usize, s: &str, tree: Tree) {
    match tree {
        Tree::Primary => {
            let f = &mut b[at..at + len];
            f.fill(b' ');
            for (i, c) in s.bytes().take(len).enumerate() {
                f[i] = c;
            }
        }
        Tree::Joliet => {
            let f = &mut b[at..at + len];
            f.fill(0);
            for pair in f.chunks_exact_mut(2) {
                pair.copy_from_slice(&[0, b' ']);
            }
            for (i, u) in s.encode_utf16().take(len / 2).enumerate() {
                f[i * 2..i * 2 + 2].copy_from_slice(&u.to_be_bytes());
            }
        }
    }
}

/// The primary (type 1) or Joliet supplementary (type 2) volume descriptor.
pub fn volume_descriptor(d: &Descriptor, tree: Tree) -> Vec<u8> {
    let mut b = vec![0u8; SECTOR];
    b[0] = match tree {
        Tree::Primary => 1,
        Tree::Joliet => 2,
    };
    b[1..6].copy_from_slice(b"CD001");
    b[6] = 1;
    text(&mut b, 8, 32, "", tree); // system identifier
    text(&mut b, 40, 32, d.volume_id, tree);
    both32(&mut b, 80, d.space_sectors);
    if tree == Tree::Joliet {
        // UCS-2 level 3
        b[88..91].copy_from_slice(b"%/E");
    }
    both16(&mut b, 120, 1); // volume set size: each volume stands alone
    both16(&mut b, 124, 1); // volume sequence number
    both16(&mut b, 128, SECTOR as u16);
    both32(&mut b, 132, d.path_table_size);
    b[140..144].copy_from_slice(&d.path_table_l.to_le_bytes());
    b[148..152].copy_from_slice(&d.path_table_m.to_be_bytes());
    b[156..190].copy_from_slice(&d.root);
    text(&mut b, 190, 128, d.volume_set_id, tree);
    text(&mut b, 318, 128, d.publisher, tree);
    text(&mut b, 446, 128, d.preparer, tree);
    text(&mut b, 574, 128, d.application, tree);
    text(&mut b, 702, 37, "", tree);
    text(&mut b, 739, 37, "", tree);
    text(&mut b, 776, 37, "", tree);
    let c = date17(d.created);
    b[813..830].copy_from_slice(&c);
    b[830..847].copy_from_slice(&c);
    b[847..864].copy_from_slice(&date17_unset());
    b[864..881].copy_from_slice(&c);
    b[881] = 1; // file structure version
    b
}

/// The volume descriptor set terminator.
pub fn terminator() -> Vec<u8> {
    let mut b = vec![0u8; SECTOR];
    b[0] = 255;
    b[1..6].copy_from_slice(b"CD001");
    b[6] = 1;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_even_and_both_endian() {
        let r = dir_record(b"A.TXT;1", 20, 5000, 0, [0; 7]);
        assert_eq!(r.len(), 40);
        assert_eq!(r[0] as usize, r.len());
        assert_eq!(&r[2..6], &20u32.to_le_bytes());
        assert_eq!(&r[6..10], &20u32.to_be_bytes());
        assert_eq!(record_len(1), 34);
        assert_eq!(path_record(b"A", 9, 1, true).len(), 10);
    }

    #[test]
    fn dates_are_utc_digits() {
        let t = OffsetDateTime::from_unix_timestamp(946_684_800).unwrap();
        assert_eq!(&date17(t)[..16], b"2000010100000000");
        assert_eq!(date7(t), [100, 1, 1, 0, 0, 0, 0]);
    }
}
