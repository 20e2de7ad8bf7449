use super::*;
use crate::ao::Tag;
use crate::ao::cron::interval::crons;
use proptest::prelude::*;

/// The Node CU's loop, transcribed literally from its description in `docs/node-cu-cron.md`:
/// one tick per second from the left timestamp, the next block first, then the time crons.
fn reference(schedule: &Schedule, left: Block, right: i64, blocks: &[Block]) -> Vec<CronMessage> {
    let to_s = |ms: i64| ms.div_euclid(1000);
    let mut in_range: VecDeque<Block> = blocks
        .iter()
        .filter(|b| b.timestamp > left.timestamp && b.timestamp < right)
        .copied()
        .collect();
    let origin = schedule.origin;
    let mut out = Vec::new();
    let mut current = left;
    let mut cur = left.timestamp;
    while cur < right {
        if let Some(next) = in_range.front().copied()
            && to_s(cur) >= to_s(next.timestamp)
        {
            current = in_range.pop_front().unwrap();
            for cron in &schedule.blocks {
                if let Some(p) = cron.period
                    && current.height != origin.height
                    && (current.height - origin.height) % p == 0
                {
                    out.push(message(cron, current.timestamp, current.height));
                }
            }
        }
        for cron in &schedule.times {
            let (t, o) = (to_s(cur), to_s(origin.timestamp));
            if let Some(p) = cron.period
                && t != o
                && (t - o) % p == 0
            {
                out.push(message(cron, cur, current.height));
            }
        }
        cur += 1000;
    }
    out
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags(pairs.iter().map(|(n, v)| Tag::new(*n, *v)).collect())
}

fn schedule(pairs: &[(&str, &str)], origin: Block) -> Schedule {
    Schedule::new(&crons(&tags(pairs)).unwrap(), origin)
}

#[test]
fn time_crons_fire_on_multiples_of_their_period_from_the_origin() {
    let origin = Block {
        height: 100,
        timestamp: 1_700_000_000_500,
    };
    let s = schedule(
        &[
            ("Cron-Interval", "10-seconds"),
            ("Cron-Tag-Action", "Tick"),
            ("Cron-Interval", "5-seconds"),
        ],
        origin,
    );
    let got: Vec<_> = s.between(origin, origin.timestamp + 20_001, &[]).collect();
    // The shorter period sorts first: `0-5-seconds` at +5, +10, +15, +20 s; `1-10-seconds` at +10, +20 s.
    let ids: Vec<_> = got
        .iter()
        .map(|m| (m.cron.as_str(), m.timestamp - origin.timestamp))
        .collect();
    assert_eq!(
        ids,
        [
            ("0-5-seconds", 5000),
            ("0-5-seconds", 10_000),
            ("1-10-seconds", 10_000),
            ("0-5-seconds", 15_000),
            ("0-5-seconds", 20_000),
            ("1-10-seconds", 20_000),
        ]
    );
    assert_eq!(got[2].tags, tags(&[("Action", "Tick")]));
    assert!(got.iter().all(|m| m.block_height == 100));
}

#[test]
fn block_crons_fire_before_time_crons_and_set_the_height() {
    let origin = Block {
        height: 10,
        timestamp: 1_000_000,
    };
    let s = schedule(
        &[("Cron-Interval", "2-blocks"), ("Cron-Interval", "1-second")],
        origin,
    );
    let blocks = [
        Block {
            height: 11,
            timestamp: 1_002_400,
        },
        Block {
            height: 12,
            timestamp: 1_002_900,
        },
    ];
    let got: Vec<_> = s.between(origin, 1_005_000, &blocks).collect();
    assert_eq!(got, reference(&s, origin, 1_005_000, &blocks));
    // Height 12 is taken one tick after 11 (one block per tick), and it fires the block cron.
    let block_msg = got.iter().find(|m| m.cron == "0-2-blocks").unwrap();
    assert_eq!(
        (block_msg.timestamp, block_msg.block_height),
        (1_002_900, 12)
    );
}

#[test]
fn a_year_idle_costs_its_firings_only() {
    let origin = Block {
        height: 1,
        timestamp: 0,
    };
    let s = schedule(&[("Cron-Interval", "1-day")], origin);
    let year = 365 * 86_400_000;
    assert_eq!(s.between(origin, year + 1, &[]).count(), 365);
}

#[test]
fn sort_matches_v8_with_nan_periods() {
    // What Node 20 prints for `[5, NaN, 3].sort(ascend)`: [5, NaN, 3].
    let mut v = vec![5.0, f64::NAN, 3.0];
    js_sort_by(&mut v, |a, b| js_ascend(*a, *b));
    assert_eq!(v[0], 5.0);
    assert!(v[1].is_nan());
    assert_eq!(v[2], 3.0);
    // [3, NaN, 1, 2] is one run for V8 (each neighbour "equal" or ascending): left as it is.
    let mut u = vec![3.0, f64::NAN, 1.0, 2.0];
    js_sort_by(&mut u, |a, b| js_ascend(*a, *b));
    assert_eq!((u[0], u[2], u[3]), (3.0, 1.0, 2.0));
    let mut w = vec![9.0, 4.0, 1.0, 7.0];
    js_sort_by(&mut w, |a, b| js_ascend(*a, *b));
    assert_eq!(w, [1.0, 4.0, 7.0, 9.0]);
}

fn arb_interval() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..40).prop_map(|n| format!("{n}-seconds")),
        (1u32..5).prop_map(|n| format!("{n}-minutes")),
        (1u32..6).prop_map(|n| format!("{n}-blocks")),
        Just("x-blocks".to_owned()),
        Just("1-month".to_owned()),
    ]
}

proptest! {
    #[test]
    fn jumping_equals_ticking(
        intervals in prop::collection::vec(arb_interval(), 1..4),
        origin_ms in 0i64..5_000,
        left_offset in 0i64..30_000,
        len in 0i64..200_000,
        gaps in prop::collection::vec(0i64..9_000, 0..20),
    ) {
        let pairs: Vec<(&str, &str)> = intervals.iter().map(|i| ("Cron-Interval", i.as_str())).collect();
        let origin = Block { height: 50, timestamp: 1_600_000_000_000 + origin_ms };
        let s = schedule(&pairs, origin);
        let left = Block { height: 50, timestamp: origin.timestamp + left_offset };
        let mut t = left.timestamp;
        let blocks: Vec<Block> = gaps.iter().enumerate().map(|(i, g)| {
            t += g;
            Block { height: 51 + i as i64, timestamp: t }
        }).collect();
        let right = left.timestamp + len;
        let got: Vec<_> = s.between(left, right, &blocks).collect();
        prop_assert_eq!(got, reference(&s, left, right, &blocks));
    }
}
