//! The two JavaScript number parsers that AO's Node CU applies to `Cron-Interval` values, with
//! their exact semantics: the npm package `ms` (2.1.3, the version the Node CU locks) for time
//! intervals and `parseInt` (no radix) for block intervals. A cron fires or not, and gets its
//! identifier, from what these return, so "close enough" would change which messages a process
//! sees.

/// Milliseconds in each `ms` unit (a year is 365.25 days; `ms` 2.1.3 has no month).
const SECOND: f64 = 1000.0;
const MINUTE: f64 = SECOND * 60.0;
const HOUR: f64 = MINUTE * 60.0;
const DAY: f64 = HOUR * 24.0;
const WEEK: f64 = DAY * 7.0;
const YEAR: f64 = DAY * 365.25;

/// What `ms(text)` returns for a string: milliseconds, or `None` where `ms` returns
/// `undefined` (no match, or a text longer than 100 UTF-16 code units).
///
/// `ms` matches `^(-?(?:\d+)?\.?\d+) *(unit)?$` case-insensitively (ASCII folding only: the
/// regular expression has no `u` flag), parses the number with `parseFloat` and multiplies it by
/// the unit; no unit means milliseconds.
pub fn ms(text: &str) -> Option<f64> {
    if text.encode_utf16().count() > 100 {
        return None;
    }
    let (number, rest) = split_number(text)?;
    let unit = rest.trim_start_matches(' ');
    let factor = unit_factor(&unit.to_ascii_lowercase())?;
    // The matched number is a plain decimal, which Rust parses as `parseFloat` does.
    let n: f64 = number.parse().ok()?;
    Some(n * factor)
}

/// The leading `-?(?:\d+)?\.?\d+` of `text` and what follows it, if it has one. Whatever the
/// regular expression's backtracking, the number it accepts is the longest such prefix: the
/// unit alternatives never start with a digit or a dot.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    let int_start = end;
    while bytes.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    let int_digits = end - int_start;
    if bytes.get(end) == Some(&b'.') {
        let frac_start = end + 1;
        let mut frac_end = frac_start;
        while bytes.get(frac_end).is_some_and(u8::is_ascii_digit) {
            frac_end += 1;
        }
        if frac_end > frac_start {
            return Some((&text[..frac_end], &text[frac_end..]));
        }
        // "12." does not match: the dot must be followed by digits.
        return None;
    }
    (int_digits > 0).then(|| (&text[..end], &text[end..]))
}

/// The factor of an `ms` unit (already lower-cased), `None` for anything else.
fn unit_factor(unit: &str) -> Option<f64> {
    Some(match unit {
        "years" | "year" | "yrs" | "yr" | "y" => YEAR,
        "weeks" | "week" | "w" => WEEK,
        "days" | "day" | "d" => DAY,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "minutes" | "minute" | "mins" | "min" | "m" => MINUTE,
        "seconds" | "second" | "secs" | "sec" | "s" => SECOND,
        "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" | "" => 1.0,
        _ => return None,
    })
}

/// What JavaScript's `parseInt(text)` (no radix) returns, `NaN` included: leading white space
/// skipped, an optional sign, `0x`/`0X` switching to base 16, then the longest run of digits
/// of the base; none is `NaN`.
pub fn parse_int(text: &str) -> f64 {
    let text = text.trim_start_matches(is_js_whitespace);
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        _ => (10, text),
    };
    let mut value = 0.0_f64;
    let mut any = false;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        value = value * f64::from(radix) + f64::from(d);
        any = true;
    }
    if !any {
        return f64::NAN;
    }
    if negative { -value } else { value }
}

/// JavaScript's white space and line terminators (what `trim` and `parseInt` skip).
pub fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// `Math.floor(millis / 1000)`: the Node CU's `toSeconds`.
pub fn to_seconds(millis: f64) -> f64 {
    (millis / 1000.0).floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_units_and_numbers() {
        assert_eq!(ms("10 minutes"), Some(600_000.0));
        assert_eq!(ms("1 year"), Some(31_557_600_000.0));
        assert_eq!(ms("1.5 Hours"), Some(5_400_000.0));
        assert_eq!(ms(".5 s"), Some(500.0));
        assert_eq!(ms("-2 days"), Some(-172_800_000.0));
        assert_eq!(ms("10 "), Some(10.0));
        assert_eq!(ms("10   SECS"), Some(10_000.0));
        assert_eq!(ms("12. s"), None);
        assert_eq!(ms("1 month"), None);
        assert_eq!(ms(" 5 seconds"), None);
        assert_eq!(ms("5 seconds "), None);
        assert_eq!(ms(&format!("{} s", "1".repeat(99))), None);
    }

    #[test]
    fn parse_int_as_javascript() {
        assert_eq!(parse_int("10"), 10.0);
        assert_eq!(parse_int("  10abc"), 10.0);
        assert_eq!(parse_int("-5"), -5.0);
        assert_eq!(parse_int("0x1f"), 31.0);
        assert_eq!(parse_int("1e3"), 1.0);
        assert!(parse_int("abc").is_nan());
        assert!(parse_int("").is_nan());
        assert!(parse_int("0x").is_nan());
    }
}
