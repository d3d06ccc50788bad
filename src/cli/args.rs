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
    /// Files transferred at once (folders; default 32, or 4 for several sources).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

impl TransferArgs {
    /// Files in flight for a folder (many small files need many requests at once).
    pub fn files_at_once(&self) -> usize {
        self.jobs.unwrap_or(crate::core::sync::FILES_AT_ONCE).max(1)
    }

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
/// Exact in whole numbers (no float rounding), a fraction of a byte rounded down; a size
/// past what 64 bits hold is refused, never clamped.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let shown = || {
        let t: String = s.chars().take(40).collect();
        let more = if s.chars().count() > 40 { "…" } else { "" };
        format!("{}{more}", t.escape_debug())
    };
    let not_a_size = || {
        format!(
            "\"{}\" is not a size; write e.g. 8MiB, 512KiB or 1048576",
            shown()
        )
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "\"{}\": unknown unit; use KiB, MiB, GiB or TiB",
                shown()
            ));
        }
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(not_a_size());
    }
    let too_large = || {
        format!(
            "\"{}\" is too large: sizes go up to {} bytes (16 EiB)",
            shown(),
            u64::MAX
        )
    };
    // Digits only by now, so the only parse failure left is too many of them.
    let whole: u128 = match whole.trim_start_matches('0') {
        "" => 0,
        digits => digits.parse().map_err(|_| too_large())?,
    };
    // 20 decimals are finer than a byte at any unit (2^40 < 10^20), and 10^20 * 2^40 fits.
    const PLACES: usize = 20;
    let frac: String = frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(PLACES)
        .collect();
    let frac: u128 = frac.parse().map_err(|_| not_a_size())?;
    let bytes = whole
        .checked_mul(mult)
        .and_then(|b| b.checked_add(frac * mult / 10u128.pow(PLACES as u32)))
        .ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
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

#[cfg(test)]
mod hostile_tests {
    //! Sizes as anyone may type them: exact or refused, never clamped, never a panic.
    #![allow(clippy::unwrap_used)]

    use super::parse_size;
    use proptest::prelude::*;

    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn hostile_text(max: usize) -> impl Strategy<Value = String> {
        let nasty = prop::sample::select(
            &[
                '.', '-', '+', 'e', 'E', ' ', '\u{a0}', 'é', 'K', 'i', 'B', '0', '9', '\0',
            ][..],
        );
        prop::collection::vec(prop_oneof![3 => nasty, 1 => any::<char>()], 0..max)
            .prop_map(|v| v.into_iter().collect())
    }

    const UNITS: &[(&str, u64)] = &[
        ("", 1),
        ("B", 1),
        ("k", 1 << 10),
        ("KiB", 1 << 10),
        ("M", 1 << 20),
        ("mb", 1 << 20),
        ("GiB", 1 << 30),
        ("T", 1 << 40),
        (" TiB", 1 << 40),
    ];

    proptest! {
        #![proptest_config(config(256))]

        /// A whole number of a unit is exactly that many bytes, or refused when 64 bits cannot
        /// hold it: never rounded, never clamped.
        #[test]
        fn a_size_is_exact_or_refused(n in any::<u64>(), small in 0u64..5000, unit in prop::sample::select(UNITS)) {
            let (name, mult) = unit;
            for n in [n, small] {
                let parsed = parse_size(&format!("{n}{name}"));
                match n.checked_mul(mult) {
                    Some(bytes) => prop_assert_eq!(parsed, Ok(bytes)),
                    None => prop_assert!(parsed.is_err()),
                }
            }
        }

        /// Fractions are exact to the byte (rounded down); any other text never panics.
        #[test]
        fn any_size_text_parses_or_is_refused(
            whole in 0u64..100_000,
            frac in "[0-9]{1,20}",
            unit in prop::sample::select(UNITS),
            junk in hostile_text(30),
            digits in "[0-9.]{0,60}",
        ) {
            let (name, mult) = unit;
            let exact = {
                let places = frac.len() as u32;
                let f: u128 = frac.parse().unwrap();
                let scale = 10u128.pow(places);
                (u128::from(whole) * scale + f) * u128::from(mult) / scale
            };
            let parsed = parse_size(&format!("{whole}.{frac}{name}"));
            match u64::try_from(exact) {
                Ok(bytes) => prop_assert_eq!(parsed, Ok(bytes)),
                Err(_) => prop_assert!(parsed.is_err()),
            }
            let _ = parse_size(&junk);
            let _ = parse_size(&digits);
            let _ = parse_size(&format!("{digits}{junk}"));
        }
    }

    #[test]
    fn a_size_past_64_bits_is_refused_not_clamped() {
        for text in [
            "16777216TiB",
            "18446744073709551616",
            "99999999999999999999999T",
            "1e400",
        ] {
            assert!(parse_size(text).is_err(), "{text}");
        }
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_size("9007199254740993"), Ok(9_007_199_254_740_993));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert!(parse_size(".").is_err());
        assert!(parse_size("1.2.3M").is_err());
    }
}
