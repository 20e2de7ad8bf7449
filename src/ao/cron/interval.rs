//! A process' crons, read from its tags as AO's Node CU reads them (`parseCrons` in
//! `servers/cu/src/domain/lib/loadMessages.js`): every `Cron-Interval` tag starts a cron, every
//! later `Cron-Tag-<Name>` adds the tag `<Name>` to the newest one.

use super::js;
use crate::ao::{Tag, Tags};

/// The tag that starts a cron.
pub const CRON_INTERVAL: &str = "Cron-Interval";
/// The prefix of the tags a cron message carries.
pub const CRON_TAG_PREFIX: &str = "Cron-Tag-";

/// How often a cron fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Every {
    /// Every so many whole seconds; NaN where the Node CU's `ms` gave `undefined` (such a cron
    /// never fires, but it keeps its place among the time crons).
    Seconds(f64),
    /// Every so many blocks (`parseInt` of the value: NaN, zero or negative are possible).
    Blocks(f64),
}

/// One cron of a process.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    /// The `Cron-Interval` value as written (part of the cron's identifier).
    pub interval: String,
    /// Its period.
    pub every: Every,
    /// The tags its messages carry (the `Cron-Tag-` prefix removed), in order.
    pub tags: Tags,
}

/// A process whose cron tags the Node CU refuses to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// A `Cron-Tag-*` before any `Cron-Interval`.
    #[error("Unmatched Cron-Tag with no preceding Cron-Interval: {name}")]
    UnmatchedTag {
        /// The tag's name.
        name: String,
    },
    /// A time interval under one second (it would fire on every tick, or never).
    #[error("time-based cron cannot be less than 1 second (Cron-Interval: {interval:?})")]
    BelowOneSecond {
        /// The `Cron-Interval` value.
        interval: String,
    },
}

/// The crons of a process, in tag order; empty when it has none.
pub fn crons(tags: &Tags) -> Result<Vec<Cron>, CronError> {
    let mut crons: Vec<Cron> = Vec::new();
    for tag in tags.iter() {
        if tag.name == CRON_INTERVAL {
            crons.push(Cron {
                interval: tag.value.clone(),
                every: every(&tag.value)?,
                tags: Tags::new(),
            });
        } else if let Some(name) = cron_tag_name(&tag.name) {
            let Some(cron) = crons.last_mut() else {
                return Err(CronError::UnmatchedTag {
                    name: tag.name.clone(),
                });
            };
            cron.tags.push(Tag::new(name, tag.value.clone()));
        }
    }
    Ok(crons)
}

/// `<Name>` of a `Cron-Tag-<Name>` tag (the Node CU's `/^Cron-Tag-(.+)$/`: a non-empty name
/// without line terminators, which `.` does not match).
fn cron_tag_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(CRON_TAG_PREFIX)?;
    let line_break = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    (!rest.is_empty() && !rest.contains(line_break)).then_some(rest)
}

/// The period of an interval text: `<value>-<unit>`, split at every `-` and trimmed, of which
/// only the first two parts count; unit `blocks`/`block` counts blocks, anything else (no unit
/// included) is a time for `ms("<value> <unit>")`, floored to whole seconds.
fn every(interval: &str) -> Result<Every, CronError> {
    let mut parts = interval
        .split('-')
        .map(|s| s.trim_matches(js::is_js_whitespace));
    let value = parts.next().unwrap_or_default();
    let unit = parts.next();
    if matches!(unit, Some("blocks" | "block")) {
        return Ok(Every::Blocks(js::parse_int(value)));
    }
    // `[value, unit].join(' ')`: an absent unit joins as the empty string.
    let text = format!("{value} {}", unit.unwrap_or_default());
    let seconds = js::ms(&text).map_or(f64::NAN, js::to_seconds);
    // `NaN <= 0` is false in JavaScript too: an unparsable time is kept, and never fires.
    if seconds <= 0.0 {
        return Err(CronError::BelowOneSecond {
            interval: interval.to_owned(),
        });
    }
    Ok(Every::Seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        Tags(pairs.iter().map(|(n, v)| Tag::new(*n, *v)).collect())
    }

    #[test]
    fn intervals_and_their_tags() {
        let crons = crons(&tags(&[
            ("Name", "x"),
            ("Cron-Interval", "5-minutes"),
            ("Cron-Tag-Action", "Tick"),
            ("Cron-Tag-Foo", "Bar"),
            ("Cron-Interval", " 10 - blocks "),
            ("Cron-Tag-Action", "Block"),
        ]))
        .unwrap();
        assert_eq!(crons.len(), 2);
        assert_eq!(crons[0].every, Every::Seconds(300.0));
        assert_eq!(crons[0].tags, tags(&[("Action", "Tick"), ("Foo", "Bar")]));
        assert_eq!(crons[1].every, Every::Blocks(10.0));
        assert_eq!(crons[1].interval, " 10 - blocks ");
    }

    #[test]
    fn refusals_and_quirks_kept() {
        let unmatched = crons(&tags(&[("Cron-Tag-Action", "x")]));
        assert!(matches!(unmatched, Err(CronError::UnmatchedTag { .. })));
        let short = crons(&tags(&[("Cron-Interval", "500-milliseconds")]));
        assert!(matches!(short, Err(CronError::BelowOneSecond { .. })));
        let no_unit = crons(&tags(&[("Cron-Interval", "10")]));
        assert!(matches!(no_unit, Err(CronError::BelowOneSecond { .. })));
        // Floored to whole seconds, and an unparsable time kept as NaN.
        let c = crons(&tags(&[
            ("Cron-Interval", "1500-ms"),
            ("Cron-Interval", "1-month"),
            ("Cron-Interval", "1-2-minutes"),
        ]))
        .unwrap();
        assert_eq!(c[0].every, Every::Seconds(1.0));
        assert!(matches!(c[1].every, Every::Seconds(s) if s.is_nan()));
        assert!(matches!(c[2].every, Every::Seconds(s) if s.is_nan()));
        // `Cron-Tag-` with no name is not a cron tag.
        assert!(crons(&tags(&[("Cron-Tag-", "x")])).unwrap().is_empty());
    }
}
