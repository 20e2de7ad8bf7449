//! What `aocu bench` reports: one row per test (a median over repeated runs and their spread),
//! runs repeated until the spread is under a bound, figures in SI units, and the table
//! (a device header, then one line per test, as `hashcat -b` or `openssl speed` print).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// One figure of one run: (test name, unit, value).
pub type Figure = (String, &'static str, f64);

/// How many runs a test gets.
#[derive(Debug, Clone, Copy)]
pub struct Stability {
    /// Runs always made, and the window judged: the last this many runs.
    pub min_runs: usize,
    /// Runs at most, stable or not.
    pub max_runs: usize,
    /// Enough when, over the window, every figure's spread, (max − min) / median, is at most
    /// this. Earlier runs (a cold cache, a burst of other work) fall out of the window.
    pub bound: f64,
}

impl Stability {
    fn window<'v>(&self, values: &'v [f64]) -> &'v [f64] {
        &values[values.len().saturating_sub(self.min_runs.max(1))..]
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Row {
    /// `hashing`, `verification`, `evaluation`, `dry-run`.
    pub section: &'static str,
    /// What was measured.
    pub test: String,
    /// The unit of `median` (`B/s`, `sig/s`, `msg/s`, `req/s`, `s`).
    pub unit: &'static str,
    /// The median over the last runs (the window of [`Stability`]).
    pub median: f64,
    /// (max − min) / median over the same runs.
    pub spread: f64,
    /// Runs made.
    pub runs: usize,
    /// Whether the spread ended under the bound.
    pub stable: bool,
}

/// Run `once` until every figure it returns is stable (or `stability.max_runs` runs); one row
/// per figure, in the order of the first run. `progress` is told after each run.
pub fn until_stable(
    section: &'static str,
    stability: Stability,
    mut once: impl FnMut() -> Result<Vec<Figure>, String>,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Row>, String> {
    let mut order: Vec<(String, &'static str)> = Vec::new();
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut runs = 0;
    while runs < stability.max_runs.max(1) {
        for (test, unit, value) in once()? {
            if !values.contains_key(&test) {
                order.push((test.clone(), unit));
            }
            values.entry(test).or_default().push(value);
        }
        runs += 1;
        progress(runs);
        let stable = values
            .values()
            .all(|v| spread(stability.window(v)) <= stability.bound);
        if runs >= stability.min_runs && stable {
            break;
        }
    }
    Ok(order
        .into_iter()
        .map(|(test, unit)| {
            let all = &values[&test];
            let v = stability.window(all);
            let spread = spread(v);
            Row {
                section,
                median: median(v),
                spread,
                runs: all.len(),
                stable: spread <= stability.bound,
                test,
                unit,
            }
        })
        .collect())
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// (max − min) / median: 0 for one value.
pub fn spread(values: &[f64]) -> f64 {
    let m = median(values);
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if values.len() < 2 || m == 0.0 {
        0.0
    } else {
        (hi - lo) / m
    }
}

/// `value` with an SI prefix: `1.23 k`, `45.6 M`, `789 µ`.
pub fn si(value: f64, unit: &str) -> String {
    const UP: [(f64, &str); 4] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    const DOWN: [(f64, &str); 3] = [(1e-3, "m"), (1e-6, "µ"), (1e-9, "n")];
    let magnitude = value.abs();
    let (scale, prefix) = if magnitude >= 1e3 {
        UP.iter()
            .copied()
            .find(|(s, _)| magnitude >= *s)
            .unwrap_or((1.0, ""))
    } else if magnitude > 0.0 && magnitude < 1.0 {
        DOWN.iter()
            .copied()
            .find(|(s, _)| magnitude >= *s)
            .unwrap_or((1e-9, "n"))
    } else {
        (1.0, "")
    };
    format!("{:.3} {prefix}{unit}", value / scale).replace(".000 ", " ")
}

/// The table: `header` lines, then one line per row.
pub fn render(header: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "{line}");
    }
    let width = rows.iter().map(|r| r.test.len()).max().unwrap_or(4).max(4);
    let mut section = "";
    for row in rows {
        if row.section != section {
            section = row.section;
            let _ = writeln!(out, "\n* {section}");
        }
        let _ = writeln!(
            out,
            "{:<width$}  {:>16}  ±{:>5.1}%  {} run{}{}",
            row.test,
            si(row.median, row.unit),
            100.0 * row.spread,
            row.runs,
            if row.runs == 1 { "" } else { "s" },
            if row.stable { "" } else { " (unstable)" },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_spreads_and_si() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(spread(&[9.0, 10.0, 11.0]), 0.2);
        assert_eq!(spread(&[5.0]), 0.0);
        assert_eq!(si(1_234_000.0, "B/s"), "1.234 MB/s");
        assert_eq!(si(0.000_25, "s"), "250 µs");
        assert_eq!(si(12.0, "msg/s"), "12 msg/s");
    }

    #[test]
    fn runs_repeat_until_the_spread_is_under_the_bound() {
        // A noisy first run falls out of the window of two: stable at the third run.
        let values = [10.0, 20.0, 19.0, 50.0];
        let mut i = 0;
        let rows = until_stable(
            "t",
            Stability {
                min_runs: 2,
                max_runs: 10,
                bound: 0.5,
            },
            || {
                i += 1;
                Ok(vec![("x".into(), "msg/s", values[i - 1])])
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(
            (rows[0].runs, rows[0].median, rows[0].stable),
            (3, 19.5, true)
        );
        let capped = until_stable(
            "t",
            Stability {
                min_runs: 2,
                max_runs: 3,
                bound: 0.0,
            },
            {
                let mut n = 0.0;
                move || {
                    n += 1.0;
                    Ok(vec![("y".into(), "msg/s", n)])
                }
            },
            |_| {},
        )
        .unwrap();
        assert_eq!((capped[0].runs, capped[0].stable), (3, false));
    }
}
