use super::*;

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn precedence_flag_over_env_over_file_over_default() {
    let file = write("node-name = \"from-file\"\nlisten = \"127.0.0.1:7000\"\nlog = \"warn\"\n");
    let env = vec![
        ("AOCU_NODE_NAME".to_string(), "from-env".to_string()),
        ("AOCU_LISTEN".to_string(), "127.0.0.1:7001".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let flags = vec![("listen".to_string(), "127.0.0.1:7002".to_string())];
    let loaded = load(Some(file.path()), env, &flags).unwrap();
    let c = loaded.config;
    assert_eq!(c.listen.port(), 7002);
    assert_eq!(c.node_name, "from-env");
    assert_eq!(c.log, "warn");
    assert_eq!(
        c.gpu_discovery_timeout_ms,
        Config::default().gpu_discovery_timeout_ms
    );
}

#[test]
fn bad_type_names_key_and_line() {
    let file = write("log = \"info\"\n\ngpu-discovery-timeout-ms = \"soon\"\n");
    let err = load(Some(file.path()), vec![], &[]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::File { line: 3, .. }), "{text}");
    assert!(text.contains("gpu-discovery-timeout-ms"), "{text}");
}

#[test]
fn unknown_key_is_named() {
    let file = write("listen = \"127.0.0.1:1\"\nlisten-port = 9\n");
    let text = load(Some(file.path()), vec![], &[])
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(":2:") && text.contains("listen-port"),
        "{text}"
    );
}

#[test]
fn syntax_error_has_line() {
    let file = write("log = \"info\"\nlisten = \n");
    let err = load(Some(file.path()), vec![], &[]).unwrap_err();
    assert!(matches!(err, ConfigError::File { line: 2, .. }), "{err}");
}

#[test]
fn bad_overrides_are_named() {
    let env = vec![("AOCU_GPU_DISCOVERY_TIMEOUT_MS".to_string(), "x".to_string())];
    let text = load(None, env, &[]).unwrap_err().to_string();
    assert!(text.contains("AOCU_GPU_DISCOVERY_TIMEOUT_MS"), "{text}");
    let flags = vec![("no-such-key".to_string(), "1".to_string())];
    let text = load(None, vec![], &flags).unwrap_err().to_string();
    assert!(text.contains("no-such-key"), "{text}");
    let flags = vec![("listen".to_string(), "not-an-address".to_string())];
    assert!(load(None, vec![], &flags).is_err());
}

#[test]
fn hyperbeam_environment_is_below_aocus_own_keys() {
    let hb = |extra: &[(&str, &str)]| {
        let mut env: Vec<(String, String)> = [
            ("UNIT_MODE", "hbu"),
            ("HB_URL", "http://localhost:8734"),
            ("PORT", "6363"),
            ("DB_URL", "/tmp/hb-db"),
            ("PROCESS_WASM_MEMORY_MAX_LIMIT", "24_000_000_000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    let c = load(None, hb(&[]), &[]).unwrap().config;
    assert_eq!(c.hyperbeam_url, "http://localhost:8734");
    assert_eq!(c.listen, "127.0.0.1:6363".parse().unwrap());
    assert_eq!(c.state_dir, PathBuf::from("/tmp/hb-db"));
    assert_eq!(c.max_memory_bytes, 24_000_000_000);
    let file = write("state-dir = \"/from/file\"\n");
    let env = hb(&[("AOCU_LISTEN", "127.0.0.1:7000")]);
    let c = load(Some(file.path()), env, &[]).unwrap().config;
    assert_eq!(c.state_dir, PathBuf::from("/from/file"), "the file wins");
    assert_eq!(c.listen.port(), 7000, "AOCU_* wins");
    let err = load(None, hb(&[("HB_URL", "ftp://x")]), &[]).unwrap_err();
    assert!(err.to_string().contains("hyperbeam-url"), "{err}");
}

#[test]
fn access_lists_from_hyperbeams_environment_are_checked() {
    let (a, b) = (crate::ao::b64url(&[1; 32]), crate::ao::b64url(&[2; 32]));
    let env = |extra: (&str, String)| {
        vec![
            ("UNIT_MODE".to_string(), "hbu".to_string()),
            ("HB_URL".to_string(), "http://localhost:8734".to_string()),
            (extra.0.to_string(), extra.1),
        ]
    };
    let c = load(None, env(("ALLOW_PROCESSES", format!("{a}, {b}"))), &[]).unwrap();
    assert_eq!(c.config.allow_processes, vec![a.clone(), b.clone()]);
    let c = load(None, env(("RESTRICT_PROCESSES", b.clone())), &[]).unwrap();
    assert_eq!(c.config.deny_processes, vec![b]);
    let err = load(None, env(("ALLOW_OWNERS", format!("{a},nobody"))), &[]).unwrap_err();
    assert!(err.to_string().contains("allow-owners"), "{err}");
}

#[test]
fn env_names() {
    assert_eq!(env_name("state-dir"), "AOCU_STATE_DIR");
    assert_eq!(env_name("limits.max-memory"), "AOCU_LIMITS_MAX_MEMORY");
    assert!(keys().contains(&"listen".to_string()));
}

#[test]
fn changes_apply_over_the_running_config_and_are_validated() {
    let running = Config::default();
    let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let changed = with_changes(&running, &set("price.per-message", "11"), "test").unwrap();
    assert_eq!(
        changed.price.get("per-message"),
        Some(&toml::Value::Integer(11))
    );
    let id = crate::ao::b64url(&[7u8; 32]);
    let changed = with_changes(
        &changed,
        &set("deny-processes", &format!("[\"{id}\"]")),
        "test",
    )
    .unwrap();
    assert_eq!(changed.deny_processes, vec![id]);
    assert_eq!(
        changed.price.get("per-message"),
        Some(&toml::Value::Integer(11))
    );

    for (key, value, needle) in [
        ("price.per-message", "eleven", "expected an integer"),
        ("no-such-key", "1", "unknown key"),
        ("initialized", "maybe", "initialized"),
        ("deny-processes", "[\"short\"]", "deny-processes"),
    ] {
        let err = with_changes(&running, &set(key, value), "signed").unwrap_err();
        assert!(err.to_string().contains(needle), "{key}={value}: {err}");
    }
    let locked = with_changes(&running, &set("initialized", "permanent"), "test").unwrap();
    assert_eq!(locked.initialized, "permanent");
}
