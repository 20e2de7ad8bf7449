//! What the integration tests need from outside the repository, checked in one place: the AOS
//! modules and golden files under the shared folder's `testdata/`, Node 20 with
//! `tests/node/node_modules`, a GPU adapter (Mesa lavapipe in CI), and reference tools such as
//! `b3sum`. `.ci/run` installs all of them.
//!
//! When one is missing, [`missing`] decides: under `CI=true` the test fails, naming what is
//! missing (a CI run that skipped half the suite would pass without testing anything); anywhere
//! else the test prints `skipped: <reason>` to stderr and returns. Each check returns `None` or
//! `false` after that, so a test reads
//! `let Some(wasm) = prereq::testdata("wasm/aos-2-pure.wasm") else { return };`.
//!
//! The shared folder is `$AOCU_SHARED_DIR` when set (point it at an empty folder to see what
//! the tests do without it), else `../shared` beside the crate, else (outside CI only)
//! `/work/shared`.
#![allow(dead_code)]

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// A prerequisite is missing: panic under CI, else print `skipped: <reason>` (the caller then
/// returns).
#[track_caller]
pub fn missing(reason: impl Display) {
    if in_ci() {
        panic!("CI=true and a test prerequisite is missing (.ci/run installs it): {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// The shared folder (see the module doc); it may lack `testdata/`.
pub fn shared_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AOCU_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if beside.join("testdata").is_dir() || in_ci() {
        return beside;
    }
    PathBuf::from("/work/shared")
}

/// `testdata/<rel>` in the shared folder, if it is there.
#[track_caller]
pub fn testdata(rel: &str) -> Option<PathBuf> {
    let path = shared_dir().join("testdata").join(rel);
    if path.is_file() {
        return Some(path);
    }
    missing(format!(
        "{} is absent (the shared test data: set AOCU_SHARED_DIR, or put `shared/` beside the crate)",
        path.display()
    ));
    None
}

/// `tests/node` with its `node_modules`, when `node` 20 or newer runs here.
#[track_caller]
pub fn node_project() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    let version = Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    let major = version.as_deref().and_then(|v| {
        v.trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
    });
    match (version.as_deref(), major) {
        (None, _) => missing("`node` is not installed (Node 20 or newer)"),
        (Some(v), Some(m)) if m < 20 => {
            missing(format!("`node` is {v}; Node 20 or newer is needed"))
        }
        _ if !dir.join("node_modules").is_dir() => missing(format!(
            "{} is absent: run `npm ci --ignore-scripts` there (as .ci/run does)",
            dir.join("node_modules").display()
        )),
        _ => return Some(dir),
    }
    None
}

/// The path of the program `name` on `PATH`, if there is one; `install` says how to get it.
#[track_caller]
pub fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        missing(format!("`{name}` is not installed ({install})"));
    }
    found
}

/// Whether Mesa's lavapipe (the Vulkan CPU driver, package `mesa-vulkan-drivers`) is installed.
#[track_caller]
pub fn lavapipe() -> bool {
    let installed = ["x86_64", "aarch64"]
        .iter()
        .any(|arch| Path::new(&format!("/usr/share/vulkan/icd.d/lvp_icd.{arch}.json")).exists());
    if !installed {
        missing("Mesa lavapipe is not installed (apt-get install mesa-vulkan-drivers libvulkan1)");
    }
    installed
}

/// Whether wgpu finds any adapter at all (lavapipe counts); discovered once per test binary.
#[track_caller]
pub fn gpu_adapter() -> bool {
    static NONE_BECAUSE: OnceLock<Option<String>> = OnceLock::new();
    let why_not = NONE_BECAUSE.get_or_init(|| {
        let report = aocu::hw::gpu::discover(Duration::from_secs(60));
        report
            .adapters
            .is_empty()
            .then(|| report.note.unwrap_or_default())
    });
    match why_not {
        None => true,
        Some(note) => {
            missing(format!(
                "no GPU adapter at all ({note}); Mesa lavapipe (mesa-vulkan-drivers) is one"
            ));
            false
        }
    }
}
