//! UDF 2.01 (ECMA-167 3rd edition with the OSTA UDF 2.01 profile) on-disk
//! structures for a read-only bridge volume: the volume recognition
//! sequence, anchors, the volume descriptor sequence, the integrity
//! descriptor, the file set descriptor, file entries and file identifiers.
//!
//! Every function here only builds bytes; where they go is decided by
//! `layout`, and `write` puts them on disk.

use time::OffsetDateTime;

use super::SECTOR;

/// UDF revision written in domain and UDF identifier suffixes.
pub const UDF_REVISION: u16 = 0x0201;
/// Descriptor tag version for NSR03 volumes (UDF 2.00 and later).
const TAG_VERSION: u16 = 3;
/// Largest extent one short allocation descriptor records: 2^30 - 1 bytes,
/// rounded down to whole blocks so that every extent but the last is whole.
pub const MAX_AD_EXTENT: u64 = (1 << 30) - SECTOR as u64;
/// Unique ID of the first file or folder other than the root (1-15 are reserved).
pub const FIRST_UNIQUE_ID: u64 = 16;

/// Descriptor tag identifiers (ECMA-167 3/7.2.1 and 4/7.2.1).
pub mod tag {
    pub const PVD: u16 = 1;
    pub const AVDP: u16 = 2;
    pub const IUVD: u16 = 4;
    pub const PD: u16 = 5;
    pub const LVD: u16 = 6;
    pub const USD: u16 = 7;
    pub const TD: u16 = 8;
    pub const LVID: u16 = 9;
    pub const FSD: u16 = 256;
    pub const FID: u16 = 257;
    pub const FE: u16 = 261;
}

/// CRC-16 of ECMA-167 (CRC-CCITT: polynomial 0x1021, initial 0, no reflection).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
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

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Fills in the 16-byte descriptor tag at the start of `d`: identifier,
/// location, and the CRC over the rest of `d`.
pub fn finish_tag(d: &mut [u8], id: u16, location: u32) {
    put16(d, 0, id);
    put16(d, 2, TAG_VERSION);
    d[5] = 0;
    put16(d, 6, 1); // tag serial number
    let crc_len = d.len() - 16;
    let crc = crc16(&d[16..]);
    put16(d, 8, crc);
    put16(d, 10, crc_len as u16);
    put32(d, 12, location);
    let sum = d[0..4]
        .iter()
        .chain(&d[5..16])
        .fold(0u8, |a, &b| a.wrapping_add(b));
    d[4] = sum;
}

/// A 12-byte ECMA-167 timestamp in UTC.
pub fn timestamp(t: OffsetDateTime) -> [u8; 12] {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut b = [0u8; 12];
    // type 1 (local time) with a time zone offset of 0 minutes
    put16(&mut b, 0, 1 << 12);
    b[2..4].copy_from_slice(&(t.year() as i16).to_le_bytes());
    b[4] = u8::from(t.month());
    b[5] = t.day();
    b[6] = t.hour();
    b[7] = t.minute();
    b[8] = t.second();
    b
}

/// A 64-byte charspec: CS0, "OSTA Compressed Unicode".
fn charspec() -> [u8; 64] {
    let mut b = [0u8; 64];
    let s = b"OSTA Compressed Unicode";
    b[1..1 + s.len()].copy_from_slice(s);
    b
}

/// A 32-byte entity identifier with its 8-byte suffix.
fn regid(ident: &str, suffix: [u8; 8]) -> [u8; 32] {
    let mut b = [0u8; 32];
    let s = ident.as_bytes();
    b[1..1 + s.len().min(23)].copy_from_slice(&s[..s.len().min(23)]);
    b[24..32].copy_from_slice(&suffix);
    b
}

fn domain_suffix() -> [u8; 8] {
    let mut s = [0u8; 8];
    s[0..2].copy_from_slice(&UDF_REVISION.to_le_bytes());
    s
}

/// UDF identifier suffix: revision, OS class and identifier (undefined).
fn udf_suffix() -> [u8; 8] {
    domain_suffix()
}

/// Our implementation identifier.
fn impl_id() -> [u8; 32] {
    regid("*tsmedia", [0; 8])
}

fn domain_id() -> [u8; 32] {
    regid("*OSTA UDF Compliant", domain_suffix())
}

/// OSTA CS0 compressed Unicode: compression ID 8 when every character fits
/// in one byte, else 16 (UTF-16, big-endian). Returns None when `s` holds a
/// character that is not allowed in a name (NUL).
pub fn cs0(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) < 0x100) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.push(8);
        v.extend(s.chars().map(|c| c as u32 as u8));
        v
    } else {
        let mut v = Vec::with_capacity(s.len() * 2 + 1);
        v.push(16);
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_be_bytes());
        }
        v
    }
}

/// Bytes a name takes in a file identifier (compression ID included).
pub fn name_len(s: &str) -> usize {
    if s.chars().all(|c| (c as u32) < 0x100) {
        s.chars().count() + 1
    } else {
        s.encode_utf16().count() * 2 + 1
    }
}

/// Longest name a file identifier holds, in bytes (its length is one byte).
pub const MAX_NAME_BYTES: usize = 255;

/// A fixed-length dstring: compressed characters, zero padding, and the
/// used length in the last byte. Characters that do not fit are dropped.
fn dstring(s: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    if s.is_empty() {
        return out;
    }
    let mut chars: Vec<char> = s.chars().collect();
    loop {
        let t: String = chars.iter().collect();
        let enc = cs0(&t);
        if enc.len() < len {
            out[..enc.len()].copy_from_slice(&enc);
            out[len - 1] = enc.len() as u8;
            return out;
        }
        chars.pop();
    }
}

/// The two extent_ad fields of an anchor: main and reserve sequence.
pub struct Anchor {
    pub main: (u32, u32),
    pub reserve: (u32, u32),
}

/// Anchor Volume Descriptor Pointer, at `location`.
pub fn avdp(a: &Anchor, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    put32(&mut d, 16, a.main.1 * SECTOR as u32);
    put32(&mut d, 20, a.main.0);
    put32(&mut d, 24, a.reserve.1 * SECTOR as u32);
    put32(&mut d, 28, a.reserve.0);
    finish_tag(&mut d, tag::AVDP, location);
    d
}

/// What the volume descriptors need to know about the volume.
pub struct VolumeInfo<'a> {
    /// Volume identifier (shown by many readers as the label).
    pub label: &'a str,
    /// Volume set identifier (its first 16 characters are unique hex digits).
    pub volume_set: &'a str,
    pub created: OffsetDateTime,
    /// First sector of the partition and its length in blocks.
    pub partition_start: u32,
    pub partition_len: u32,
    /// Location and length (sectors) of the integrity sequence.
    pub integrity: (u32, u32),
}

/// Primary Volume Descriptor.
pub fn pvd(v: &VolumeInfo, seq: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    put32(&mut d, 16, seq);
    put32(&mut d, 20, 0);
    d[24..56].copy_from_slice(&dstring(v.label, 32));
    put16(&mut d, 56, 1); // volume sequence number
    put16(&mut d, 58, 1); // maximum volume sequence number
    put16(&mut d, 60, 2); // interchange level: single volume
    put16(&mut d, 62, 3);
    put32(&mut d, 64, 1); // character set list: CS0
    put32(&mut d, 68, 1);
    d[72..200].copy_from_slice(&dstring(v.volume_set, 128));
    d[200..264].copy_from_slice(&charspec());
    d[264..328].copy_from_slice(&charspec());
    // volume abstract and copyright (extent_ad) stay empty
    d[344..376].copy_from_slice(&impl_id()); // application identifier
    d[376..388].copy_from_slice(&timestamp(v.created));
    d[388..420].copy_from_slice(&impl_id());
    finish_tag(&mut d, tag::PVD, location);
    d
}

/// Implementation Use Volume Descriptor with the logical volume information.
pub fn iuvd(v: &VolumeInfo, seq: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    put32(&mut d, 16, seq);
    d[20..52].copy_from_slice(&regid("*UDF LV Info", udf_suffix()));
    let iu = 52;
    d[iu..iu + 64].copy_from_slice(&charspec());
    d[iu + 64..iu + 192].copy_from_slice(&dstring(v.label, 128));
    // LVInfo1..3 (36 bytes each) stay empty
    d[iu + 300..iu + 332].copy_from_slice(&impl_id());
    finish_tag(&mut d, tag::IUVD, location);
    d
}

/// Partition Descriptor: one read-only partition, number 0.
pub fn pd(v: &VolumeInfo, seq: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    put32(&mut d, 16, seq);
    put16(&mut d, 20, 1); // allocated
    put16(&mut d, 22, 0); // partition number
    d[24..56].copy_from_slice(&regid("+NSR03", [0; 8]));
    // partition header descriptor (56..184): no space tables on read-only media
    put32(&mut d, 184, 1); // access type: read-only
    put32(&mut d, 188, v.partition_start);
    put32(&mut d, 192, v.partition_len);
    d[196..228].copy_from_slice(&impl_id());
    finish_tag(&mut d, tag::PD, location);
    d
}

/// Logical Volume Descriptor: 2048-byte blocks, one type 1 partition map,
/// the file set descriptor at block 0 of the partition.
pub fn lvd(v: &VolumeInfo, seq: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 446];
    put32(&mut d, 16, seq);
    d[20..84].copy_from_slice(&charspec());
    d[84..212].copy_from_slice(&dstring(v.label, 128));
    put32(&mut d, 212, SECTOR as u32);
    d[216..248].copy_from_slice(&domain_id());
    // logical volume contents use: long_ad of the file set descriptor
    put32(&mut d, 248, SECTOR as u32);
    put32(&mut d, 252, 0);
    put16(&mut d, 256, 0);
    put32(&mut d, 264, 6); // map table length
    put32(&mut d, 268, 1); // number of partition maps
    d[272..304].copy_from_slice(&impl_id());
    put32(&mut d, 432, v.integrity.1 * SECTOR as u32);
    put32(&mut d, 436, v.integrity.0);
    // type 1 partition map
    d[440] = 1;
    d[441] = 6;
    put16(&mut d, 442, 1); // volume sequence number
    put16(&mut d, 444, 0); // partition number
    finish_tag(&mut d, tag::LVD, location);
    d
}

/// Unallocated Space Descriptor: no free extents.
pub fn usd(seq: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 24];
    put32(&mut d, 16, seq);
    finish_tag(&mut d, tag::USD, location);
    d
}

/// Terminating Descriptor.
pub fn td(location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    finish_tag(&mut d, tag::TD, location);
    d
}

/// Logical Volume Integrity Descriptor of a closed volume.
pub fn lvid(v: &VolumeInfo, next_unique_id: u64, files: u32, dirs: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 80 + 8 + 46];
    d[16..28].copy_from_slice(&timestamp(v.created));
    put32(&mut d, 28, 1); // close integrity
    put64(&mut d, 40, next_unique_id);
    put32(&mut d, 72, 1); // number of partitions
    put32(&mut d, 76, 46); // length of implementation use
    put32(&mut d, 80, 0); // free space
    put32(&mut d, 84, v.partition_len); // size
    let iu = 88;
    d[iu..iu + 32].copy_from_slice(&impl_id());
    put32(&mut d, iu + 32, files);
    put32(&mut d, iu + 36, dirs);
    put16(&mut d, iu + 40, UDF_REVISION); // minimum read revision
    put16(&mut d, iu + 42, UDF_REVISION); // minimum write revision
    put16(&mut d, iu + 44, UDF_REVISION); // maximum write revision
    finish_tag(&mut d, tag::LVID, location);
    d
}

/// File Set Descriptor at partition block `location`, root folder's file
/// entry at partition block `root`.
pub fn fsd(v: &VolumeInfo, root: u32, location: u32) -> Vec<u8> {
    let mut d = vec![0u8; 512];
    d[16..28].copy_from_slice(&timestamp(v.created));
    put16(&mut d, 28, 3); // interchange level
    put16(&mut d, 30, 3);
    put32(&mut d, 32, 1);
    put32(&mut d, 36, 1);
    d[48..112].copy_from_slice(&charspec());
    d[112..240].copy_from_slice(&dstring(v.label, 128));
    d[240..304].copy_from_slice(&charspec());
    d[304..336].copy_from_slice(&dstring(v.label, 32));
    put32(&mut d, 400, SECTOR as u32);
    put32(&mut d, 404, root);
    d[416..448].copy_from_slice(&domain_id());
    finish_tag(&mut d, tag::FSD, location);
    d
}

/// What a file entry describes.
pub struct FileEntry {
    pub is_dir: bool,
    /// FIDs naming this entry (folders: 1 + their subfolders).
    pub links: u16,
    pub size: u64,
    /// First partition block of the data (contiguous), if any.
    pub data_block: Option<u32>,
    pub unique_id: u64,
}

/// A File Entry at partition block `location`, with short allocation
/// descriptors over one contiguous run of blocks.
pub fn file_entry(f: &FileEntry, created: OffsetDateTime, location: u32) -> Vec<u8> {
    let mut ads = Vec::new();
    if let Some(mut block) = f.data_block {
        let mut left = f.size;
        while left > 0 {
            let n = left.min(MAX_AD_EXTENT);
            let mut ad = [0u8; 8];
            ad[0..4].copy_from_slice(&(n as u32).to_le_bytes());
            ad[4..8].copy_from_slice(&block.to_le_bytes());
            ads.extend_from_slice(&ad);
            block += (n / SECTOR as u64) as u32;
            left -= n;
        }
    }
    let mut d = vec![0u8; 176 + ads.len()];
    // ICB tag
    put16(&mut d, 20, 4); // strategy type 4
    put16(&mut d, 24, 1); // maximum number of entries
    d[27] = if f.is_dir { 4 } else { 5 };
    put16(&mut d, 34, 0); // flags: short allocation descriptors
    put32(&mut d, 36, u32::MAX); // uid: not specified
    put32(&mut d, 40, u32::MAX); // gid: not specified
                                 // read (4), plus execute (1) for folders, for owner, group and others
    let p: u32 = if f.is_dir { 5 } else { 4 };
    put32(&mut d, 44, p | p << 5 | p << 10);
    put16(&mut d, 48, f.links);
    put64(&mut d, 56, f.size);
    let blocks = if f.data_block.is_some() {
        f.size.div_ceil(SECTOR as u64)
    } else {
        0
    };
    put64(&mut d, 64, blocks);
    let ts = timestamp(created);
    d[72..84].copy_from_slice(&ts);
    d[84..96].copy_from_slice(&ts);
    d[96..108].copy_from_slice(&ts);
    put32(&mut d, 108, 1); // checkpoint
    d[128..160].copy_from_slice(&impl_id());
    put64(&mut d, 160, f.unique_id);
    put32(&mut d, 168, 0); // length of extended attributes
    put32(&mut d, 172, ads.len() as u32);
    d[176..].copy_from_slice(&ads);
    finish_tag(&mut d, tag::FE, location);
    d
}

/// Length of a File Identifier Descriptor for a name of `name_bytes`
/// (compressed) bytes, padded to 4 bytes.
pub fn fid_len(name_bytes: usize) -> usize {
    (38 + name_bytes).div_ceil(4) * 4
}

/// A File Identifier Descriptor naming the file entry at partition block
/// `icb`. `name` is the compressed name, empty for the parent entry. The tag
/// location is the block the descriptor starts in.
pub fn fid(
    name: &[u8],
    is_dir: bool,
    is_parent: bool,
    icb: u32,
    unique_id: u64,
    location: u32,
) -> Vec<u8> {
    let mut d = vec![0u8; fid_len(name.len())];
    put16(&mut d, 16, 1); // file version number
    d[18] = (if is_dir { 2 } else { 0 }) | (if is_parent { 8 } else { 0 });
    d[19] = name.len() as u8;
    put32(&mut d, 20, SECTOR as u32);
    put32(&mut d, 24, icb);
    put16(&mut d, 28, 0);
    // implementation use of the long_ad: flags, then the UDF unique ID
    put32(&mut d, 32, unique_id as u32);
    put16(&mut d, 36, 0); // length of implementation use
    d[38..38 + name.len()].copy_from_slice(name);
    finish_tag(&mut d, tag::FID, location);
    d
}

/// The three Volume Structure Descriptors of the recognition sequence.
pub fn vrs(kind: &[u8; 5]) -> Vec<u8> {
    let mut d = vec![0u8; SECTOR];
    d[1..6].copy_from_slice(kind);
    d[6] = 1;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_ccitt_check_value() {
        // CRC-16/XMODEM check value for "123456789".
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    #[test]
    fn tag_checksum_covers_the_tag() {
        let d = td(256);
        let sum = d[0..4]
            .iter()
            .chain(&d[5..16])
            .fold(0u8, |a, &b| a.wrapping_add(b));
        assert_eq!(d[4], sum);
        assert_eq!(u32::from_le_bytes(d[12..16].try_into().unwrap()), 256);
    }

    #[test]
    fn names_use_8_bit_when_they_can() {
        assert_eq!(cs0("Über"), vec![8, 0xdc, b'b', b'e', b'r']);
        assert_eq!(cs0("–"), vec![16, 0x20, 0x13]);
        assert_eq!(name_len("–a"), 5);
        let d = dstring("LABEL", 32);
        assert_eq!(d[31], 6);
        assert_eq!(&d[..6], b"\x08LABEL");
    }

    #[test]
    fn large_files_take_several_descriptors() {
        let f = FileEntry {
            is_dir: false,
            links: 1,
            size: 4_500 * 1024 * 1024,
            data_block: Some(100),
            unique_id: 16,
        };
        let d = file_entry(&f, OffsetDateTime::UNIX_EPOCH, 5);
        let l_ad = u32::from_le_bytes(d[172..176].try_into().unwrap());
        assert_eq!(l_ad, 5 * 8);
        let mut total = 0u64;
        for ad in d[176..].chunks(8) {
            total += u32::from_le_bytes(ad[0..4].try_into().unwrap()) as u64;
        }
        assert_eq!(total, f.size);
    }
}
