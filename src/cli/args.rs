//! Arguments and words several commands share: transfer settings, sizes, ages, lists.

use clap::Args;

use crate::core::transfer::TransferOptions;

/// How transfers run; the defaults suit a desktop line.
#[derive(Debug, Args, Clone)]
pub struct TransferArgs {
    /// Part size, e.g. 8MiB; grown automatically past 10,000 parts. Downloads use ranges
    /// of this size rounded up to a power of two.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    part_size: Option<u64>,
    /// Files larger than this go multipart (objects larger download in ranges).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    multipart_threshold: Option<u64>,
    /// Parts or ranges in flight at once.
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Limit the bandwidth, e.g. 10MiB (per second).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    bwlimit: Option<u64>,
    /// Files transferred at once (folders).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl TransferArgs {
    pub fn options(&self) -> TransferOptions {
        let d = TransferOptions::default();
        TransferOptions {
            multipart_threshold: self.multipart_threshold.unwrap_or(d.multipart_threshold),
            part_size: self.part_size.unwrap_or(d.part_size),
            concurrency: self.concurrency.unwrap_or(d.concurrency),
            bandwidth_limit: self.bwlimit,
        }
    }
}

/// "8MiB", "5M", "1.5GiB", "1048576" -> bytes (K/M/G/T are binary, as in rclone and aws).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not a size; write e.g. 8MiB, 512KiB or 1048576"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("\"{s}\": unknown unit; use KiB, MiB, GiB or TiB")),
    };
    Ok((n * mult as f64) as u64)
}

/// 90 -> "90 s", 3600 -> "60 min", 200000 -> "2 days".
pub fn format_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// "a, b" or "none".
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
