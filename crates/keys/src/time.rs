use alloc::format;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. The core never reads a clock: callers pass the
/// current time in, which is what makes the grace-period rules testable to the millisecond.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    pub const fn saturating_add_seconds(self, seconds: u64) -> Self {
        UnixMillis(self.0.saturating_add(seconds.saturating_mul(1000)))
    }
}

impl UnixMillis {
    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-27T08:19:58.000Z`.
    pub fn to_rfc3339(self) -> String {
        let millis = self.0 % 1000;
        let total_seconds = self.0 / 1000;
        let (hour, minute, second) = (
            (total_seconds / 3600) % 24,
            (total_seconds / 60) % 60,
            total_seconds % 60,
        );
        let (year, month, day) = civil_from_days((total_seconds / 86_400) as i64);
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

impl UnixMillis {
    /// Parses RFC 3339 (`2027-01-31T12:00:00Z`, `2027-01-31T13:00:00.250+01:00`), to the
    /// millisecond (further digits are dropped). `None` for anything else, or a time
    /// before 1970.
    pub fn parse_rfc3339(text: &str) -> Option<UnixMillis> {
        let b = text.as_bytes();
        let digits = |range: core::ops::Range<usize>| -> Option<i64> {
            let part = b.get(range)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut at = 19;
        let mut millis = 0;
        if b.get(at) == Some(&b'.') {
            let start = at + 1;
            at = start;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return None;
            }
            let fraction = &b[start..at];
            millis = (0..3).fold(0, |n, i| {
                n * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'))
            });
        }
        let offset_minutes = match b.get(at..)? {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let hours = digits(at + 1..at + 3)?;
                let minutes = digits(at + 4..at + 6)?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let total = hours * 60 + minutes;
                if *sign == b'+' {
                    total
                } else {
                    -total
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month as u32, day as u32);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
        let ms = seconds.checked_mul(1000)?.checked_add(millis)?;
        u64::try_from(ms).ok().map(UnixMillis)
    }
}

/// A proleptic Gregorian date to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::UnixMillis;

    #[test]
    fn parses_rfc3339_to_the_millisecond() {
        let parse = UnixMillis::parse_rfc3339;
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(UnixMillis(0)));
        assert_eq!(
            parse("2026-11-27T08:19:58.123Z"),
            Some(UnixMillis(1_795_767_598_123))
        );
        assert_eq!(
            parse("2026-11-27T08:19:58.1239Z"),
            Some(UnixMillis(1_795_767_598_123))
        );
        assert_eq!(
            parse("2026-11-27T08:19:58.1Z"),
            Some(UnixMillis(1_795_767_598_100))
        );
        assert_eq!(
            parse("2026-11-27T09:19:58.123+01:00"),
            Some(UnixMillis(1_795_767_598_123))
        );
        assert_eq!(
            parse("2026-11-27t03:49:58.123-04:30"),
            Some(UnixMillis(1_795_767_598_123))
        );
        assert_eq!(
            parse("2000-02-29T00:00:00z"),
            Some(UnixMillis(951_782_400_000))
        );
        for bad in [
            "",
            "2026-11-27",
            "2026-11-27T08:19:58",
            "2026-11-27 08:19:58Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T08:60:00Z",
            "2026-11-27T08:19:58.Z",
            "2026-11-27T08:19:58+0100",
            "1969-12-31T23:59:59Z",
            "2026-11-27T08:19:58Zjunk",
            "+2026-11-27T08:19:58Z",
            "２０２６-11-27T08:19:58Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn formatting_then_parsing_is_the_identity(ms in 0u64..4_102_444_800_000) {
            proptest::prop_assert_eq!(UnixMillis::parse_rfc3339(&UnixMillis(ms).to_rfc3339()), Some(UnixMillis(ms)));
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(UnixMillis(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            UnixMillis(951_782_400_000).to_rfc3339(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            UnixMillis(1_795_767_598_123).to_rfc3339(),
            "2026-11-27T08:19:58.123Z"
        );
        assert_eq!(
            UnixMillis(4_102_444_799_999).to_rfc3339(),
            "2099-12-31T23:59:59.999Z"
        );
    }
}
