//! `aocu hash` against the real `b3sum` and coreutils `sha256sum` binaries: the same files (odd
//! names included) must give byte-identical output, and `--check` must agree with them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod common;
mod prereq;

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::aocu;
use rand::{Rng, RngCore};

/// The reference tool for each algorithm.
const TOOLS: [(&str, &str); 2] = [("blake3", "b3sum"), ("sha256", "sha256sum")];

/// File names that exercise every escaping rule, and plain ones.
fn names() -> Vec<OsString> {
    let mut names: Vec<OsString> = [
        "empty",
        "one",
        "chunk",
        "chunk-plus-one",
        "big",
        "multi-mib",
        "with space",
        "back\\slash",
        "new\nline",
        "carriage\rreturn",
        "all\\three\n\r",
        "-dash",
        "ünïcødé",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        names.push(OsString::from_vec(b"not-utf8-\xff\xfe".to_vec()));
    }
    names
}

/// A temp dir holding a random file for each name (sizes around the chunk boundaries).
fn files() -> (tempfile::TempDir, Vec<OsString>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = rand::rng();
    let names = names();
    for (i, name) in names.iter().enumerate() {
        let len = match i {
            0 => 0,
            1 => 1,
            2 => 1024,
            3 => 1025,
            4 => 200_000,
            5 => 3 << 20,
            // Past `aocu hash`'s memory-mapped threshold (16 MiB), not a whole number of chunks.
            6 => (17 << 20) + 3,
            _ => rng.random_range(1..5000),
        };
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        std::fs::write(dir.path().join(name), data).expect("write");
    }
    (dir, names)
}

fn run(mut cmd: Command, dir: &Path) -> Output {
    cmd.current_dir(dir).output().expect("spawn")
}

/// Whether both reference tools are installed (else the test skips, or fails under CI).
fn reference_tools() -> bool {
    TOOLS
        .iter()
        .all(|(_, name)| prereq::tool(name, "apt-get install b3sum coreutils").is_some())
}

fn tool(name: &str) -> Command {
    Command::new(name)
}

fn ours(alg: &str) -> Command {
    let mut cmd = aocu();
    cmd.args(["hash", "--engine", "cpu", "--alg", alg]);
    cmd
}

#[test]
fn output_is_byte_identical_to_the_reference_tools() {
    if !reference_tools() {
        return;
    }
    let (dir, names) = files();
    for (alg, name) in TOOLS {
        let mut theirs = tool(name);
        theirs.arg("--").args(&names);
        let theirs = run(theirs, dir.path());
        assert!(theirs.status.success(), "{name} failed: {theirs:?}");
        let mut mine = ours(alg);
        mine.arg("--").args(&names);
        let mine = run(mine, dir.path());
        assert!(mine.status.success(), "aocu hash failed: {mine:?}");
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{alg} vs {name}"
        );
        assert_eq!(mine.stdout, theirs.stdout, "{alg} vs {name}: bytes");
    }
}

#[test]
fn standard_input_is_hashed_as_dash() {
    if !reference_tools() {
        return;
    }
    let mut data = vec![0u8; 5000];
    rand::rng().fill_bytes(&mut data);
    let dir = tempfile::tempdir().expect("temp dir");
    for (alg, name) in TOOLS {
        for args in [&[][..], &["-"][..]] {
            let feed = |mut cmd: Command| {
                let mut child = cmd
                    .args(args)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .current_dir(dir.path())
                    .spawn()
                    .expect("spawn");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(&data)
                    .expect("feed");
                child.wait_with_output().expect("wait")
            };
            let theirs = feed(tool(name));
            let mine = feed(ours(alg));
            assert!(mine.status.success());
            assert_eq!(mine.stdout, theirs.stdout, "{alg} stdin {args:?}");
        }
    }
}

#[test]
fn check_agrees_with_the_reference_tools() {
    if !reference_tools() {
        return;
    }
    let (dir, mut names) = files();
    // `b3sum` writes non-UTF-8 names lossily and refuses to check them: leave that one out.
    names.retain(|n| n.to_str().is_some());
    for (alg, name) in TOOLS {
        let mut list = tool(name);
        list.arg("--").args(&names);
        let list = run(list, dir.path()).stdout;
        let list_path = dir.path().join(format!("{name}.list"));
        std::fs::write(&list_path, &list).expect("write list");

        // All good: same report, exit 0.
        let mut theirs = tool(name);
        theirs.arg("--check").arg(&list_path);
        let theirs = run(theirs, dir.path());
        let mut mine = ours(alg);
        mine.arg("--check").arg(&list_path);
        let mine = run(mine, dir.path());
        assert!(theirs.status.success(), "{name} --check: {theirs:?}");
        assert!(mine.status.success(), "aocu hash --check: {mine:?}");
        assert_eq!(mine.stdout, theirs.stdout, "{alg} --check report");

        // Our own list checks too.
        let mut own = ours(alg);
        own.arg("--").args(&names);
        std::fs::write(&list_path, run(own, dir.path()).stdout).expect("write list");
        let mut mine = ours(alg);
        mine.arg("--check").arg(&list_path);
        assert!(run(mine, dir.path()).status.success(), "{alg}: own list");
    }

    // A changed file and a missing one: exit 1, FAILED lines, the missing file named.
    for (alg, name) in TOOLS {
        let mut list = tool(name);
        list.args(["one", "chunk", "with space"]);
        let list = run(list, dir.path()).stdout;
        let list_path = dir.path().join(format!("{name}.bad.list"));
        std::fs::write(&list_path, &list).expect("write list");
        std::fs::write(dir.path().join("chunk"), b"changed").expect("change");
        std::fs::remove_file(dir.path().join("with space")).expect("remove");
        let mut mine = ours(alg);
        mine.arg("--check").arg(&list_path);
        let mine = run(mine, dir.path());
        assert_eq!(mine.status.code(), Some(1), "{alg}: {mine:?}");
        let out = String::from_utf8_lossy(&mine.stdout);
        let err = String::from_utf8_lossy(&mine.stderr);
        assert!(out.contains("one: OK\n"), "{out}");
        assert!(out.contains("chunk: FAILED\n"), "{out}");
        assert!(out.contains("with space: FAILED"), "{out}");
        assert!(
            err.contains("with space"),
            "unreadable file not named: {err}"
        );
        // Restore for the next algorithm.
        let mut rng = rand::rng();
        let mut data = vec![0u8; 1024];
        rng.fill_bytes(&mut data);
        std::fs::write(dir.path().join("chunk"), &data).expect("restore");
        std::fs::write(dir.path().join("with space"), &data).expect("restore");
    }
}

#[test]
fn malformed_lists_fail_with_the_line_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("list");
    std::fs::write(&list, "not a checksum line\n").expect("write");
    let mut mine = ours("blake3");
    mine.arg("--check").arg(&list);
    let out = run(mine, dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn unreadable_files_are_named_and_fail_the_run() {
    let (dir, names) = files();
    let mut mine = ours("blake3");
    mine.args([&names[1], &OsString::from("does-not-exist"), &names[2]]);
    let out = run(mine, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        2,
        "the readable files are still hashed: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does-not-exist"), "{stderr}");
}

#[test]
fn json_reports_every_file() {
    let (dir, names) = files();
    let mut mine = ours("sha256");
    mine.arg("--json").args(&names[..3]).arg("missing");
    let out = run(mine, dir.path());
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), 4);
    let empty = std::fs::read(dir.path().join(&names[0])).expect("read");
    use sha2::Digest as _;
    assert_eq!(
        files[0]["digest"],
        hex::encode(sha2::Sha256::digest(&empty))
    );
    assert!(files[3]["error"].is_string());
    assert_eq!(v["algorithm"], "sha256");
}

#[test]
fn gpu_engine_prints_the_same_lines() {
    if !prereq::gpu_adapter() {
        return;
    }
    let (dir, names) = files();
    for (alg, _) in TOOLS {
        let mut cpu = ours(alg);
        cpu.arg("--").args(&names);
        let mut gpu = aocu();
        gpu.args(["hash", "--engine", "gpu", "--alg", alg, "--"])
            .args(&names);
        let (cpu, gpu) = (run(cpu, dir.path()), run(gpu, dir.path()));
        assert!(gpu.status.success(), "{gpu:?}");
        assert_eq!(gpu.stdout, cpu.stdout, "{alg}");
    }
}

#[test]
fn bench_hash_measures_and_writes_the_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("measured.toml");
    let bench = || {
        let out = aocu()
            .args([
                "bench",
                "hash",
                "--json",
                "--min-time-ms",
                "1",
                "--batch-bytes",
                "65536",
            ])
            .arg("--write-profile")
            .arg(&profile)
            .output()
            .expect("spawn");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let report = bench();
    let rows = report["measurements"].as_array().expect("rows");
    for alg in ["blake3", "sha256"] {
        for len in [64, 1024, 16384, 1 << 20] {
            for engine in ["baseline", "cpu"] {
                let n = rows
                    .iter()
                    .filter(|r| r["alg"] == alg && r["msg-len"] == len && r["engine"] == engine)
                    .count();
                assert_eq!(n, 2, "{alg} {len} {engine}: one row per thread setting");
            }
        }
    }
    assert!(
        rows.iter()
            .all(|r| r["bytes-per-s"].as_f64().is_some_and(|v| v > 0.0))
    );
    let text = std::fs::read_to_string(&profile).expect("profile written");
    let written: aocu::hw::profile::Profile = toml::from_str(&text).expect("a valid profile");
    let crossover = report["profile-crossover"].as_u64();
    assert_eq!(written.capacity.hash_gpu_crossover_bytes, crossover);
    if report["gpu"]["software"] == true {
        assert_eq!(
            crossover, None,
            "a software adapter must never get a crossover"
        );
    }
    // A second run updates the same profile in place.
    bench();
    let again: aocu::hw::profile::Profile =
        toml::from_str(&std::fs::read_to_string(&profile).expect("read")).expect("valid");
    assert_eq!(again.name, written.name);
}
