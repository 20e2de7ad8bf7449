//! Calendar functions behind emscripten's `_gmtime_js`, `_localtime_js`, `_mktime_js`,
//! `_tzset_js` and `strftime` imports, computed in UTC so that a result never depends on the
//! host's time zone. The field semantics follow emscripten's JavaScript library (which AO's
//! reference loader runs): `struct tm` is nine `i32`s, then `tm_gmtoff` (i64) at byte 40 and
//! `tm_zone` (pointer) at byte 48 in a 64-bit build.

use crate::clock::{Date, civil_from_days, days_from_civil};

/// `struct tm` as emscripten's library reads and writes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tm {
    /// Seconds (0-60).
    pub sec: i32,
    /// Minutes.
    pub min: i32,
    /// Hours.
    pub hour: i32,
    /// Day of the month (1-31).
    pub mday: i32,
    /// Month (0-11).
    pub mon: i32,
    /// Years since 1900.
    pub year: i32,
    /// Day of the week (0 = Sunday).
    pub wday: i32,
    /// Day of the year (0-365).
    pub yday: i32,
    /// Daylight saving flag.
    pub isdst: i32,
    /// Offset from UTC in seconds.
    pub gmtoff: i64,
}

const MS_PER_DAY: i64 = 86_400_000;
/// JavaScript's time value range: ±8.64e15 ms around the epoch.
const MAX_TIME_MS: i64 = 8_640_000_000_000_000;

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Broken-down UTC time of a millisecond time value; `None` outside JavaScript's range (where
/// emscripten's library writes NaN fields, which become 0).
fn broken_down(ms: i64) -> Option<Tm> {
    if ms.abs() > MAX_TIME_MS {
        return None;
    }
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY) / 1000;
    let Date { year, month, day } = civil_from_days(days);
    let yday = days - days_from_civil(year, 1, 1);
    Some(Tm {
        sec: (in_day % 60) as i32,
        min: (in_day / 60 % 60) as i32,
        hour: (in_day / 3600) as i32,
        mday: day as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
        wday: (days + 4).rem_euclid(7) as i32,
        yday: yday as i32,
        isdst: 0,
        gmtoff: 0,
    })
}

/// `gmtime` of `seconds` since the epoch (also `localtime`: the process' zone is UTC).
pub fn gmtime(seconds: i64) -> Tm {
    seconds
        .checked_mul(1000)
        .and_then(broken_down)
        .unwrap_or_default()
}

/// `mktime`: normalise `tm` (UTC) in place and return seconds since the epoch, or -1 when the
/// date is out of range, as JavaScript's `Date` does.
pub fn mktime(tm: &mut Tm) -> i64 {
    let mut year = i64::from(tm.year) + 1900;
    // `new Date(y, ...)` maps years 0-99 to 1900-1999.
    if (0..=99).contains(&year) {
        year += 1900;
    }
    let month = i64::from(tm.mon);
    let ym = year + month.div_euclid(12);
    let mn = month.rem_euclid(12);
    let day = days_from_civil(ym, mn + 1, 1) + i64::from(tm.mday) - 1;
    let time =
        i64::from(tm.hour) * 3_600_000 + i64::from(tm.min) * 60_000 + i64::from(tm.sec) * 1000;
    let ms = day as i128 * MS_PER_DAY as i128 + time as i128;
    if ms.abs() > MAX_TIME_MS as i128 {
        return -1;
    }
    let ms = ms as i64;
    let Some(norm) = broken_down(ms) else {
        return -1;
    };
    if tm.isdst < 0 {
        tm.isdst = 0;
    }
    let isdst = tm.isdst;
    *tm = Tm {
        isdst,
        gmtoff: tm.gmtoff,
        ..norm
    };
    ms.div_euclid(1000)
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn name(list: &[&'static str], index: i32) -> &'static str {
    usize::try_from(index)
        .ok()
        .and_then(|i| list.get(i))
        .copied()
        .unwrap_or("")
}

/// ISO 8601 week-based year of a date.
fn week_based_year(tm: &Tm) -> i64 {
    let year = i64::from(tm.year) + 1900;
    let this = days_from_civil(year, 1, 1) + i64::from(tm.yday);
    let y = civil_from_days(this).year;
    // The ISO year starts on the Monday of the week holding 4 January.
    let start = |y: i64| {
        let jan4 = days_from_civil(y, 1, 4);
        jan4 - (jan4 + 3).rem_euclid(7)
    };
    if start(y + 1) <= this {
        y + 1
    } else if start(y) <= this {
        y
    } else {
        y - 1
    }
}

fn iso_week(tm: &Tm) -> i64 {
    let yday = i64::from(tm.yday);
    let wday = i64::from(tm.wday);
    let mut val = (yday + 7 - (wday + 6) % 7) / 7;
    if (wday + 371 - yday - 2) % 7 <= 2 {
        val += 1;
    }
    if val == 0 {
        val = 52;
        let dec31 = (wday + 7 - yday - 1) % 7;
        if dec31 == 4 || (dec31 == 5 && is_leap(i64::from(tm.year) % 400 - 1)) {
            val += 1;
        }
    } else if val == 53 {
        let jan1 = (wday + 371 - yday) % 7;
        if jan1 != 4 && (jan1 != 3 || !is_leap(i64::from(tm.year))) {
            val = 1;
        }
    }
    val
}

/// Expand one conversion (`c` after `%`, `E`/`O` modifiers already dropped).
fn conversion(c: char, tm: &Tm, zone: &str, out: &mut String) -> bool {
    use std::fmt::Write;
    let year = i64::from(tm.year) + 1900;
    let composite = match c {
        'c' => Some("%a %b %d %H:%M:%S %Y"),
        'D' | 'x' => Some("%m/%d/%y"),
        'F' => Some("%Y-%m-%d"),
        'h' => Some("%b"),
        'r' => Some("%I:%M:%S %p"),
        'R' => Some("%H:%M"),
        'T' | 'X' => Some("%H:%M:%S"),
        _ => None,
    };
    if let Some(pattern) = composite {
        expand(pattern, tm, zone, out);
        return true;
    }
    let _ = match c {
        'a' => write!(out, "{}", name(&WEEKDAYS, tm.wday).get(..3).unwrap_or("")),
        'A' => write!(out, "{}", name(&WEEKDAYS, tm.wday)),
        'b' => write!(out, "{}", name(&MONTHS, tm.mon).get(..3).unwrap_or("")),
        'B' => write!(out, "{}", name(&MONTHS, tm.mon)),
        'C' => write!(out, "{:02}", year / 100),
        'd' => write!(out, "{:02}", tm.mday),
        'e' => write!(out, "{:>2}", tm.mday),
        'g' => write!(
            out,
            "{}",
            week_based_year(tm).to_string().get(2..).unwrap_or("")
        ),
        'G' => write!(out, "{}", week_based_year(tm)),
        'H' => write!(out, "{:02}", tm.hour),
        'I' => {
            let h = match tm.hour {
                0 => 12,
                h if h > 12 => h - 12,
                h => h,
            };
            write!(out, "{h:02}")
        }
        'j' => write!(out, "{:03}", tm.yday + 1),
        'm' => write!(out, "{:02}", tm.mon + 1),
        'M' => write!(out, "{:02}", tm.min),
        'n' => writeln!(out),
        'p' => write!(
            out,
            "{}",
            if (0..12).contains(&tm.hour) {
                "AM"
            } else {
                "PM"
            }
        ),
        'S' => write!(out, "{:02}", tm.sec),
        't' => write!(out, "\t"),
        'u' => write!(out, "{}", if tm.wday == 0 { 7 } else { tm.wday }),
        'U' => write!(out, "{:02}", (tm.yday + 7 - tm.wday).div_euclid(7)),
        'V' => write!(out, "{:02}", iso_week(tm)),
        'w' => write!(out, "{}", tm.wday),
        'W' => write!(
            out,
            "{:02}",
            (tm.yday + 7 - (tm.wday + 6) % 7).div_euclid(7)
        ),
        'y' => write!(out, "{}", year.to_string().get(2..).unwrap_or("")),
        'Y' => write!(out, "{year}"),
        'z' => {
            let off = tm.gmtoff.abs() / 60;
            let sign = if tm.gmtoff >= 0 { '+' } else { '-' };
            write!(out, "{sign}{:04}", (off / 60) * 100 + off % 60)
        }
        'Z' => write!(out, "{zone}"),
        '%' => write!(out, "%"),
        _ => return false,
    };
    true
}

fn expand(pattern: &str, tm: &Tm, zone: &str, out: &mut String) {
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(mut next) = chars.next() else {
            out.push('%');
            break;
        };
        let mut modifier = None;
        if (next == 'E' || next == 'O')
            && let Some(&after) = chars.peek()
        {
            modifier = Some(next);
            next = after;
            chars.next();
        }
        if !conversion(next, tm, zone, out) {
            // Unknown conversions stay as written.
            out.push('%');
            if let Some(m) = modifier {
                out.push(m);
            }
            out.push(next);
        }
    }
}

/// `strftime` into a `String` (the caller checks `maxsize`).
pub fn strftime(pattern: &str, tm: &Tm, zone: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    expand(pattern, tm, zone, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmtime_matches_known_dates() {
        let tm = gmtime(1_732_000_015);
        // 2024-11-19T07:06:55Z, a Tuesday, day 323 of a leap year.
        assert_eq!(
            (
                tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec, tm.wday, tm.yday
            ),
            (124, 10, 19, 7, 6, 55, 2, 323)
        );
        let tm = gmtime(-1);
        assert_eq!((tm.year, tm.mon, tm.mday, tm.hour), (69, 11, 31, 23));
    }

    #[test]
    fn mktime_normalises_and_inverts_gmtime() {
        let mut tm = gmtime(1_732_000_015);
        assert_eq!(mktime(&mut tm), 1_732_000_015);
        let mut tm = Tm {
            year: 124,
            mon: 13,
            mday: 32,
            isdst: -1,
            ..Tm::default()
        };
        let t = mktime(&mut tm);
        assert_eq!((tm.year, tm.mon, tm.mday, tm.isdst), (125, 2, 4, 0));
        assert_eq!(gmtime(t).mday, 4);
    }

    #[test]
    fn strftime_formats() {
        let tm = gmtime(1_732_000_015);
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S", &tm, "UTC"),
            "2024-11-19 07:06:55"
        );
        assert_eq!(strftime("%c", &tm, "UTC"), "Tue Nov 19 07:06:55 2024");
        assert_eq!(
            strftime("%j %U %W %V %G %z %Z %% %Q", &tm, "UTC"),
            "324 46 47 47 2024 +0000 UTC % %Q"
        );
        assert_eq!(strftime("%I%p %e", &gmtime(0), "UTC"), "12AM  1");
    }
}
