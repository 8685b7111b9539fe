//! El Torito: the boot record volume descriptor and the boot catalog with
//! a BIOS and a UEFI no-emulation entry, as `oscdimg -bootdata:2#p0,e,b…#pEF,e,b…`
//! writes them.

use super::SECTOR;

/// Platform IDs of the boot catalog.
pub const PLATFORM_BIOS: u8 = 0x00;
pub const PLATFORM_UEFI: u8 = 0xEF;

/// Virtual sectors (512 bytes) the BIOS loads from the BIOS image. oscdimg
/// records 8 (4 KiB: all of `etfsboot.com`, which reads the rest of the
/// medium itself); BIOSes load no more than that reliably.
pub const BIOS_LOAD_SECTORS: u16 = 8;

/// One no-emulation boot image.
#[derive(Debug, Clone, Copy)]
pub struct BootImage {
    pub platform: u8,
    /// First sector of the image on the medium.
    pub sector: u32,
    /// 512-byte sectors to load.
    pub load_sectors: u16,
}

/// The UEFI entry's load size: the whole image in 512-byte sectors, as
/// mkisofs-style writers record it (firmware reads the FAT image from
/// there); images of 32 MiB or more record 0, which firmware reads as "up
/// to the end of the medium".
pub fn uefi_load_sectors(size: u64) -> u16 {
    let n = size.div_ceil(512);
    if n > u16::MAX as u64 {
        0
    } else {
        n as u16
    }
}

/// The Boot Record Volume Descriptor pointing at the catalog.
pub fn boot_record(catalog_sector: u32) -> Vec<u8> {
    let mut b = vec![0u8; SECTOR];
    b[0] = 0;
    b[1..6].copy_from_slice(b"CD001");
    b[6] = 1;
    let id = b"EL TORITO SPECIFICATION";
    b[7..7 + id.len()].copy_from_slice(id);
    b[71..75].copy_from_slice(&catalog_sector.to_le_bytes());
    b
}

fn entry(img: &BootImage) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[0] = 0x88; // bootable
    e[1] = 0; // no emulation
    e[2..4].copy_from_slice(&0u16.to_le_bytes()); // load segment: default 0x7C0
    e[4] = 0; // system type
    e[6..8].copy_from_slice(&img.load_sectors.to_le_bytes());
    e[8..12].copy_from_slice(&img.sector.to_le_bytes());
    e
}

/// The boot catalog: validation entry and default entry for `default`
/// (the BIOS image), then one final section header per further image.
pub fn catalog(default: &BootImage, others: &[BootImage]) -> Vec<u8> {
    let mut b = vec![0u8; SECTOR];
    // validation entry
    b[0] = 1;
    b[1] = default.platform;
    b[30] = 0x55;
    b[31] = 0xAA;
    let sum = b[..32].chunks(2).fold(0u16, |a, w| {
        a.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    let ck = 0u16.wrapping_sub(sum);
    b[28..30].copy_from_slice(&ck.to_le_bytes());
    b[32..64].copy_from_slice(&entry(default));
    let mut at = 64;
    for (i, img) in others.iter().enumerate() {
        b[at] = if i + 1 == others.len() { 0x91 } else { 0x90 };
        b[at + 1] = img.platform;
        b[at + 2..at + 4].copy_from_slice(&1u16.to_le_bytes());
        at += 32;
        b[at..at + 32].copy_from_slice(&entry(img));
        at += 32;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_entry_sums_to_zero() {
        let bios = BootImage {
            platform: PLATFORM_BIOS,
            sector: 40,
            load_sectors: BIOS_LOAD_SECTORS,
        };
        let uefi = BootImage {
            platform: PLATFORM_UEFI,
            sector: 42,
            load_sectors: uefi_load_sectors(1_474_560),
        };
        let c = catalog(&bios, &[uefi]);
        let sum = c[..32].chunks(2).fold(0u16, |a, w| {
            a.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        assert_eq!(sum, 0);
        assert_eq!(c[64], 0x91);
        assert_eq!(c[65], 0xEF);
        assert_eq!(u16::from_le_bytes([c[96 + 6], c[96 + 7]]), 2880);
        assert_eq!(u32::from_le_bytes(c[40..44].try_into().unwrap()), 40);
    }
}
