//! CPU discovery: topology, caches, frequencies, ISA features and the allowed CPU set.
//!
//! On Linux, `/sys/devices/system/cpu` and `/sys/devices/system/node` are the source of truth
//! for topology (they respect hot-plug and what the hypervisor exposes); `/proc/cpuinfo` and
//! sysinfo give the vendor and model name. On other systems the topology fields are `None`
//! and nothing panics.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::sysfs::{parse_cpu_list, parse_size, read_trimmed};

/// Everything the node knows about its processors.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct CpuInfo {
    /// Vendor string as the CPU reports it (`GenuineIntel`, `AuthenticAMD`, `ARM`, ...).
    pub vendor: Option<String>,
    /// Marketing model name (`Intel(R) Xeon(R) ...`).
    pub model_name: Option<String>,
    /// Rust's name of the architecture (`x86_64`, `aarch64`).
    pub architecture: String,
    /// Logical CPUs online (hardware threads).
    pub logical_cpus: usize,
    /// Physical cores: distinct (package, core) pairs among the online CPUs.
    pub physical_cores: Option<usize>,
    /// CPU packages (sockets).
    pub packages: Option<usize>,
    /// Hardware threads per core (the largest SMT group).
    pub threads_per_core: Option<usize>,
    /// Groups of logical CPUs that share one physical core (SMT siblings), sorted.
    pub smt_groups: Vec<Vec<usize>>,
    /// NUMA nodes and the CPUs that belong to each.
    pub numa_nodes: Vec<NumaNode>,
    /// Cache levels with size per instance and how many instances the machine has.
    pub caches: Vec<CacheInfo>,
    /// Frequencies in MHz where the OS reports them.
    pub frequency_mhz: FrequencyMhz,
    /// ISA features that matter to aocu, detected at run time on this CPU.
    pub isa_features: BTreeMap<String, bool>,
    /// CPUs this process may run on (sched_getaffinity: taskset, cgroups, systemd `AllowedCPUs=`).
    pub allowed_cpus: Vec<usize>,
}

/// One NUMA node.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct NumaNode {
    /// Node number as the kernel names it.
    pub id: usize,
    /// Logical CPUs of this node.
    pub cpus: Vec<usize>,
    /// Memory attached to this node, when the kernel tells.
    pub memory_bytes: Option<u64>,
}

/// One cache level and type.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct CacheInfo {
    /// 1, 2, 3 ...
    pub level: u32,
    /// `data`, `instruction` or `unified`.
    pub kind: String,
    /// Size of one instance in bytes.
    pub size_bytes: u64,
    /// Distinct instances of this cache on the machine.
    pub instances: usize,
    /// Logical CPUs sharing one instance.
    pub shared_by_cpus: usize,
}

/// Processor frequencies in MHz.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct FrequencyMhz {
    /// Base (nominal) frequency.
    pub base: Option<u64>,
    /// Highest frequency the CPU may run at.
    pub max: Option<u64>,
    /// Lowest frequency.
    pub min: Option<u64>,
}

const SYS_CPU: &str = "/sys/devices/system/cpu";
const SYS_NODE: &str = "/sys/devices/system/node";

/// Discover the CPUs of this machine.
pub fn discover() -> CpuInfo {
    let (vendor, model_name) = vendor_and_model();
    let sys_cpu = Path::new(SYS_CPU);
    let online = read_trimmed(&sys_cpu.join("online")).and_then(|s| parse_cpu_list(&s).ok());
    let logical_cpus = online
        .as_ref()
        .map(|set| set.len())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let topology = online
        .as_ref()
        .and_then(|cpus| Topology::read(sys_cpu, cpus));
    CpuInfo {
        vendor,
        model_name,
        architecture: std::env::consts::ARCH.to_string(),
        logical_cpus,
        physical_cores: topology.as_ref().map(|t| t.physical_cores),
        packages: topology.as_ref().map(|t| t.packages),
        threads_per_core: topology
            .as_ref()
            .and_then(|t| t.smt_groups.iter().map(Vec::len).max()),
        smt_groups: topology.map(|t| t.smt_groups).unwrap_or_default(),
        numa_nodes: numa_nodes(Path::new(SYS_NODE)),
        caches: online
            .as_ref()
            .map(|cpus| caches(sys_cpu, cpus))
            .unwrap_or_default(),
        frequency_mhz: frequencies(sys_cpu),
        isa_features: isa_features(),
        allowed_cpus: allowed_cpus(),
    }
}

/// Topology read from `/sys/devices/system/cpu/cpuN/topology`.
struct Topology {
    physical_cores: usize,
    packages: usize,
    smt_groups: Vec<Vec<usize>>,
}

impl Topology {
    fn read(sys_cpu: &Path, online: &BTreeSet<usize>) -> Option<Topology> {
        let mut cores = BTreeSet::new();
        let mut packages = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for cpu in online {
            let dir = sys_cpu.join(format!("cpu{cpu}/topology"));
            let package: i64 = read_trimmed(&dir.join("physical_package_id"))?
                .parse()
                .ok()?;
            let core: i64 = read_trimmed(&dir.join("core_id"))?.parse().ok()?;
            cores.insert((package, core));
            packages.insert(package);
            let siblings = read_trimmed(&dir.join("thread_siblings_list"))
                .and_then(|s| parse_cpu_list(&s).ok())
                .unwrap_or_else(|| BTreeSet::from([*cpu]));
            // Only online siblings count: an offline thread does not run work.
            groups.insert(siblings.intersection(online).copied().collect::<Vec<_>>());
        }
        Some(Topology {
            physical_cores: cores.len(),
            packages: packages.len(),
            smt_groups: groups.into_iter().collect(),
        })
    }
}

fn vendor_and_model() -> (Option<String>, Option<String>) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name && !value.trim().is_empty()).then(|| value.trim().to_string())
        })
    };
    let mut vendor = field("vendor_id").or_else(|| field("CPU implementer").map(arm_implementer));
    let mut model = field("model name").or_else(|| field("Model"));
    if (vendor.is_none() || model.is_none())
        && let Some((cpu_vendor, brand, _)) = first_cpu(sysinfo::CpuRefreshKind::nothing())
    {
        let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        vendor = vendor.or_else(|| non_empty(&cpu_vendor));
        model = model.or_else(|| non_empty(&brand));
    }
    (vendor, model)
}

/// Names of Arm implementer codes (`CPU implementer` in /proc/cpuinfo).
fn arm_implementer(code: String) -> String {
    let name = match code.trim_start_matches("0x").to_ascii_lowercase().as_str() {
        "41" => "ARM",
        "42" => "Broadcom",
        "43" => "Cavium",
        "48" => "HiSilicon",
        "4e" => "NVIDIA",
        "50" => "APM",
        "51" => "Qualcomm",
        "61" => "Apple",
        "c0" => "Ampere",
        _ => return code,
    };
    name.to_string()
}

fn numa_nodes(sys_node: &Path) -> Vec<NumaNode> {
    let Some(ids) = read_trimmed(&sys_node.join("online")).and_then(|s| parse_cpu_list(&s).ok())
    else {
        return Vec::new();
    };
    ids.into_iter()
        .map(|id| {
            let dir = sys_node.join(format!("node{id}"));
            let cpus = read_trimmed(&dir.join("cpulist"))
                .and_then(|s| parse_cpu_list(&s).ok())
                .map(|set| set.into_iter().collect())
                .unwrap_or_default();
            NumaNode {
                id,
                cpus,
                memory_bytes: node_memory(&dir.join("meminfo")),
            }
        })
        .collect()
}

/// `Node 0 MemTotal:  24576000 kB` from a node's meminfo.
fn node_memory(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.contains("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().rev().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn caches(sys_cpu: &Path, online: &BTreeSet<usize>) -> Vec<CacheInfo> {
    // (level, kind) -> (size, set of distinct sharing groups)
    type SharingGroups = BTreeSet<Vec<usize>>;
    let mut found: BTreeMap<(u32, String), (u64, SharingGroups)> = BTreeMap::new();
    for cpu in online {
        let cache_dir = sys_cpu.join(format!("cpu{cpu}/cache"));
        let Ok(entries) = std::fs::read_dir(&cache_dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            let is_index = dir
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("index"));
            if !is_index {
                continue;
            }
            let level = read_trimmed(&dir.join("level")).and_then(|s| s.parse().ok());
            let kind = read_trimmed(&dir.join("type")).map(|t| t.to_ascii_lowercase());
            let size = read_trimmed(&dir.join("size")).and_then(|s| parse_size(&s));
            let (Some(level), Some(kind), Some(size)) = (level, kind, size) else {
                continue;
            };
            let shared = read_trimmed(&dir.join("shared_cpu_list"))
                .and_then(|s| parse_cpu_list(&s).ok())
                .map(|set| set.into_iter().collect::<Vec<_>>())
                .unwrap_or_else(|| vec![*cpu]);
            let slot = found
                .entry((level, kind))
                .or_insert_with(|| (size, BTreeSet::new()));
            slot.1.insert(shared);
        }
    }
    found
        .into_iter()
        .map(|((level, kind), (size, groups))| CacheInfo {
            level,
            kind,
            size_bytes: size,
            shared_by_cpus: groups.iter().map(Vec::len).max().unwrap_or(1),
            instances: groups.len(),
        })
        .collect()
}

fn frequencies(sys_cpu: &Path) -> FrequencyMhz {
    let khz = |name: &str| {
        read_trimmed(&sys_cpu.join("cpu0/cpufreq").join(name))
            .and_then(|s| s.parse::<u64>().ok())
            .map(|k| k / 1000)
    };
    let mut freq = FrequencyMhz {
        base: khz("base_frequency"),
        max: khz("cpuinfo_max_freq"),
        min: khz("cpuinfo_min_freq"),
    };
    if freq.base.is_none() && freq.max.is_none() {
        // Virtual machines often have no cpufreq; the kernel's idea of the clock is next best.
        freq.base = first_cpu(sysinfo::CpuRefreshKind::nothing().with_frequency())
            .map(|(_, _, mhz)| mhz)
            .filter(|mhz| *mhz > 0);
    }
    freq
}

/// sysinfo's view of the first CPU, refreshed with `what`: (vendor, brand, MHz).
fn first_cpu(what: sysinfo::CpuRefreshKind) -> Option<(String, String, u64)> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_cpu_list(what);
    let cpu = sys.cpus().first()?;
    Some((
        cpu.vendor_id().to_string(),
        cpu.brand().to_string(),
        cpu.frequency(),
    ))
}

/// The ISA features the hash and wasm engines dispatch on, detected at run time.
pub fn isa_features() -> BTreeMap<String, bool> {
    let mut features = BTreeMap::new();
    #[cfg(target_arch = "x86_64")]
    {
        features.insert(
            "sse4.2".into(),
            std::arch::is_x86_feature_detected!("sse4.2"),
        );
        features.insert("avx".into(), std::arch::is_x86_feature_detected!("avx"));
        features.insert("avx2".into(), std::arch::is_x86_feature_detected!("avx2"));
        features.insert(
            "avx512f".into(),
            std::arch::is_x86_feature_detected!("avx512f"),
        );
        features.insert(
            "avx512vl".into(),
            std::arch::is_x86_feature_detected!("avx512vl"),
        );
        features.insert("sha".into(), std::arch::is_x86_feature_detected!("sha"));
        features.insert("aes".into(), std::arch::is_x86_feature_detected!("aes"));
        features.insert("bmi2".into(), std::arch::is_x86_feature_detected!("bmi2"));
    }
    #[cfg(target_arch = "aarch64")]
    {
        features.insert(
            "neon".into(),
            std::arch::is_aarch64_feature_detected!("neon"),
        );
        features.insert(
            "sha2".into(),
            std::arch::is_aarch64_feature_detected!("sha2"),
        );
        features.insert(
            "sha3".into(),
            std::arch::is_aarch64_feature_detected!("sha3"),
        );
        features.insert("aes".into(), std::arch::is_aarch64_feature_detected!("aes"));
        features.insert("sve".into(), std::arch::is_aarch64_feature_detected!("sve"));
    }
    features
}

/// The CPUs this process is allowed to run on.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // libc's affinity call: argued below.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data for which all-zero bytes are a valid (empty) set;
    // sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes into it, and CPU_ISSET
    // only reads it, with an index below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return all_cpus_fallback();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|cpu| libc::CPU_ISSET(*cpu, &set))
            .collect()
    }
}

/// The CPUs this process is allowed to run on (all of them: this OS has no affinity query here).
#[cfg(not(target_os = "linux"))]
pub fn allowed_cpus() -> Vec<usize> {
    all_cpus_fallback()
}

fn all_cpus_fallback() -> Vec<usize> {
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_is_consistent() {
        let cpu = discover();
        assert!(cpu.logical_cpus >= 1);
        if let Some(cores) = cpu.physical_cores {
            assert!(cores >= 1 && cores <= cpu.logical_cpus);
            // SMT groups partition the online CPUs, one group per physical core.
            assert_eq!(cpu.smt_groups.len(), cores);
            let total: usize = cpu.smt_groups.iter().map(Vec::len).sum();
            assert_eq!(total, cpu.logical_cpus);
        }
        assert!(!cpu.allowed_cpus.is_empty());
    }

    #[test]
    fn arm_implementers_are_named() {
        assert_eq!(arm_implementer("0x41".into()), "ARM");
        assert_eq!(arm_implementer("0xc0".into()), "Ampere");
        assert_eq!(arm_implementer("0x99".into()), "0x99");
    }
}
