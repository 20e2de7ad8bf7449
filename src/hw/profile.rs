//! Hardware profiles: a machine class (match rules), its default capacity and prices.
//!
//! Profiles ship inside the binary (the `hwprofiles/` directory of the source tree); an operator's
//! own directory adds profiles, and one with the same `name` as a shipped profile replaces it.
//! The matching profile with the highest `priority` wins; [`Match::reasons`] says why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Hardware;

/// Profiles compiled into the binary: (file name, TOML text).
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "generic.toml",
        include_str!("../../hwprofiles/generic.toml"),
    ),
    (
        "generic-x86_64-server.toml",
        include_str!("../../hwprofiles/generic-x86_64-server.toml"),
    ),
    (
        "generic-aarch64-server.toml",
        include_str!("../../hwprofiles/generic-aarch64-server.toml"),
    ),
    (
        "cpu-only-software-gpu.toml",
        include_str!("../../hwprofiles/cpu-only-software-gpu.toml"),
    ),
    (
        "nvidia-datacenter-gpu.toml",
        include_str!("../../hwprofiles/nvidia-datacenter-gpu.toml"),
    ),
];

/// A profile could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A profile file is not valid TOML or has unknown/mistyped keys.
    #[error("hardware profile {source_name}: {message}")]
    Parse {
        /// File the profile came from.
        source_name: String,
        /// What is wrong, with line and column.
        message: String,
    },
    /// The operator's profile directory could not be read.
    #[error("hardware profile directory {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One hardware profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Profile {
    /// Unique name; a user profile of the same name replaces a shipped one.
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// Higher wins among matching profiles.
    #[serde(default)]
    pub priority: i32,
    /// Rules; every rule present must hold.
    #[serde(rename = "match", default)]
    pub rules: MatchRules,
    /// Default capacity of a machine of this class.
    pub capacity: Capacity,
    /// Default prices.
    pub price: Price,
}

/// Which GPUs a profile requires.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GpuRequirement {
    /// At least one hardware (non-software) adapter.
    Hardware,
    /// Software adapters only, at least one.
    SoftwareOnly,
    /// No adapter at all.
    None,
}

/// Match rules. Patterns are case-insensitive globs (`*` and `?`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MatchRules {
    /// The architecture is one of these.
    pub architecture: Option<Vec<String>>,
    /// The CPU vendor matches one of these.
    pub cpu_vendor: Option<Vec<String>>,
    /// The CPU model name matches one of these.
    pub cpu_model: Option<Vec<String>>,
    /// All of these ISA features are present.
    pub isa_features: Option<Vec<String>>,
    /// What kind of GPUs must be present.
    pub gpu: Option<GpuRequirement>,
    /// Some hardware adapter's vendor name matches one of these.
    pub gpu_vendor: Option<Vec<String>>,
    /// Some hardware adapter's device type is one of these.
    pub gpu_type: Option<Vec<String>>,
    /// Some hardware adapter's name matches one of these.
    pub gpu_name: Option<Vec<String>>,
}

/// Default capacity of a machine class.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Capacity {
    /// Executor placement: `physical`, `all`, or a count.
    pub executors: toml::Value,
    /// Most memory one process may use, in bytes.
    pub max_process_memory_bytes: u64,
    /// Most fuel (wasm instructions) one message may use.
    pub max_compute_per_message: u64,
    /// Batches of at least this many bytes go to the GPU; absent: never automatically.
    pub hash_gpu_crossover_bytes: Option<u64>,
    /// Batches of at least this many RSA signatures are verified on the GPU (measured by
    /// `aocu bench verify`); absent: never automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_gpu_crossover_signatures: Option<u64>,
    /// Messages per second measured by `aocu bench`, when measured.
    pub messages_per_second: Option<f64>,
    /// A per-message price suggested by `aocu bench`: what the benchmark's AOS message costs
    /// in fuel and memory under this profile's `[price]`, as one flat price (for
    /// `simple-pay`, which charges per request only). Not applied by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_per_message: Option<u64>,
}

/// Prices, in the smallest unit of `currency`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Price {
    /// Unit of every price (`winston`: 1e-12 AR).
    pub currency: String,
    /// Flat price per evaluated message.
    pub per_message: u64,
    /// Per million wasm instructions (fuel).
    pub per_million_instructions: u64,
    /// Per GiB of process memory held for one second.
    pub per_gib_second_memory: u64,
    /// Per GiB hashed by batch hashing.
    pub per_gib_hashed: u64,
    /// Per second of GPU busy time.
    pub per_gpu_second: u64,
}

/// The chosen profile and why it matched.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Match {
    /// The profile.
    pub profile: Profile,
    /// Where it came from (`shipped:NAME.toml` or a path).
    pub source: String,
    /// One line per rule that held.
    pub reasons: Vec<String>,
}

/// A set of profiles, shipped ones overridden by the operator's.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    profiles: BTreeMap<String, (Profile, String)>,
}

impl ProfileSet {
    /// The shipped profiles, plus every `*.toml` in `user_dir` when it exists.
    pub fn load(user_dir: Option<&Path>) -> Result<ProfileSet, ProfileError> {
        let mut set = ProfileSet {
            profiles: BTreeMap::new(),
        };
        for (file, text) in SHIPPED {
            set.add(parse(text, &format!("shipped:{file}"))?);
        }
        if let Some(dir) = user_dir.filter(|d| d.is_dir()) {
            for path in toml_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Dir {
                    dir: path.clone(),
                    source,
                })?;
                set.add(parse(&text, &path.display().to_string())?);
            }
        }
        Ok(set)
    }

    fn add(&mut self, (profile, source): (Profile, String)) {
        self.profiles
            .insert(profile.name.clone(), (profile, source));
    }

    /// All profiles by name.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values().map(|(p, _)| p)
    }

    /// The best matching profile for `hw`, if any matches.
    pub fn best_match(&self, hw: &Hardware) -> Option<Match> {
        self.profiles
            .values()
            .filter_map(|(profile, source)| {
                let reasons = profile.rules.check(hw)?;
                Some(Match {
                    profile: profile.clone(),
                    source: source.clone(),
                    reasons,
                })
            })
            // Highest priority first; among equals the first name wins (stable, deterministic).
            .min_by(|a, b| {
                b.profile
                    .priority
                    .cmp(&a.profile.priority)
                    .then_with(|| a.profile.name.cmp(&b.profile.name))
            })
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ProfileError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ProfileError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn parse(text: &str, source_name: &str) -> Result<(Profile, String), ProfileError> {
    toml::from_str::<Profile>(text)
        .map(|p| (p, source_name.to_string()))
        .map_err(|e| ProfileError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })
}

impl MatchRules {
    /// `Some(reasons)` when every present rule holds for `hw`, `None` otherwise.
    pub fn check(&self, hw: &Hardware) -> Option<Vec<String>> {
        let mut reasons = Vec::new();
        let cpu = &hw.cpu;
        if let Some(archs) = &self.architecture {
            let hit = any_glob(archs, &cpu.architecture)?;
            reasons.push(format!("architecture {} matches {hit}", cpu.architecture));
        }
        if let Some(vendors) = &self.cpu_vendor {
            let vendor = cpu.vendor.as_deref()?;
            let hit = any_glob(vendors, vendor)?;
            reasons.push(format!("CPU vendor {vendor} matches {hit}"));
        }
        if let Some(models) = &self.cpu_model {
            let model = cpu.model_name.as_deref()?;
            let hit = any_glob(models, model)?;
            reasons.push(format!("CPU model {model} matches {hit}"));
        }
        if let Some(features) = &self.isa_features {
            let have = |f: &String| cpu.isa_features.get(f).copied().unwrap_or(false);
            if !features.iter().all(have) {
                return None;
            }
            reasons.push(format!("CPU has {}", features.join(", ")));
        }
        self.check_gpus(hw, &mut reasons)?;
        if reasons.is_empty() {
            reasons.push("fallback profile: no rules".to_string());
        }
        Some(reasons)
    }

    fn check_gpus(&self, hw: &Hardware, reasons: &mut Vec<String>) -> Option<()> {
        let adapters = &hw.gpu.adapters;
        let hardware: Vec<_> = hw.gpu.hardware().collect();
        match self.gpu {
            Some(GpuRequirement::Hardware) if !hardware.is_empty() => {
                reasons.push(format!("{} hardware GPU adapter(s)", hardware.len()));
            }
            Some(GpuRequirement::SoftwareOnly) if hardware.is_empty() && !adapters.is_empty() => {
                reasons.push(format!(
                    "only software GPU adapters ({})",
                    adapters
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Some(GpuRequirement::None) if adapters.is_empty() => {
                reasons.push("no GPU adapter".to_string());
            }
            Some(_) => return None,
            None => {}
        }
        // The per-adapter rules must all hold for one and the same hardware adapter.
        let adapter_rules = [&self.gpu_vendor, &self.gpu_type, &self.gpu_name];
        if adapter_rules.iter().all(|r| r.is_none()) {
            return Some(());
        }
        let chosen = hardware.iter().find(|a| {
            let vendor = a.vendor_name.as_deref().unwrap_or(&a.vendor_id);
            rule_holds(&self.gpu_vendor, vendor)
                && rule_holds(&self.gpu_type, &a.device_type)
                && rule_holds(&self.gpu_name, &a.name)
        })?;
        reasons.push(format!(
            "GPU {} ({}, {}) matches the GPU rules",
            chosen.name,
            chosen.vendor_name.as_deref().unwrap_or(&chosen.vendor_id),
            chosen.device_type
        ));
        Some(())
    }
}

fn rule_holds(rule: &Option<Vec<String>>, value: &str) -> bool {
    rule.as_ref()
        .is_none_or(|patterns| any_glob(patterns, value).is_some())
}

/// The first pattern that matches `value`.
fn any_glob<'a>(patterns: &'a [String], value: &str) -> Option<&'a str> {
    patterns
        .iter()
        .find(|p| glob_match(p, value))
        .map(String::as_str)
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let v: Vec<char> = value.to_lowercase().chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::gpu::{ComputeLimits, GpuAdapter, GpuReport};

    fn machine(arch: &str, adapters: Vec<GpuAdapter>) -> Hardware {
        let mut hw = crate::hw::Hardware {
            os: crate::hw::OsInfo {
                family: "linux".into(),
                name: None,
                kernel: None,
                hostname: None,
            },
            cpu: crate::hw::cpu::discover(),
            memory: crate::hw::memory::discover(),
            gpu: GpuReport {
                adapters,
                note: None,
                backends_searched: vec!["vulkan".into()],
            },
        };
        hw.cpu.architecture = arch.to_string();
        hw.cpu.isa_features = [("sse4.2", true), ("neon", true)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        hw
    }

    fn adapter(name: &str, vendor: u32, device_type: &str, software: bool) -> GpuAdapter {
        GpuAdapter {
            name: name.into(),
            vendor_id: format!("{vendor:#06x}"),
            vendor_name: crate::hw::gpu::vendor_name(vendor).map(str::to_string),
            device_id: "0x0000".into(),
            device_type: device_type.into(),
            backend: "vulkan".into(),
            driver: String::new(),
            driver_info: String::new(),
            software,
            limits: ComputeLimits {
                max_storage_buffer_binding_size: 1 << 30,
                max_buffer_size: 1 << 30,
                max_compute_workgroup_size: [256, 256, 64],
                max_compute_invocations_per_workgroup: 256,
                max_compute_workgroups_per_dimension: 65535,
                max_compute_workgroup_storage_size: 16384,
            },
        }
    }

    fn best(hw: &Hardware) -> String {
        let set = ProfileSet::load(None).unwrap();
        set.best_match(hw).unwrap().profile.name
    }

    #[test]
    fn shipped_profiles_parse() {
        let set = ProfileSet::load(None).unwrap();
        assert_eq!(set.iter().count(), SHIPPED.len());
    }

    #[test]
    fn machine_classes_match_their_profile() {
        assert_eq!(best(&machine("x86_64", vec![])), "generic-x86_64-server");
        assert_eq!(best(&machine("aarch64", vec![])), "generic-aarch64-server");
        assert_eq!(best(&machine("riscv64", vec![])), "generic");
        let lavapipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", 0x10005, "cpu", true);
        assert_eq!(
            best(&machine("x86_64", vec![lavapipe.clone()])),
            "cpu-only-software-gpu"
        );
        let h100 = adapter("NVIDIA H100 80GB HBM3", 0x10de, "discrete-gpu", false);
        assert_eq!(
            best(&machine("x86_64", vec![lavapipe, h100])),
            "nvidia-datacenter-gpu"
        );
        // A consumer NVIDIA card is not a data-centre GPU.
        let rtx = adapter("NVIDIA GeForce RTX 4090", 0x10de, "discrete-gpu", false);
        assert_eq!(best(&machine("x86_64", vec![rtx])), "generic-x86_64-server");
    }

    #[test]
    fn user_profiles_override_shipped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = SHIPPED[0].1.replace("priority = 0", "priority = 99");
        std::fs::write(dir.path().join("mine.toml"), shipped).unwrap();
        let set = ProfileSet::load(Some(dir.path())).unwrap();
        let m = set.best_match(&machine("x86_64", vec![])).unwrap();
        assert_eq!(m.profile.name, "generic");
        assert_eq!(m.profile.priority, 99);
        assert!(m.source.ends_with("mine.toml"));
    }

    #[test]
    fn bad_user_profile_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), "name = 3\n").unwrap();
        let err = ProfileSet::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("bad.toml"), "{err}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*H100*", "NVIDIA H100 80GB HBM3"));
        assert!(glob_match("nvidia", "NVIDIA"));
        assert!(glob_match("x86_6?", "x86_64"));
        assert!(!glob_match("*A100*", "NVIDIA H100"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
    }
}
