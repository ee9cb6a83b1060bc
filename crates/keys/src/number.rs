//! JSON numbers as JSON Schema reads them: `3600.0` is an integer, because its value is
//! whole, so it is accepted wherever `3600` is (schemathesis sends both).

use core::fmt;

/// A non-negative whole number written as `7` or `7.0`, as JSON Schema's `integer` allows.
/// Fractions, negatives, values past 2^53 (where a double is no longer exact) and
/// anything that is not a number are refused.
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    struct WholeNumber;
    impl<'de> serde::de::Visitor<'de> for WholeNumber {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Some(value))
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
            u64::try_from(value)
                .map(Some)
                .map_err(|_| E::custom("a non-negative whole number"))
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Self::Value, E> {
            const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
            let whole = value as u64;
            if (0.0..=EXACT).contains(&value) && whole as f64 == value {
                Ok(Some(whole))
            } else {
                Err(E::custom("a non-negative whole number"))
            }
        }
        // An absent field is `None` (serde's default); an explicit `null` is refused, as
        // the schema says an integer.
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom("a non-negative whole number, not null"))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom("a non-negative whole number, not null"))
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    deserializer.deserialize_option(WholeNumber)
}

/// A required whole number that fits a `u32`.
pub(crate) fn whole_u32<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u32, D::Error> {
    let value = whole_number(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("a non-negative whole number"))?;
    u32::try_from(value).map_err(|_| serde::de::Error::custom("a whole number below 2^32"))
}
