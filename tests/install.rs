//! `aocu install`: the files land with their modes, a second run changes nothing, the
//! operator's configuration is kept unless `--force`, and systemd accepts the unit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn install(prefix: &Path, extra: &[&str]) -> String {
    let out = common::aocu()
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_is_idempotent_keeps_the_operators_config_and_the_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("opt");
    let (bin, unit, config) = (
        prefix.join("bin/aocu"),
        prefix.join("lib/systemd/system/aocu.service"),
        prefix.join("etc/aocu/aocu.toml"),
    );
    let first = install(&prefix, &[]);
    assert_eq!(first.matches("installed: ").count(), 5, "{first}");
    assert_eq!(mode(&bin), 0o755);
    for file in [
        &unit,
        &config,
        &prefix.join("lib/sysusers.d/aocu.conf"),
        &prefix.join("lib/tmpfiles.d/aocu.conf"),
    ] {
        assert_eq!(mode(file), 0o644, "{}", file.display());
    }
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    let exec = format!(
        "ExecStart={} serve --config {}",
        bin.display(),
        config.display()
    );
    assert!(unit_text.contains(&exec), "{unit_text}");
    // The installed binary is this one, and the commented configuration it got loads.
    let version = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("aocu "));
    let check = std::process::Command::new(&bin)
        .args(["config", "check"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let second = install(&prefix, &[]);
    assert_eq!(second.matches("unchanged: ").count(), 5, "{second}");

    // The operator's edit survives a reinstall; --force puts the default back.
    let edited = "node-name = \"rack-7\"\n";
    std::fs::write(&config, edited).unwrap();
    let third = install(&prefix, &[]);
    assert!(
        third.contains(&format!(
            "kept (it differs from the default; --force replaces it): {}",
            config.display()
        )),
        "{third}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), edited);
    let forced = install(&prefix, &["--force"]);
    assert!(
        forced.contains(&format!("replaced: {}", config.display())),
        "{forced}"
    );
    assert_ne!(std::fs::read_to_string(&config).unwrap(), edited);
    // Nothing half-written is left beside the files.
    let leftovers: Vec<_> = std::fs::read_dir(prefix.join("etc/aocu"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "aocu.toml")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let Some(analyze) = prereq::tool("systemd-analyze", "apt-get install systemd") else {
        return;
    };
    let verify = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn an_unwritable_prefix_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let out = common::aocu()
        .args(["install", "--prefix"])
        .arg(&blocker)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bin"), "{stderr}");
}
