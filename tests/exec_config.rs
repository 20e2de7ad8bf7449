//! The `executors` and `executor-queue-depth` keys: every form parses, every bad value is
//! named with its key (and line, in a file), and plans are checked against the allowed CPUs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

use aocu::config::{ConfigError, load};
use aocu::exec::{CorePlan, ExecutorsSetting, PlanError};

fn from_file(text: &str) -> Result<aocu::config::Config, ConfigError> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    load(Some(file.path()), vec![], &[]).map(|l| l.config)
}

fn from_env(value: &str) -> Result<aocu::config::Config, ConfigError> {
    load(None, vec![("AOCU_EXECUTORS".into(), value.into())], &[]).map(|l| l.config)
}

#[test]
fn every_form_parses() {
    let none = tempfile::NamedTempFile::new().unwrap();
    let default = load(Some(none.path()), vec![], &[]).unwrap().config;
    assert_eq!(default.executors, ExecutorsSetting::Physical);
    assert_eq!(default.executor_queue_depth.get(), 1024);

    let c = from_file("executors = \"all\"\nexecutor-queue-depth = 8\n").unwrap();
    assert_eq!(c.executors, ExecutorsSetting::All);
    assert_eq!(c.executor_queue_depth.get(), 8);
    assert_eq!(
        from_file("executors = 3\n").unwrap().executors,
        ExecutorsSetting::Count(3)
    );
    assert_eq!(
        from_file("executors = [2, 0]\n").unwrap().executors,
        ExecutorsSetting::Cpus(vec![2, 0])
    );
    assert_eq!(
        from_file("executors = \"0,2-3\"\n").unwrap().executors,
        ExecutorsSetting::Cpus(vec![0, 2, 3])
    );
    assert_eq!(from_env("2").unwrap().executors, ExecutorsSetting::Count(2));
    assert_eq!(
        from_env("[1, 0]").unwrap().executors,
        ExecutorsSetting::Cpus(vec![1, 0])
    );
    assert_eq!(from_env("ALL").unwrap().executors, ExecutorsSetting::All);
    let flags = vec![("executors".to_string(), "physical".to_string())];
    let c = load(None, vec![("AOCU_EXECUTORS".into(), "all".into())], &flags).unwrap();
    assert_eq!(c.config.executors, ExecutorsSetting::Physical);
}

#[test]
fn bad_values_name_the_key_and_line() {
    for (text, expect) in [
        ("executors = \"fast\"", "\"fast\""),
        ("executors = 0", "at least 1"),
        ("executors = -4", "at least 1"),
        ("executors = []", "empty"),
        ("executors = [1, 1]", "listed twice"),
        ("executors = [-1]", "not a CPU id"),
        ("executors = 1.5", "physical"),
        ("executor-queue-depth = 0", "nonzero"),
    ] {
        let err = from_file(&format!("log = \"info\"\n{text}\n")).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ConfigError::File { line: 2, .. }),
            "{text}: {msg}"
        );
        let key = text.split(' ').next().unwrap();
        assert!(msg.contains(key) && msg.contains(expect), "{text}: {msg}");
    }
    let msg = from_env("several").unwrap_err().to_string();
    assert!(
        msg.contains("AOCU_EXECUTORS") && msg.contains("several"),
        "{msg}"
    );
    let flags = vec![("executor-queue-depth".to_string(), "0".to_string())];
    let msg = load(None, vec![], &flags).unwrap_err().to_string();
    assert!(msg.contains("executor-queue-depth"), "{msg}");
}

#[test]
fn plans_are_checked_against_the_allowed_cpus() {
    let cpu = aocu::hw::cpu::discover();
    let allowed = cpu.allowed_cpus.len();
    let physical = CorePlan::new(&ExecutorsSetting::Physical, &cpu).unwrap();
    let all = CorePlan::new(&ExecutorsSetting::All, &cpu).unwrap();
    assert!(!physical.is_empty() && physical.len() <= all.len());
    assert_eq!(all.len(), allowed);
    // Physical cores first: the physical plan is the front of the full plan.
    assert_eq!(all.cpus[..physical.len()], physical.cpus[..]);
    assert!(all.cpus.iter().all(|c| cpu.allowed_cpus.contains(c)));

    match CorePlan::new(&ExecutorsSetting::Count(allowed + 1), &cpu) {
        Err(PlanError::TooMany {
            requested,
            available,
            ..
        }) => assert_eq!((requested, available), (allowed + 1, allowed)),
        other => panic!("expected TooMany, got {other:?}"),
    }
    let outside = cpu.allowed_cpus.iter().max().unwrap() + 1;
    let err = CorePlan::new(&ExecutorsSetting::Cpus(vec![outside]), &cpu).unwrap_err();
    assert!(matches!(err, PlanError::NotAllowed { cpu, .. } if cpu == outside));
    assert!(
        err.to_string().contains(&format!("CPU {outside} ")),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_plan_outside_the_allowed_cpus() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aocu"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--set",
            "executors=4096",
        ])
        .env("AOCU_STATE_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4096 executors asked for"), "{err}");
}
