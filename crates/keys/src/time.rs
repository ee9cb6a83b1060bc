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
