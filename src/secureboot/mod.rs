//! Secure Boot facts of the files that start a medium: who signed each EFI
//! executable (by the public certificates of the Microsoft CAs), the boot
//! manager's security version (SVN), and whether Microsoft's published DBX
//! data revokes it. See docs/secure-boot.md.
//!
//! This is identification, not validation: no signature is verified against
//! a CA's key here, so a file is never called "trusted"; it is said which CA
//! it names and what firmware would need to start it.

pub mod authenticode;
pub mod dbx;
pub mod report;

use sha1::{Digest, Sha1};

pub use dbx::Dbx;

/// One of the Microsoft CAs a UEFI boot file can be signed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownCa {
    /// Stable short id (`--json`).
    pub id: &'static str,
    /// The certificate's common name.
    pub name: &'static str,
    /// The CA's public certificate (DER), from microsoft/secureboot_objects.
    pub der: &'static [u8],
    /// SHA-1 of `der`, upper-case hex.
    pub thumbprint: &'static str,
    /// The certificate's subject key identifier, upper-case hex.
    pub key_id: &'static str,
}

/// Microsoft Windows Production PCA 2011: signs Windows boot managers up to
/// the 2023 change; in the DBX on devices with the KB5025885 mitigations.
pub const PCA_2011: KnownCa = KnownCa {
    id: "windows-production-pca-2011",
    name: "Microsoft Windows Production PCA 2011",
    der: include_bytes!("../../data/secureboot/windows-production-pca-2011.der"),
    thumbprint: "580A6F4CC4E4B669B9EBDC1B2B3E087B80D0678D",
    key_id: "A92902398E16C49778CD90F99E4F9AE17C55AF53",
};

/// Windows UEFI CA 2023: signs the `_EX` boot managers.
pub const WINDOWS_UEFI_CA_2023: KnownCa = KnownCa {
    id: "windows-uefi-ca-2023",
    name: "Windows UEFI CA 2023",
    der: include_bytes!("../../data/secureboot/windows-uefi-ca-2023.der"),
    thumbprint: "45A0FA32604773C82433C3B7D59E7466B3AC0C67",
    key_id: "AEFC5FBBBE055D8F8DAA585473499417AB5A5272",
};

/// Microsoft Corporation UEFI CA 2011: the third-party CA (shim, option ROMs).
pub const UEFI_CA_2011: KnownCa = KnownCa {
    id: "microsoft-uefi-ca-2011",
    name: "Microsoft Corporation UEFI CA 2011",
    der: include_bytes!("../../data/secureboot/microsoft-uefi-ca-2011.der"),
    thumbprint: "46DEF63B5CE61CF8BA0DE2E6639C1019D0ED14F3",
    key_id: "13ADBF4309BD82709C8CD54F316ED522988A1BD4",
};

/// Microsoft UEFI CA 2023: the third-party CA's successor.
pub const UEFI_CA_2023: KnownCa = KnownCa {
    id: "microsoft-uefi-ca-2023",
    name: "Microsoft UEFI CA 2023",
    der: include_bytes!("../../data/secureboot/microsoft-uefi-ca-2023.der"),
    thumbprint: "B5EEB4A6706048073F0ED296E7F580A790B59EAA",
    key_id: "81AA6B3244C935BCE0D6628AF39827421E32497D",
};

/// Every CA tsmedia names.
pub const KNOWN_CAS: [KnownCa; 4] = [PCA_2011, WINDOWS_UEFI_CA_2023, UEFI_CA_2011, UEFI_CA_2023];

/// Upper-case hex SHA-1 of DER bytes (a certificate's thumbprint).
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha1::digest(der))
}

/// The known CA with this thumbprint.
pub fn ca_by_thumbprint(tp: &str) -> Option<&'static KnownCa> {
    KNOWN_CAS
        .iter()
        .find(|c| c.thumbprint.eq_ignore_ascii_case(tp))
}

/// The known CA with this subject key identifier.
pub fn ca_by_key_id(kid: &str) -> Option<&'static KnownCa> {
    KNOWN_CAS
        .iter()
        .find(|c| c.key_id.eq_ignore_ascii_case(kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_certificates_match_their_thumbprints_and_key_ids() {
        for ca in KNOWN_CAS {
            assert_eq!(thumbprint(ca.der), ca.thumbprint, "{}", ca.name);
            let c = authenticode::CertFacts::from_der(ca.der).unwrap();
            assert_eq!(c.key_id.as_deref(), Some(ca.key_id), "{}", ca.name);
            assert!(c.subject.contains(ca.name), "{}", c.subject);
        }
    }
}
