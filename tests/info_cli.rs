//! `aocu info --json` against what the operating system itself reports.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.
#![allow(unsafe_code)] // libc calls to observe the node (each `unsafe` says why it is sound).

mod common;
mod prereq;

use std::collections::BTreeSet;

use common::aocu;
use serde_json::Value;

fn info_json(envs: &[(&str, &str)]) -> Value {
    let out = aocu()
        .args(["info", "--json"])
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("info --json is JSON")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn cpu_and_memory_agree_with_the_os() {
    let info = info_json(&[]);
    let cpu = &info["hardware"]["cpu"];
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as u64;
    assert_eq!(cpu["logical-cpus"].as_u64(), Some(online));

    if std::path::Path::new("/sys/devices/system/cpu/cpu0/topology").exists() {
        let mut cores = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for cpu_id in 0..online {
            let dir = format!("/sys/devices/system/cpu/cpu{cpu_id}/topology");
            cores.insert((
                read(&format!("{dir}/physical_package_id")),
                read(&format!("{dir}/core_id")),
            ));
            groups.insert(
                read(&format!("{dir}/thread_siblings_list"))
                    .trim()
                    .to_string(),
            );
        }
        assert_eq!(cpu["physical-cores"].as_u64(), Some(cores.len() as u64));
        assert_eq!(cpu["smt-groups"].as_array().unwrap().len(), groups.len());
    }

    let meminfo = read("/proc/meminfo");
    if let Some(line) = meminfo.lines().find(|l| l.starts_with("MemTotal:")) {
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let reported = info["hardware"]["memory"]["total-bytes"].as_f64().unwrap();
        let diff = (reported - kib * 1024.0).abs() / (kib * 1024.0);
        assert!(diff < 0.01, "memory total off by {:.3}%", diff * 100.0);
    }
    assert!(!cpu["allowed-cpus"].as_array().unwrap().is_empty());
    assert!(info["profile"]["profile"]["name"].is_string());
    assert!(!info["profile"]["reasons"].as_array().unwrap().is_empty());
}

#[test]
fn isa_features_follow_the_cpu() {
    let info = info_json(&[]);
    let features = &info["hardware"]["cpu"]["isa-features"];
    #[cfg(target_arch = "x86_64")]
    assert_eq!(
        features["avx2"].as_bool(),
        Some(std::arch::is_x86_feature_detected!("avx2"))
    );
    #[cfg(target_arch = "aarch64")]
    assert_eq!(features["neon"].as_bool(), Some(true));
    assert!(features.is_object());
}

/// Mesa's lavapipe is installed by `.ci/run`: it must show up as a software (`cpu`) adapter.
#[test]
fn lavapipe_is_listed_as_a_cpu_adapter() {
    if !prereq::lavapipe() {
        return;
    }
    let info = info_json(&[("WGPU_BACKEND", "vulkan")]);
    let adapters = info["hardware"]["gpu"]["adapters"].as_array().unwrap();
    let lavapipe = adapters
        .iter()
        .find(|a| a["backend"] == "vulkan" && a["device-type"] == "cpu")
        .unwrap_or_else(|| panic!("no Vulkan cpu adapter in {adapters:?}"));
    assert_eq!(lavapipe["software"], true);
    assert!(
        lavapipe["limits"]["max-storage-buffer-binding-size"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// With the Vulkan driver list pointed at nothing, discovery finds no Vulkan adapter, says why,
/// and does not hang.
#[test]
fn no_vulkan_driver_is_reported_with_a_reason() {
    let started = std::time::Instant::now();
    let envs = [
        ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
        ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
        ("WGPU_BACKEND", "vulkan"),
    ];
    let info = info_json(&envs);
    let gpu = &info["hardware"]["gpu"];
    assert_eq!(gpu["adapters"].as_array().unwrap().len(), 0, "{gpu}");
    let note = gpu["note"].as_str().unwrap();
    assert!(
        note.contains("no adapter found") && note.contains("VK_ICD_FILENAMES"),
        "{note}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // With every backend searched, still no Vulkan adapter is listed.
    let info = info_json(&envs[..2]);
    let adapters = info["hardware"]["gpu"]["adapters"].as_array().unwrap();
    assert!(
        adapters.iter().all(|a| a["backend"] != "vulkan"),
        "{adapters:?}"
    );
}

#[test]
fn info_table_is_readable() {
    let out = aocu().arg("info").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for heading in [
        "CPU",
        "Memory",
        "GPU adapters",
        "Profile",
        "Physical cores:",
    ] {
        assert!(text.contains(heading), "missing {heading} in\n{text}");
    }
}
