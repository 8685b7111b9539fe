//! Legacy BIOS boot code of MBR USB media: tsmedia's own MBR code and FAT32
//! volume boot record, written in assembly beside this file (`mbr.asm`,
//! `fat32-vbr.asm`). The assembled bytes are committed (`*.bin`) so a build
//! needs no assembler; a test assembles the sources again and compares.
//!
//! The chain is the one Windows media use: BIOS -> MBR code (loads the
//! active partition's first sector to 0000:7C00, DL = drive) -> FAT32 boot
//! sector and its second sector (find `BOOTMGR` in the root folder, load the
//! whole file to 2000:0000, jump there with DL = drive) -> `bootmgr`.

/// The first 440 bytes of the MBR (before the disk signature).
pub const MBR_CODE: &[u8; 440] = include_bytes!("mbr.bin");

/// The FAT32 boot code: the boot sector (bytes 3..90 are the BPB, filled in
/// by the FAT32 writer) and the sector that follows at sector 2.
const VBR: &[u8; 1024] = include_bytes!("fat32-vbr.bin");

/// First byte of the boot sector's code (after the BPB and boot signature).
pub const VBR_CODE_START: usize = 90;

/// Sector of the volume (in the reserved area) that holds the second part
/// of the boot code; its copy follows the backup boot sector.
pub const VBR_STAGE2_SECTOR: u32 = 2;

/// The jump at the start of the boot sector.
pub fn vbr_jump() -> &'static [u8] {
    &VBR[0..3]
}

/// Boot sector bytes 90..512: code and the 55AA signature.
pub fn vbr_code() -> &'static [u8] {
    &VBR[VBR_CODE_START..512]
}

/// The second sector of the boot code.
pub fn vbr_stage2() -> &'static [u8; 512] {
    VBR[512..].try_into().expect("1024-byte VBR")
}

/// How a USB medium with a `kind` table boots, for `plan` and `write`:
/// (whether it is a warning, the text). `has_bootmgr`: the medium has
/// `bootmgr` at its root.
pub fn boot_note(kind: crate::usb::partition::TableKind, has_bootmgr: bool) -> (bool, String) {
    use crate::usb::partition::TableKind;
    match (kind, has_bootmgr) {
        (TableKind::Gpt, _) => (
            false,
            "GPT USB media boot UEFI only (a BIOS passes them over); --partition-table mbr boots BIOS machines too".into(),
        ),
        (TableKind::Mbr, true) => (
            false,
            "BIOS boot of the USB medium: MBR code -> active FAT32 partition's boot code -> /bootmgr".into(),
        ),
        (TableKind::Mbr, false) => (
            true,
            "the medium has no /bootmgr, so this MBR USB medium boots UEFI only".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// nasm is needed to check the committed bytes; without it the check is
    /// skipped, except under CI where it fails.
    fn nasm() -> bool {
        let ok = Command::new("nasm").arg("-v").output().is_ok();
        if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("nasm is missing (Debian package nasm), and CI=true");
        }
        ok
    }

    fn assemble(name: &str) -> Vec<u8> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/usb/boot");
        let out = tempfile::NamedTempFile::new().unwrap();
        let st = Command::new("nasm")
            .args(["-f", "bin", "-o"])
            .arg(out.path())
            .arg(dir.join(name))
            .status()
            .unwrap();
        assert!(st.success(), "nasm failed on {name}");
        std::fs::read(out.path()).unwrap()
    }

    #[test]
    fn committed_bytes_match_the_sources() {
        if !nasm() {
            eprintln!("skipped: nasm is missing");
            return;
        }
        assert_eq!(
            assemble("mbr.asm"),
            MBR_CODE.to_vec(),
            "src/usb/boot/mbr.bin is stale: run `nasm -f bin -o mbr.bin mbr.asm` there"
        );
        assert_eq!(
            assemble("fat32-vbr.asm"),
            VBR.to_vec(),
            "src/usb/boot/fat32-vbr.bin is stale: run `nasm -f bin -o fat32-vbr.bin fat32-vbr.asm` there"
        );
    }

    #[test]
    fn shapes() {
        // jmp short 0x5A; nop
        assert_eq!(vbr_jump(), &[0xEB, 0x58, 0x90]);
        assert!(
            VBR[3..VBR_CODE_START].iter().all(|&b| b == 0),
            "BPB left to the writer"
        );
        assert_eq!(&VBR[510..512], &[0x55, 0xAA]);
        assert_eq!(&VBR[1022..1024], &[0x55, 0xAA]);
        // The relocating MBR starts with cli.
        assert_eq!(MBR_CODE[0], 0xFA);
    }
}
