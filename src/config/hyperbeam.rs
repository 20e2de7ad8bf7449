//! HyperBEAM's environment: the variables `genesis-wasm@1.0` gives the Compute Unit it starts
//! (`dev_genesis_wasm.erl`, `ensure_started/1`), mapped onto aocu's own keys.
//!
//! The mapping applies only when `UNIT_MODE=hbu` (the Node CU's HyperBEAM mode): variables such
//! as `PORT` are too common to be read otherwise. It is the lowest layer above the defaults, so
//! aocu's own keys (the file, `AOCU_*`, `--set`) win where both are set.
//!
//! | variable | aocu key | how |
//! | --- | --- | --- |
//! | `UNIT_MODE` | — | `hbu` turns the mapping on; `cu` (the Node CU's default) or unset leaves it off; anything else is refused |
//! | `HB_URL` | `hyperbeam-url` | as given (required in `hbu` mode) |
//! | `PORT` | `listen` | `127.0.0.1:PORT` (HyperBEAM reaches its CU on `localhost`) |
//! | `DB_URL` | `state-dir` | as given |
//! | `WALLET_FILE` | `wallet` | as given |
//! | `PROCESS_WASM_MEMORY_MAX_LIMIT` | `max-memory-bytes` | a number; `_` separators allowed (`24_000_000_000`) |
//! | `DEFAULT_LOG_LEVEL` | `log` | `info,aocu=LEVEL` (the level for aocu's own lines only) |
//! | `GATEWAY_URL` | `gateways` | `[URL]`, when this build has that key |
//! | `GRAPHQL_URL`, `GRAPHQL_URLS` | `graphql-urls` | the list (comma separated), when this build has that key |
//! | `ALLOW_PROCESSES`, `RESTRICT_PROCESSES`, `ALLOW_OWNERS` | `allow-processes`, `deny-processes`, `allow-owners` | the comma-separated list |
//! | `PROCESS_MEMORY_CACHE_MAX_SIZE` | `process-memory-budget-bytes` | a number, as above: the Node CU's bound on the memory of the processes it keeps in memory (least recently used dropped), which is what the budget is |
//! | `PROCESS_WASM_SUPPORTED_EXTENSIONS` | — | WeaveDrive is always offered; any other extension named is reported unused |
//!
//! `NODE_CONFIG_ENV`, `DISABLE_PROCESS_FILE_CHECKPOINT_CREATION` and
//! `PROCESS_MEMORY_FILE_CHECKPOINTS_DIR` have no aocu meaning and are not read.

use std::collections::BTreeMap;

use super::ConfigError;

/// The variable that turns the mapping on.
pub const UNIT_MODE: &str = "UNIT_MODE";

/// What HyperBEAM's environment sets: `(key, value, origin)` for the keys it maps onto, and
/// `(variable, why)` for what it reads but does not use.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mapped {
    /// Keys to set, with the value text and the variable it came from.
    pub keys: Vec<(String, String, String)>,
    /// Variables read but not used, with the reason.
    pub unused: Vec<(String, String)>,
}

fn bad(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Override {
        origin: format!("HyperBEAM environment variable {variable}"),
        key: variable.to_string(),
        message: message.into(),
    }
}

/// A count as HyperBEAM writes it: decimal digits, optionally grouped with `_`.
pub fn parse_number(variable: &str, text: &str) -> Result<u64, ConfigError> {
    let digits: String = text.trim().chars().filter(|c| *c != '_').collect();
    let well_formed = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !text.trim().starts_with('_')
        && !text.trim().ends_with('_')
        && !text.contains("__");
    if !well_formed {
        return Err(bad(
            variable,
            format!("expected a whole number like 12_000_000_000, got `{text}`"),
        ));
    }
    digits
        .parse::<u64>()
        .map_err(|_| bad(variable, format!("`{text}` is too large")))
}

/// Read HyperBEAM's variables from `env`; `known` are this build's config keys (a variable
/// whose key this build lacks is reported unused). Nothing is mapped unless `UNIT_MODE=hbu`.
pub fn map(env: &BTreeMap<String, String>, known: &[String]) -> Result<Mapped, ConfigError> {
    match env.get(UNIT_MODE).map(|m| m.trim()) {
        None | Some("") | Some("cu") => return Ok(Mapped::default()),
        Some("hbu") => {}
        Some(other) => {
            return Err(bad(
                UNIT_MODE,
                format!("expected `hbu` (HyperBEAM's CU) or `cu`, got `{other}`"),
            ));
        }
    }
    let mut out = Mapped::default();
    let mut set = |key: &str, value: String, variable: &str| {
        if known.iter().any(|k| k == key) {
            out.keys.push((
                key.to_string(),
                value,
                format!("HyperBEAM environment variable {variable}"),
            ));
        } else {
            out.unused.push((
                variable.to_string(),
                format!("this build has no `{key}` key"),
            ));
        }
    };
    let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let Some(hb_url) = get("HB_URL") else {
        return Err(bad(
            "HB_URL",
            "UNIT_MODE=hbu needs HB_URL (HyperBEAM's own URL)",
        ));
    };
    set("hyperbeam-url", hb_url.to_string(), "HB_URL");
    if let Some(port) = get("PORT") {
        let port: u16 = port
            .parse()
            .map_err(|_| bad("PORT", format!("expected a TCP port, got `{port}`")))?;
        set("listen", format!("127.0.0.1:{port}"), "PORT");
    }
    if let Some(dir) = get("DB_URL") {
        set("state-dir", dir.to_string(), "DB_URL");
    }
    if let Some(wallet) = get("WALLET_FILE") {
        set("wallet", wallet.to_string(), "WALLET_FILE");
    }
    if let Some(limit) = get("PROCESS_WASM_MEMORY_MAX_LIMIT") {
        let bytes = parse_number("PROCESS_WASM_MEMORY_MAX_LIMIT", limit)?;
        set(
            "max-memory-bytes",
            bytes.to_string(),
            "PROCESS_WASM_MEMORY_MAX_LIMIT",
        );
    }
    if let Some(level) = get("DEFAULT_LOG_LEVEL") {
        let level = level.to_ascii_lowercase();
        if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
            return Err(bad(
                "DEFAULT_LOG_LEVEL",
                format!("expected error, warn, info, debug or trace, got `{level}`"),
            ));
        }
        set("log", format!("info,aocu={level}"), "DEFAULT_LOG_LEVEL");
    }
    if let Some(url) = get("GATEWAY_URL") {
        set("gateways", toml_list(&[url]), "GATEWAY_URL");
    }
    for variable in ["GRAPHQL_URLS", "GRAPHQL_URL"] {
        if let Some(urls) = get(variable) {
            let list: Vec<&str> = urls
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .collect();
            set("graphql-urls", toml_list(&list), variable);
            break;
        }
    }
    // The Node CU's access lists, comma separated as it reads them (`domain/model.js`).
    for (variable, key) in [
        ("ALLOW_PROCESSES", "allow-processes"),
        ("RESTRICT_PROCESSES", "deny-processes"),
        ("ALLOW_OWNERS", "allow-owners"),
    ] {
        if let Some(text) = get(variable) {
            let list: Vec<&str> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            set(key, toml_list(&list), variable);
        }
    }
    if let Some(size) = get("PROCESS_MEMORY_CACHE_MAX_SIZE") {
        let bytes = parse_number("PROCESS_MEMORY_CACHE_MAX_SIZE", size)?;
        set(
            "process-memory-budget-bytes",
            bytes.to_string(),
            "PROCESS_MEMORY_CACHE_MAX_SIZE",
        );
    }
    if let Some(extensions) = get("PROCESS_WASM_SUPPORTED_EXTENSIONS") {
        // WeaveDrive is always on (for the modules AO's CU attaches it to); anything else
        // named is reported.
        let others: Vec<&str> = extensions
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != "WeaveDrive")
            .collect();
        if !others.is_empty() {
            out.unused.push((
                "PROCESS_WASM_SUPPORTED_EXTENSIONS".into(),
                format!("aocu offers WeaveDrive only, not `{}`", others.join(", ")),
            ));
        }
    }
    Ok(out)
}

/// A TOML array of strings, as the override syntax of array keys takes it.
fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| toml::Value::String((*s).to_string()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn known() -> Vec<String> {
        [
            "hyperbeam-url",
            "listen",
            "state-dir",
            "wallet",
            "max-memory-bytes",
            "process-memory-budget-bytes",
            "log",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn numbers_as_hyperbeam_writes_them() {
        assert_eq!(parse_number("X", "12_000_000_000").unwrap(), 12_000_000_000);
        assert_eq!(parse_number("X", "24000").unwrap(), 24_000);
        for bad in [
            "",
            "_1",
            "1_",
            "1__0",
            "1e9",
            "-5",
            "12 000",
            "99999999999999999999999",
        ] {
            assert!(parse_number("X", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn off_unless_hbu() {
        let e = env(&[("PORT", "9"), ("HB_URL", "http://localhost:8734")]);
        assert_eq!(map(&e, &known()).unwrap(), Mapped::default());
        let e = env(&[("UNIT_MODE", "cu"), ("PORT", "9")]);
        assert_eq!(map(&e, &known()).unwrap(), Mapped::default());
        let e = env(&[("UNIT_MODE", "mu")]);
        assert!(
            map(&e, &known())
                .unwrap_err()
                .to_string()
                .contains("UNIT_MODE")
        );
        let e = env(&[("UNIT_MODE", "hbu")]);
        assert!(
            map(&e, &known())
                .unwrap_err()
                .to_string()
                .contains("HB_URL")
        );
    }

    #[test]
    fn hyperbeams_environment_maps() {
        let e = env(&[
            ("UNIT_MODE", "hbu"),
            ("HB_URL", "http://localhost:8734"),
            ("PORT", "6363"),
            ("DB_URL", "/srv/hb/genesis-wasm-db"),
            ("WALLET_FILE", "/srv/hb/hyperbeam-key.json"),
            ("PROCESS_WASM_MEMORY_MAX_LIMIT", "24_000_000_000"),
            ("PROCESS_MEMORY_CACHE_MAX_SIZE", "12_000_000_000"),
            ("PROCESS_WASM_SUPPORTED_EXTENSIONS", "WeaveDrive"),
            ("GATEWAY_URL", "https://arweave.net"),
            ("DEFAULT_LOG_LEVEL", "debug"),
        ]);
        let m = map(&e, &known()).unwrap();
        let value = |key: &str| {
            m.keys
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, v, _)| v.as_str())
        };
        assert_eq!(value("hyperbeam-url"), Some("http://localhost:8734"));
        assert_eq!(value("listen"), Some("127.0.0.1:6363"));
        assert_eq!(value("state-dir"), Some("/srv/hb/genesis-wasm-db"));
        assert_eq!(value("wallet"), Some("/srv/hb/hyperbeam-key.json"));
        assert_eq!(value("max-memory-bytes"), Some("24000000000"));
        assert_eq!(value("log"), Some("info,aocu=debug"));
        let unused: Vec<&str> = m.unused.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(value("process-memory-budget-bytes"), Some("12000000000"));
        assert!(
            !unused.contains(&"PROCESS_WASM_SUPPORTED_EXTENSIONS"),
            "WeaveDrive is offered"
        );
        let e = env(&[
            ("UNIT_MODE", "hbu"),
            ("HB_URL", "http://h"),
            ("PROCESS_WASM_SUPPORTED_EXTENSIONS", "WeaveDrive, Foo"),
        ]);
        let m = map(&e, &known()).unwrap();
        assert!(
            m.unused
                .iter()
                .any(|(k, why)| k == "PROCESS_WASM_SUPPORTED_EXTENSIONS"
                    && why.contains("Foo")
                    && !why.contains("WeaveDrive,"))
        );
        // No `gateways` key in `known`: reported, not set.
        assert!(unused.contains(&"GATEWAY_URL"));
        let e = env(&[("UNIT_MODE", "hbu"), ("HB_URL", "http://h"), ("PORT", "x")]);
        assert!(map(&e, &known()).unwrap_err().to_string().contains("PORT"));
        let e = env(&[
            ("UNIT_MODE", "hbu"),
            ("HB_URL", "http://h"),
            ("PROCESS_MEMORY_CACHE_MAX_SIZE", "lots"),
        ]);
        assert!(map(&e, &known()).is_err());
    }
}
