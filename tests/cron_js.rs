//! aocu's copies of the JavaScript number parsers behind `Cron-Interval` (`ms` 2.1.3, as AO's
//! Node CU locks it, and `parseInt`) against the real ones, run by Node on the same texts: the
//! texts AO processes write and fresh random ones around the edges of both grammars.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod prereq;

use std::process::Command;

use aocu::ao::cron::js;
use rand::Rng as _;
use serde_json::Value;

/// Pieces the texts are made of: digits, signs, dots, spaces, every `ms` unit and near misses.
const PIECES: &[&str] = &[
    "0",
    "1",
    "5",
    "10",
    "250",
    ".",
    "-",
    "+",
    " ",
    "  ",
    "0x",
    "1f",
    "e3",
    "s",
    "ms",
    "sec",
    "secs",
    "second",
    "seconds",
    "m",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "d",
    "day",
    "days",
    "w",
    "week",
    "weeks",
    "y",
    "yr",
    "yrs",
    "year",
    "years",
    "msec",
    "msecs",
    "millisecond",
    "milliseconds",
    "month",
    "MINUTES",
    "Hours",
    "blocks",
    "\t",
];

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "10 minutes",
        "1 year",
        "1.5 Hours",
        ".5 s",
        "-2 days",
        "10 ",
        "12. s",
        "1 month",
        " 5 seconds",
        "5 seconds ",
        "1 2",
        "1500 ms",
        "  42abc",
        "0x10",
        "-0x10",
        "",
    ]
    .map(String::from)
    .to_vec();
    let mut rng = rand::rng();
    for _ in 0..400 {
        let n = rng.random_range(1..5);
        texts.push(
            (0..n)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect(),
        );
    }
    texts
}

#[test]
fn ms_and_parse_int_agree_with_javascript() {
    let Some(node_dir) = prereq::node_project() else {
        return;
    };
    let ms_dir = node_dir.join("node_modules/ms");
    let version: Value =
        serde_json::from_slice(&std::fs::read(ms_dir.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        version["version"], "2.1.3",
        "tests/node must lock ms 2.1.3 (the Node CU's)"
    );
    let texts = texts();
    let script = r#"
        const ms = require(process.argv[1]);
        const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        const num = (x) => (typeof x === 'number' && !Number.isNaN(x) ? x : null);
        console.log(JSON.stringify(texts.map((t) => [num(t.length ? ms(t) : undefined), num(parseInt(t))])));
    "#;
    let mut child = Command::new("node")
        .args(["-e", script, ms_dir.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &texts).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "node failed");
    let answers: Vec<(Option<f64>, Option<f64>)> = serde_json::from_slice(&out.stdout).unwrap();
    for (text, (want_ms, want_int)) in texts.iter().zip(answers) {
        let got_ms = if text.is_empty() { None } else { js::ms(text) };
        assert_eq!(got_ms, want_ms, "ms({text:?})");
        let got_int = Some(js::parse_int(text)).filter(|v| !v.is_nan());
        assert_eq!(got_int, want_int, "parseInt({text:?})");
    }
}
