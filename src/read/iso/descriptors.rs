//! ECMA-119 volume descriptors (sector 16 on), and the byte helpers the
//! other on-disk structures share. Pure parsing: no I/O.

/// The logical sector (and block) size this reader supports.
pub const SECTOR: usize = 2048;
pub const SECTOR_U64: u64 = SECTOR as u64;
/// The first sector of the volume descriptor set (after the system area).
pub const FIRST_VD_SECTOR: u64 = 16;

/// `N` bytes at `off`, or zeros when `b` is too short (parsers check lengths
/// first; this only makes a slip harmless instead of a panic).
pub fn bytes<const N: usize>(b: &[u8], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = off.checked_add(N).and_then(|end| b.get(off..end)) {
        out.copy_from_slice(s);
    }
    out
}

pub fn u8_at(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

pub fn le16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(bytes(b, off))
}

pub fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(bytes(b, off))
}

pub fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(bytes(b, off))
}

pub fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(bytes(b, off))
}

pub fn le64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes(b, off))
}

/// A both-byte-order 16-bit field (ECMA-119 7.2.3): the little-endian value,
/// and whether the big-endian copy agrees.
pub fn both16(b: &[u8], off: usize) -> (u16, bool) {
    let v = le16(b, off);
    (v, v == be16(b, off + 2))
}

/// A both-byte-order 32-bit field (ECMA-119 7.3.3).
pub fn both32(b: &[u8], off: usize) -> (u32, bool) {
    let v = le32(b, off);
    (v, v == be32(b, off + 4))
}

/// The standard identifier of ECMA-119 volume descriptors.
pub const CD001: &[u8; 5] = b"CD001";

/// The 5-byte standard identifier at bytes 1..6 of a volume recognition
/// sector ("CD001", "BEA01", "NSR02", "NSR03", "TEA01", ...).
pub fn standard_identifier(sector: &[u8]) -> [u8; 5] {
    bytes(sector, 1)
}

/// Whether a sector holds a volume recognition structure (ECMA-119 volume
/// descriptor or ECMA-167 2/9.1 structure) with a known identifier.
pub fn is_volume_recognition(sector: &[u8]) -> bool {
    let id = standard_identifier(sector);
    matches!(
        &id,
        b"CD001" | b"BEA01" | b"NSR02" | b"NSR03" | b"TEA01" | b"BOOT2" | b"CDW02"
    ) && u8_at(sector, 6) == 1
}

/// The fields of a primary or supplementary volume descriptor this reader uses.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub flags: u8,
    pub volume_id: [u8; 32],
    pub escapes: [u8; 32],
    pub volume_space_size: u32,
    pub volume_set_size: u16,
    pub volume_sequence: u16,
    pub block_size: u16,
    /// The 34-byte root directory record.
    pub root: [u8; 34],
    pub volume_set_id: [u8; 128],
    /// Names of both-byte-order fields whose two copies disagree.
    pub mismatched: Vec<&'static str>,
}

/// El Torito boot record volume descriptor.
#[derive(Debug, Clone)]
pub struct BootRecord {
    pub system_id: [u8; 32],
    pub catalog_sector: u32,
}

#[derive(Debug, Clone)]
pub enum VolumeDescriptor {
    Boot(BootRecord),
    Primary(VolumeInfo),
    Supplementary(VolumeInfo),
    Partition,
    Terminator,
    Unknown(u8),
}

/// The boot system identifier of El Torito boot records.
pub const EL_TORITO_ID: &[u8] = b"EL TORITO SPECIFICATION";

/// Parses one volume descriptor sector; `None` when it is not one
/// (identifier not "CD001" or version not 1).
pub fn parse_volume_descriptor(s: &[u8]) -> Option<VolumeDescriptor> {
    if s.len() < SECTOR || &standard_identifier(s) != CD001 || s[6] != 1 {
        return None;
    }
    Some(match s[0] {
        0 => VolumeDescriptor::Boot(BootRecord {
            system_id: bytes(s, 7),
            catalog_sector: le32(s, 71),
        }),
        1 => VolumeDescriptor::Primary(volume_info(s)),
        2 => VolumeDescriptor::Supplementary(volume_info(s)),
        3 => VolumeDescriptor::Partition,
        255 => VolumeDescriptor::Terminator,
        t => VolumeDescriptor::Unknown(t),
    })
}

fn volume_info(s: &[u8]) -> VolumeInfo {
    let mut mismatched = Vec::new();
    let (volume_space_size, ok) = both32(s, 80);
    if !ok {
        mismatched.push("volume space size");
    }
    let (volume_set_size, ok) = both16(s, 120);
    if !ok {
        mismatched.push("volume set size");
    }
    let (volume_sequence, ok) = both16(s, 124);
    if !ok {
        mismatched.push("volume sequence number");
    }
    let (block_size, ok) = both16(s, 128);
    if !ok {
        mismatched.push("logical block size");
    }
    VolumeInfo {
        flags: s[7],
        volume_id: bytes(s, 40),
        escapes: bytes(s, 88),
        volume_space_size,
        volume_set_size,
        volume_sequence,
        block_size,
        root: bytes(s, 156),
        volume_set_id: bytes(s, 190),
        mismatched,
    }
}

/// The Joliet level of a supplementary volume descriptor, from its escape
/// sequences ("%/@" level 1, "%/C" level 2, "%/E" level 3), or `None` when it
/// is not a Joliet descriptor.
pub fn joliet_level(v: &VolumeInfo) -> Option<u8> {
    // The sequences may sit anywhere in the 32-byte field, padded with zeros.
    v.escapes.windows(3).find_map(|w| match w {
        b"%/@" => Some(1),
        b"%/C" => Some(2),
        b"%/E" => Some(3),
        _ => None,
    })
}

/// A volume identifier of a primary descriptor: a-characters padded with
/// spaces (or zeros).
pub fn primary_label(id: &[u8]) -> String {
    let s: String = id.iter().map(|&b| b as char).collect();
    s.trim_end_matches([' ', '\0']).to_string()
}

/// A volume identifier of a Joliet descriptor: UCS-2 big-endian.
pub fn joliet_label(id: &[u8]) -> String {
    let s = ucs2be(id);
    s.trim_end_matches([' ', '\0']).to_string()
}

/// Decodes UCS-2 (or UTF-16) big-endian text; an odd trailing byte is dropped
/// and unpaired surrogates become U+FFFD.
pub fn ucs2be(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_order_fields() {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        b[4..].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(both32(&b, 0), (0x1234_5678, true));
        b[7] ^= 1;
        assert_eq!(both32(&b, 0), (0x1234_5678, false));
        assert_eq!(le32(&b, 6), 0, "out of range reads are zero, not a panic");
    }

    #[test]
    fn joliet_levels_from_escape_sequences() {
        let mut s = vec![0u8; SECTOR];
        s[0] = 2;
        s[1..6].copy_from_slice(CD001);
        s[6] = 1;
        s[88..91].copy_from_slice(b"%/E");
        let Some(VolumeDescriptor::Supplementary(v)) = parse_volume_descriptor(&s) else {
            panic!("not parsed as a supplementary descriptor");
        };
        assert_eq!(joliet_level(&v), Some(3));
        s[88..91].copy_from_slice(b"%/@");
        let Some(VolumeDescriptor::Supplementary(v)) = parse_volume_descriptor(&s) else {
            panic!();
        };
        assert_eq!(joliet_level(&v), Some(1));
        s[88..91].copy_from_slice(b"%/X");
        let Some(VolumeDescriptor::Supplementary(v)) = parse_volume_descriptor(&s) else {
            panic!();
        };
        assert_eq!(joliet_level(&v), None);
        s[6] = 2;
        assert!(parse_volume_descriptor(&s).is_none());
    }

    #[test]
    fn labels() {
        assert_eq!(
            primary_label(b"CCCOMA_X64FRE_EN-US_DV9         "),
            "CCCOMA_X64FRE_EN-US_DV9"
        );
        let j: Vec<u8> = "Über"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .chain([0, 32, 0, 32])
            .collect();
        assert_eq!(joliet_label(&j), "Über");
    }
}
