//! Values typed on the command line: durations (`90`, `15m`, `24h`, `7d`, `1h30m`), rate
//! limits (`100/min`, `1000/1h`) and routes (`GET,HEAD /v1/orders/*`).

use serde_json::{json, Value};

/// Seconds in a duration such as `90`, `90s`, `15m`, `24h`, `7d`, `2w` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a duration such as 90s, 15m, 24h or 7d".into());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration such as 90s, 15m, 24h or 7d"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        let unit = unit_seconds(unit)
            .ok_or_else(|| format!("{text:?}: unknown unit {unit:?} (use s, m, h, d or w)"))?;
        let number: u64 = number
            .parse()
            .map_err(|_| format!("{text:?} is too large"))?;
        total = number
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is too large"))?;
        rest = after;
    }
    Ok(total)
}

fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "" | "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    })
}

/// `100/min`, `100/60s`, `100/60`, `5000/1h`: the API's `rate_limit` object.
pub fn parse_rate_limit(text: &str) -> Result<Value, String> {
    let (requests, window) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?}: a rate limit is REQUESTS/WINDOW, such as 100/min"))?;
    let requests: u64 = requests
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: the number of requests must be a whole number"))?;
    let window = window.trim();
    // `100/min` means one minute; `100/60s` sixty seconds.
    let per_seconds = match unit_seconds(window) {
        Some(seconds) if !window.is_empty() => seconds,
        _ => parse_duration(window)?,
    };
    Ok(json!({"requests": requests, "per_seconds": per_seconds}))
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// `GET,HEAD /v1/orders/*` or `/v1/orders/*` (every method): a `routes` entry.
pub fn parse_route(text: &str) -> Result<Value, String> {
    let text = text.trim();
    let (methods, path) = match text.split_once(char::is_whitespace) {
        Some((methods, path)) => (Some(methods), path.trim()),
        None => (None, text),
    };
    if !path.starts_with('/') {
        return Err(format!(
            "{text:?}: a route is [METHODS] PATH, such as \"GET,HEAD /v1/orders/*\""
        ));
    }
    let mut rule = serde_json::Map::new();
    if let Some(methods) = methods {
        let mut list = Vec::new();
        for method in methods.split(',').filter(|m| !m.is_empty()) {
            let upper = method.to_ascii_uppercase();
            if !METHODS.contains(&upper.as_str()) {
                return Err(format!(
                    "{text:?}: {method:?} is not one of {}",
                    METHODS.join(", ")
                ));
            }
            list.push(Value::String(upper));
        }
        rule.insert("methods".into(), Value::Array(list));
    }
    rule.insert("path".into(), Value::String(path.to_owned()));
    Ok(Value::Object(rule))
}

/// A duration in words for messages: `24h`, `90s`, `1h30m`.
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("-5s").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn rate_limits() {
        let expect = |r: u64, s: u64| Ok(json!({"requests": r, "per_seconds": s}));
        assert_eq!(parse_rate_limit("100/min"), expect(100, 60));
        assert_eq!(parse_rate_limit("100/60s"), expect(100, 60));
        assert_eq!(parse_rate_limit("100/60"), expect(100, 60));
        assert_eq!(parse_rate_limit("5000/1h"), expect(5000, 3600));
        assert_eq!(parse_rate_limit("10/day"), expect(10, 86_400));
        assert!(parse_rate_limit("100").is_err());
        assert!(parse_rate_limit("x/min").is_err());
    }

    #[test]
    fn routes() {
        assert_eq!(
            parse_route("GET,head /v1/orders/*"),
            Ok(json!({"methods": ["GET", "HEAD"], "path": "/v1/orders/*"}))
        );
        assert_eq!(parse_route("/v1/x"), Ok(json!({"path": "/v1/x"})));
        assert!(parse_route("FETCH /v1/x").is_err());
        assert!(parse_route("v1/x").is_err());
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(format_duration(86_400), "1d");
        assert_eq!(format_duration(5_400), "1h30m");
        assert_eq!(format_duration(0), "0s");
    }
}
