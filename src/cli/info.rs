//! `aocu info`: the machine as a readable table (`--json` for scripts).

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::Outcome;
use crate::config::Loaded;
use crate::hw::profile::{Match, ProfileSet};
use crate::hw::{self, Hardware};

/// Arguments of `aocu info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print JSON (the same fields as `~meta@1.0/info/hardware` plus `profile`).
    #[arg(long)]
    pub json: bool,
}

/// What `aocu info --json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct InfoReport {
    /// Discovered hardware.
    pub hardware: Hardware,
    /// The matched hardware profile and why.
    pub profile: Option<Match>,
}

/// Discover the machine and print it.
pub fn run(loaded: &Loaded, args: &InfoArgs) -> anyhow::Result<Outcome> {
    let config = &loaded.config;
    let hardware = hw::discover(Duration::from_millis(config.gpu_discovery_timeout_ms));
    let profiles =
        ProfileSet::load(Some(&config.profiles_dir)).context("loading hardware profiles")?;
    let profile = profiles.best_match(&hardware);
    let report = InfoReport { hardware, profile };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(Outcome::Success)
}

/// The human-readable table.
pub fn render(report: &InfoReport) -> String {
    let mut out = String::new();
    let hw = &report.hardware;
    let cpu = &hw.cpu;
    let none = || "-".to_string();
    let opt = |v: Option<usize>| v.map_or_else(none, |n| n.to_string());
    let row = |out: &mut String, key: &str, value: String| {
        let _ = writeln!(out, "  {:<20} {value}", format!("{key}:"));
    };
    out.push_str("CPU\n");
    row(&mut out, "Vendor", cpu.vendor.clone().unwrap_or_else(none));
    row(
        &mut out,
        "Model name",
        cpu.model_name.clone().unwrap_or_else(none),
    );
    row(&mut out, "Architecture", cpu.architecture.clone());
    row(&mut out, "Logical CPUs", cpu.logical_cpus.to_string());
    row(&mut out, "Physical cores", opt(cpu.physical_cores));
    row(&mut out, "Packages", opt(cpu.packages));
    row(&mut out, "Threads per core", opt(cpu.threads_per_core));
    let groups: Vec<String> = cpu
        .smt_groups
        .iter()
        .map(|g| format!("[{}]", cpu_list(g)))
        .collect();
    row(&mut out, "SMT groups", groups.join(" "));
    let nodes: Vec<String> = cpu
        .numa_nodes
        .iter()
        .map(|n| match n.memory_bytes {
            Some(bytes) => format!(
                "node{}: {} ({})",
                n.id,
                cpu_list(&n.cpus),
                human_bytes(bytes)
            ),
            None => format!("node{}: {}", n.id, cpu_list(&n.cpus)),
        })
        .collect();
    row(
        &mut out,
        "NUMA nodes",
        if nodes.is_empty() {
            none()
        } else {
            nodes.join(", ")
        },
    );
    row(&mut out, "Allowed CPUs", cpu_list(&cpu.allowed_cpus));
    let f = &cpu.frequency_mhz;
    let mhz = |v: Option<u64>| v.map_or_else(none, |n| n.to_string());
    row(
        &mut out,
        "Frequency MHz",
        format!(
            "base {}, max {}, min {}",
            mhz(f.base),
            mhz(f.max),
            mhz(f.min)
        ),
    );
    let caches: Vec<String> = cpu
        .caches
        .iter()
        .map(|c| {
            let kind = match c.kind.as_str() {
                "data" => "d",
                "instruction" => "i",
                _ => "",
            };
            format!(
                "L{}{kind} {} x{}",
                c.level,
                human_bytes(c.size_bytes),
                c.instances
            )
        })
        .collect();
    row(
        &mut out,
        "Caches",
        if caches.is_empty() {
            none()
        } else {
            caches.join(", ")
        },
    );
    let (have, lack): (Vec<_>, Vec<_>) = cpu.isa_features.iter().partition(|(_, on)| **on);
    let names = |v: Vec<(&String, &bool)>| {
        v.into_iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let lack = if lack.is_empty() {
        "none".to_string()
    } else {
        names(lack)
    };
    row(
        &mut out,
        "ISA features",
        format!("{} (absent: {lack})", names(have)),
    );

    out.push_str("Memory\n");
    row(&mut out, "Total", human_bytes(hw.memory.total_bytes));
    row(
        &mut out,
        "Available",
        human_bytes(hw.memory.available_bytes),
    );
    row(
        &mut out,
        "Huge page size",
        hw.memory.huge_page_bytes.map_or_else(none, human_bytes),
    );
    row(
        &mut out,
        "Cgroup limit",
        hw.memory.cgroup_limit_bytes.map_or_else(none, human_bytes),
    );

    let _ = writeln!(
        out,
        "GPU adapters (searched: {})",
        hw.gpu.backends_searched.join(", ")
    );
    if let Some(note) = &hw.gpu.note {
        let _ = writeln!(out, "  none: {note}");
    }
    for (i, a) in hw.gpu.adapters.iter().enumerate() {
        let soft = if a.software {
            "  [software: not sold as a GPU]"
        } else {
            ""
        };
        let _ = writeln!(out, "  #{i} {}{soft}", a.name);
        let vendor = a.vendor_name.as_deref().unwrap_or("unknown");
        let _ = writeln!(
            out,
            "     vendor {} ({vendor}), device {}, type {}, backend {}",
            a.vendor_id, a.device_id, a.device_type, a.backend
        );
        let _ = writeln!(out, "     driver {} {}", a.driver, a.driver_info);
        let l = &a.limits;
        let _ = writeln!(
            out,
            "     limits: storage binding {}, buffer {}, workgroup {}x{}x{}, {} invocations, {} groups/dim",
            human_bytes(l.max_storage_buffer_binding_size),
            human_bytes(l.max_buffer_size),
            l.max_compute_workgroup_size[0],
            l.max_compute_workgroup_size[1],
            l.max_compute_workgroup_size[2],
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroups_per_dimension
        );
    }

    out.push_str("Profile\n");
    match &report.profile {
        Some(m) => {
            row(
                &mut out,
                "Name",
                format!("{} ({})", m.profile.name, m.source),
            );
            row(&mut out, "Why", m.reasons.join("; "));
        }
        None => row(&mut out, "Name", "no profile matched".into()),
    }
    out
}

/// `[0, 1, 2, 3, 8]` → `0-3,8`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Bytes in binary units: `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_compress() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(32 * 1024), "32 KiB");
        assert_eq!(human_bytes(1536 * 1024 * 1024), "1.5 GiB");
    }
}
