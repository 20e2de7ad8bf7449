//! The core plan: which CPUs get an executor thread, in which order.
//!
//! The order is "one per physical core first, SMT siblings after": the first allowed hardware
//! thread of every core, then the second allowed thread of every core, and so on. Two busy
//! executors on sibling threads share one core's execution units, so siblings are only used
//! once every core has one executor.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::hw::CpuInfo;

/// The `executors` configuration key: which CPUs run process executors.
///
/// In TOML: `"physical"` (default: one executor per physical core), `"all"` (every allowed
/// hardware thread), a count (`4`: the first four CPUs of the plan order), or an explicit list
/// of CPU ids (`[0, 2]`). As an environment variable or `--set` flag the same values are
/// written as text: `physical`, `all`, `4`, `0,2,4-7` or `[0, 2]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExecutorsSetting {
    /// One executor per physical core, on its first allowed hardware thread.
    #[default]
    Physical,
    /// One executor per allowed hardware thread, physical cores first.
    All,
    /// This many executors, taken from the front of the plan order.
    Count(usize),
    /// Exactly these CPUs, in this order.
    Cpus(Vec<usize>),
}

/// Why a core plan cannot be made on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The process may not run on any CPU (an empty affinity mask should be impossible).
    #[error("no CPU is allowed for this process; cannot start executors")]
    NoAllowedCpus,
    /// `executors` names a CPU outside the allowed set.
    #[error(
        "executors: CPU {cpu} is not in the set this process may run on ({allowed}); \
         check taskset, cgroup cpusets or systemd AllowedCPUs="
    )]
    NotAllowed {
        /// The CPU asked for.
        cpu: usize,
        /// The allowed set, as a CPU list (`0-3,8`).
        allowed: String,
    },
    /// `executors` asks for more executors than there are allowed CPUs.
    #[error(
        "executors: {requested} executors asked for, but only {available} CPUs are allowed ({allowed})"
    )]
    TooMany {
        /// Executors asked for.
        requested: usize,
        /// Allowed CPUs.
        available: usize,
        /// The allowed set, as a CPU list.
        allowed: String,
    },
}

/// The CPUs that get an executor, one executor per entry, in executor-index order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorePlan {
    /// Executor `i` runs on CPU `cpus[i]`.
    pub cpus: Vec<usize>,
}

impl CorePlan {
    /// Plan the executors for `setting` on the machine described by `cpu`.
    ///
    /// Only CPUs in `cpu.allowed_cpus` are used; SMT siblings come from `cpu.smt_groups` (when
    /// the topology is unknown, every allowed CPU counts as its own core).
    pub fn new(setting: &ExecutorsSetting, cpu: &CpuInfo) -> Result<CorePlan, PlanError> {
        let allowed: BTreeSet<usize> = cpu.allowed_cpus.iter().copied().collect();
        if allowed.is_empty() {
            return Err(PlanError::NoAllowedCpus);
        }
        let (physical, all) = plan_order(&cpu.smt_groups, &allowed);
        let cpus = match setting {
            ExecutorsSetting::Physical => physical,
            ExecutorsSetting::All => all,
            ExecutorsSetting::Count(n) => {
                if *n > all.len() {
                    return Err(PlanError::TooMany {
                        requested: *n,
                        available: all.len(),
                        allowed: format_cpu_list(&allowed),
                    });
                }
                all[..*n].to_vec()
            }
            ExecutorsSetting::Cpus(list) => {
                if let Some(cpu) = list.iter().find(|c| !allowed.contains(c)) {
                    return Err(PlanError::NotAllowed {
                        cpu: *cpu,
                        allowed: format_cpu_list(&allowed),
                    });
                }
                list.clone()
            }
        };
        Ok(CorePlan { cpus })
    }

    /// Number of executors.
    pub fn len(&self) -> usize {
        self.cpus.len()
    }

    /// True when the plan has no executor (never the case for a plan from [`CorePlan::new`]).
    pub fn is_empty(&self) -> bool {
        self.cpus.is_empty()
    }
}

/// (first allowed thread of every core, all allowed threads in plan order).
fn plan_order(smt_groups: &[Vec<usize>], allowed: &BTreeSet<usize>) -> (Vec<usize>, Vec<usize>) {
    let mut groups: Vec<Vec<usize>> = smt_groups
        .iter()
        .map(|g| {
            let mut g: Vec<usize> = g.iter().copied().filter(|c| allowed.contains(c)).collect();
            g.sort_unstable();
            g
        })
        .filter(|g| !g.is_empty())
        .collect();
    // CPUs the topology did not mention (unknown topology, odd sysfs) count as their own core.
    let grouped: BTreeSet<usize> = groups.iter().flatten().copied().collect();
    groups.extend(allowed.difference(&grouped).map(|c| vec![*c]));
    // Cores in the order of their first thread, so the plan reads 0,1,2... on usual numbering.
    groups.sort_unstable();
    let physical = groups.iter().map(|g| g[0]).collect();
    let deepest = groups.iter().map(Vec::len).max().unwrap_or(0);
    let all = (0..deepest)
        .flat_map(|rank| groups.iter().filter_map(move |g| g.get(rank).copied()))
        .collect();
    (physical, all)
}

/// `0-3,8,10-11` for a set of CPU ids.
pub fn format_cpu_list(cpus: &BTreeSet<usize>) -> String {
    let mut parts = Vec::new();
    let mut iter = cpus.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// Why an `executors` value is not a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// Text that is none of the forms.
    #[error(
        "expected \"physical\", \"all\", a number of executors or a list of CPU ids \
         (like [0, 2] or \"0,2-3\"), got \"{text}\" ({why})"
    )]
    Unrecognized {
        /// The value as written.
        text: String,
        /// Why it is no CPU list either.
        why: CpuListError,
    },
    /// A count below 1.
    #[error("the number of executors must be at least 1, got {0}")]
    TooFew(i64),
    /// A list without CPUs.
    #[error("the list of executor CPUs is empty")]
    EmptyList,
    /// A CPU twice in the list.
    #[error("CPU {0} is listed twice")]
    Duplicate(usize),
}

/// Why text is not a CPU list like `0,2,4-7`; each names the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpuListError {
    /// Not a CPU number.
    #[error("`{0}` is not a CPU id")]
    NotACpu(String),
    /// `b-a` with `b` after `a`.
    #[error("range `{0}` runs backwards")]
    Backwards(String),
    /// A range of 4096 CPUs or more (a typo, not a machine).
    #[error("range `{0}` is too large")]
    TooLarge(String),
}

/// Parse the text form of the setting (environment variables, flags, TOML strings).
fn parse_setting(text: &str) -> Result<ExecutorsSetting, SettingError> {
    let trimmed = text.trim();
    match trimmed.to_ascii_lowercase().as_str() {
        "physical" => return Ok(ExecutorsSetting::Physical),
        "all" => return Ok(ExecutorsSetting::All),
        _ => {}
    }
    if let Ok(n) = trimmed.parse::<i64>() {
        return count(n);
    }
    let inner = trimmed
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(trimmed);
    let cpus = parse_cpu_list(inner).map_err(|why| SettingError::Unrecognized {
        text: text.to_string(),
        why,
    })?;
    cpu_list(cpus)
}

/// `0,2,4-7` → [0, 2, 4, 5, 6, 7], keeping the written order.
fn parse_cpu_list(text: &str) -> Result<Vec<usize>, CpuListError> {
    let cpu = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| CpuListError::NotACpu(s.trim().to_string()))
    };
    let mut cpus = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (cpu(a)?, cpu(b)?);
                if a > b {
                    return Err(CpuListError::Backwards(part.trim().to_string()));
                }
                if b - a >= 4096 {
                    return Err(CpuListError::TooLarge(part.trim().to_string()));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(cpu(part)?),
        }
    }
    Ok(cpus)
}

fn count(n: i64) -> Result<ExecutorsSetting, SettingError> {
    match usize::try_from(n) {
        Ok(n) if n > 0 => Ok(ExecutorsSetting::Count(n)),
        _ => Err(SettingError::TooFew(n)),
    }
}

fn cpu_list(cpus: Vec<usize>) -> Result<ExecutorsSetting, SettingError> {
    if cpus.is_empty() {
        return Err(SettingError::EmptyList);
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = cpus.iter().find(|c| !seen.insert(**c)) {
        return Err(SettingError::Duplicate(*dup));
    }
    Ok(ExecutorsSetting::Cpus(cpus))
}

impl Serialize for ExecutorsSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ExecutorsSetting::Physical => serializer.serialize_str("physical"),
            ExecutorsSetting::All => serializer.serialize_str("all"),
            ExecutorsSetting::Count(n) => serializer.serialize_u64(*n as u64),
            ExecutorsSetting::Cpus(cpus) => {
                let mut seq = serializer.serialize_seq(Some(cpus.len()))?;
                for cpu in cpus {
                    seq.serialize_element(cpu)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for ExecutorsSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SettingVisitor)
    }
}

struct SettingVisitor;

impl<'de> Visitor<'de> for SettingVisitor {
    type Value = ExecutorsSetting;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"physical\", \"all\", a number of executors or a list of CPU ids")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_setting(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        count(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        count(i64::try_from(v).unwrap_or(i64::MAX)).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut cpus = Vec::new();
        while let Some(value) = seq.next_element::<i64>()? {
            let cpu = usize::try_from(value)
                .map_err(|_| de::Error::custom(format!("`{value}` is not a CPU id")))?;
            cpus.push(cpu);
        }
        cpu_list(cpus).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(smt_groups: Vec<Vec<usize>>, allowed: Vec<usize>) -> CpuInfo {
        let mut cpu = crate::hw::cpu::discover();
        cpu.smt_groups = smt_groups;
        cpu.allowed_cpus = allowed;
        cpu
    }

    fn plan(setting: ExecutorsSetting, cpu: &CpuInfo) -> Result<Vec<usize>, PlanError> {
        CorePlan::new(&setting, cpu).map(|p| p.cpus)
    }

    #[test]
    fn physical_first_then_siblings() {
        // Linux numbering on a 4-core, 2-thread machine: siblings are n and n+4.
        let cpu = machine(
            vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]],
            (0..8).collect(),
        );
        assert_eq!(
            plan(ExecutorsSetting::Physical, &cpu).unwrap(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            plan(ExecutorsSetting::All, &cpu).unwrap(),
            [0, 1, 2, 3, 4, 5, 6, 7]
        );
        assert_eq!(
            plan(ExecutorsSetting::Count(5), &cpu).unwrap(),
            [0, 1, 2, 3, 4]
        );
        // Adjacent numbering (siblings 2n, 2n+1).
        let cpu = machine(vec![vec![0, 1], vec![2, 3]], (0..4).collect());
        assert_eq!(plan(ExecutorsSetting::Physical, &cpu).unwrap(), [0, 2]);
        assert_eq!(plan(ExecutorsSetting::All, &cpu).unwrap(), [0, 2, 1, 3]);
    }

    #[test]
    fn only_allowed_cpus_are_planned() {
        let cpu = machine(
            vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]],
            vec![0, 4, 5],
        );
        assert_eq!(plan(ExecutorsSetting::Physical, &cpu).unwrap(), [0, 5]);
        assert_eq!(plan(ExecutorsSetting::All, &cpu).unwrap(), [0, 5, 4]);
        let err = plan(ExecutorsSetting::Cpus(vec![4, 1]), &cpu).unwrap_err();
        assert_eq!(
            err,
            PlanError::NotAllowed {
                cpu: 1,
                allowed: "0,4-5".into()
            }
        );
        assert!(err.to_string().contains("CPU 1 is not in the set"), "{err}");
        let err = plan(ExecutorsSetting::Count(4), &cpu).unwrap_err();
        assert!(
            err.to_string()
                .contains("4 executors asked for, but only 3 CPUs are allowed (0,4-5)"),
            "{err}"
        );
        assert_eq!(
            plan(ExecutorsSetting::Cpus(vec![5, 0]), &cpu).unwrap(),
            [5, 0]
        );
    }

    #[test]
    fn unknown_topology_counts_each_cpu_as_a_core() {
        let cpu = machine(vec![], vec![3, 1, 2]);
        assert_eq!(plan(ExecutorsSetting::Physical, &cpu).unwrap(), [1, 2, 3]);
        let cpu = machine(vec![], vec![]);
        assert_eq!(
            plan(ExecutorsSetting::All, &cpu).unwrap_err(),
            PlanError::NoAllowedCpus
        );
    }

    #[test]
    fn text_forms() {
        assert_eq!(parse_setting("Physical"), Ok(ExecutorsSetting::Physical));
        assert_eq!(parse_setting(" all "), Ok(ExecutorsSetting::All));
        assert_eq!(parse_setting("3"), Ok(ExecutorsSetting::Count(3)));
        assert_eq!(
            parse_setting("0,2,4-6"),
            Ok(ExecutorsSetting::Cpus(vec![0, 2, 4, 5, 6]))
        );
        assert_eq!(
            parse_setting("[3, 1]"),
            Ok(ExecutorsSetting::Cpus(vec![3, 1]))
        );
        for bad in ["0", "-2", "fast", "", "1,1", "3-1", "0-99999", "[]", "1,x"] {
            assert!(parse_setting(bad).is_err(), "{bad}");
        }
        assert!(
            parse_setting("fast")
                .unwrap_err()
                .to_string()
                .contains("\"fast\"")
        );
        // Each failure is its own variant, with the message it had as text.
        assert_eq!(parse_setting("0"), Err(SettingError::TooFew(0)));
        assert_eq!(cpu_list(vec![]), Err(SettingError::EmptyList));
        assert!(matches!(
            parse_setting("[]"),
            Err(SettingError::Unrecognized {
                why: CpuListError::NotACpu(_),
                ..
            })
        ));
        assert_eq!(parse_setting("1,2,1"), Err(SettingError::Duplicate(1)));
        let err = parse_setting("3-1").unwrap_err();
        assert_eq!(
            err,
            SettingError::Unrecognized {
                text: "3-1".into(),
                why: CpuListError::Backwards("3-1".into())
            }
        );
        assert!(
            err.to_string().ends_with("(range `3-1` runs backwards)"),
            "{err}"
        );
        assert!(matches!(
            parse_setting("0-99999"),
            Err(SettingError::Unrecognized {
                why: CpuListError::TooLarge(_),
                ..
            })
        ));
        assert_eq!(
            SettingError::TooFew(-2).to_string(),
            "the number of executors must be at least 1, got -2"
        );
    }

    #[test]
    fn cpu_lists_format_compactly() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(
            format_cpu_list(&set(&[0, 1, 2, 3, 8, 10, 11])),
            "0-3,8,10-11"
        );
        assert_eq!(format_cpu_list(&set(&[5])), "5");
        assert_eq!(format_cpu_list(&set(&[])), "");
    }
}
