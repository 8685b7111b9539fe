//! `tsmedia profile init|validate|schema`.

use std::path::Path;

use anyhow::Result;

use crate::profile::{self, MediaType, Profile};

/// A starting profile for `t`, with comments (profiles may hold `//` comments).
pub fn template(t: MediaType) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "// A tsmedia profile for {t} media. Paths are relative to this file's folder.\n\
         // `tsmedia profile validate THIS.json` checks it; `tsmedia plan --profile THIS.json` shows the medium.\n\
         {{\n  \"type\": \"{t}\",\n  \"name\": \"My {t} media\",\n  \
         // Volume label: 1-32 characters of A-Z a-z 0-9 _ -\n  \"label\": \"TSM_{}\",\n  \
         // The WinPE boot image and the image index to boot. \"boot_manager\": \"2023\" or \"2011\"\n  \
         // picks the signed boot manager (default: 2023 when the image has the _EX files).\n  \
         \"boot_image\": {{ \"path\": \"sources/boot.wim\", \"index\": 1 }},\n",
        t.as_str().to_uppercase()
    ));
    match t {
        MediaType::Capture => s.push_str(
            "  // Where the captured image goes and what it is called. Credentials are named\n  \
             // by environment variables, never written here.\n  \
             \"capture\": {\n    \"destination\": \"\\\\\\\\server\\\\captures\\\\reference.wim\",\n    \
             \"image_name\": \"Reference image\",\n    \"image_description\": \"Captured with tsmedia\",\n    \
             \"username_variable\": \"CAPTURE_USER\",\n    \"password_variable\": \"CAPTURE_PASSWORD\"\n  },\n",
        ),
        MediaType::Bootable | MediaType::Prestaged => {
            if t == MediaType::Prestaged {
                s.push_str(
                    "  // The OS image applied by the task sequence.\n  \
                     \"os_image\": { \"id\": \"TSM00001\", \"path\": \"sources/install.wim\", \"index\": 1 },\n  \
                     // Content staged on the disk: kind is application, package or driver.\n  \
                     \"packages\": [\n    { \"id\": \"TSM00002\", \"name\": \"Tools\", \"kind\": \"package\", \"source\": \"packages/tools\" }\n  ],\n  \
                     // Image metadata of the prestaged WIM.\n  \
                     \"prestaged\": { \"name\": \"Prestaged media\", \"created_by\": \"IT\", \"version\": \"1.0\", \"comment\": \"\" },\n",
                );
            }
            s.push_str(
                "  // How the booted machine reaches its site.\n  \
                 \"site\": {\n    \"code\": \"P01\",\n    \"management_points\": [\"https://mp.corp.example\"],\n    \
                 \"mode\": \"dynamic\",\n    \"root_certificates\": [],\n    \
                 \"media_certificate\": { \"self_signed\": { \"start\": \"2026-01-01\", \"expiry\": \"2027-01-01\" } }\n  },\n  \
                 \"media\": { \"unattended\": false, \"unknown_computer_support\": true, \"user_device_affinity\": \"none\", \"size\": \"unlimited\", \"password_protected\": false, \"cipher\": \"aes-128\" },\n",
            );
        }
        MediaType::Standalone => s.push_str(
            "  \"os_image\": { \"id\": \"TSM00001\", \"path\": \"sources/install.wim\", \"index\": 1 },\n  \
             \"task_sequence\": { \"id\": \"TSM00010\", \"name\": \"Deploy Windows\", \"path\": \"task-sequence.xml\" },\n  \
             // Every package the task sequence references: kind is application, package or driver.\n  \
             \"packages\": [\n    { \"id\": \"TSM00002\", \"name\": \"Tools\", \"kind\": \"package\", \"source\": \"packages/tools\" }\n  ],\n  \
             // Optional validity window; size is cd, dvd, dvd-dl or unlimited.\n  \
             \"media\": { \"unattended\": false, \"start\": \"2026-01-01\", \"expiry\": \"2027-01-01\", \"size\": \"unlimited\", \"password_protected\": false, \"cipher\": \"aes-128\" },\n",
        ),
    }
    if t != MediaType::Capture {
        s.push_str(
            "  // Optional: a command run before the task sequence, with its files.\n  \
             // \"prestart\": { \"command\": \"cmd.exe /c run.cmd\", \"files\": \"prestart\" },\n",
        );
    }
    s.push_str(
        "  // Task sequence variables set by the medium (names starting with _ are reserved).\n  \
         \"variables\": { \"OSDTimeZone\": \"UTC\" },\n  \
         // Files or folders copied onto the medium; a folder's content goes under `target`.\n  \
         \"extra_files\": [],\n  \
         // Default output: format is folder, iso, usb-image, usb-device or wim.\n  \
         \"output\": { \"format\": \"folder\", \"path\": \"out/media\" }\n}\n",
    );
    s
}

pub fn init(t: MediaType) -> Result<i32> {
    print!("{}", template(t));
    Ok(0)
}

pub fn validate(file: &Path, t: Option<MediaType>, json: bool) -> Result<i32> {
    let r = profile::load(file).and_then(|l| Ok(profile::validate::validate(l, t)?));
    match r {
        Ok(vp) => {
            if json {
                let v = serde_json::json!({"ok": true, "type": vp.media_type().as_str(), "problems": []});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}: valid {} profile", file.display(), vp.media_type());
            }
            Ok(0)
        }
        Err(e) => {
            if json {
                if let Some(inv) = e.downcast_ref::<profile::InvalidProfile>() {
                    let v = serde_json::json!({"ok": false, "problems": inv.problems});
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
            }
            Err(e)
        }
    }
}

pub fn schema() -> Result<i32> {
    let s = schemars::schema_for!(Profile);
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(0)
}
