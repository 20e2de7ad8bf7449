//! `aocu install [--prefix DIR] [--force]`: put this binary, its systemd unit, the sysusers and
//! tmpfiles snippets and a commented default configuration in place.
//!
//! Idempotent: a file whose content is already right is left alone (and said so); the files
//! aocu owns (binary, unit, snippets) are replaced when they differ; the configuration is the
//! operator's and is never replaced without `--force`. Every file is written to a temporary
//! name beside it, synced and renamed: an interrupted install leaves old or new files, never a
//! torn one.
//!
//! Layout under the prefix (default `/usr/local`, where systemd, sysusers and tmpfiles look):
//! `bin/aocu`, `lib/systemd/system/aocu.service`, `lib/sysusers.d/aocu.conf`,
//! `lib/tmpfiles.d/aocu.conf`. The configuration goes to `/etc/aocu/aocu.toml` for the
//! prefixes `/usr/local` and `/usr`, else to `<prefix>/etc/aocu/aocu.toml`; the unit's
//! `ExecStart=` names the installed binary and that configuration.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::Outcome;

/// The unit, as shipped in `systemd/`; its paths are those of the default prefix.
const UNIT: &str = include_str!("../../systemd/aocu.service");
const SYSUSERS: &str = include_str!("../../systemd/aocu.sysusers");
const TMPFILES: &str = include_str!("../../systemd/aocu.tmpfiles");
const DEFAULT_BIN: &str = "/usr/local/bin/aocu";
const DEFAULT_CONFIG_DIR: &str = "/etc/aocu";

/// Arguments of `aocu install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Installation prefix.
    #[arg(long, value_name = "DIR", default_value = "/usr/local")]
    pub prefix: PathBuf,
    /// Replace a configuration file that differs from the default (it is kept otherwise).
    #[arg(long)]
    pub force: bool,
}

/// Where each file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    bin: PathBuf,
    unit: PathBuf,
    sysusers: PathBuf,
    tmpfiles: PathBuf,
    config_dir: PathBuf,
}

impl Layout {
    fn under(prefix: &Path) -> Layout {
        let system = [Path::new("/usr/local"), Path::new("/usr")].contains(&prefix);
        let config_dir = if system {
            PathBuf::from(DEFAULT_CONFIG_DIR)
        } else {
            prefix.join("etc/aocu")
        };
        Layout {
            bin: prefix.join("bin/aocu"),
            unit: prefix.join("lib/systemd/system/aocu.service"),
            sysusers: prefix.join("lib/sysusers.d/aocu.conf"),
            tmpfiles: prefix.join("lib/tmpfiles.d/aocu.conf"),
            config_dir,
        }
    }

    fn config(&self) -> PathBuf {
        self.config_dir.join("aocu.toml")
    }

    /// The unit with this layout's binary and configuration.
    fn unit_text(&self) -> String {
        UNIT.replace(DEFAULT_BIN, &self.bin.display().to_string())
            .replace(
                &format!("{DEFAULT_CONFIG_DIR}/aocu.toml"),
                &self.config().display().to_string(),
            )
    }

    /// The tmpfiles snippet with this layout's configuration folder.
    fn tmpfiles_text(&self) -> String {
        TMPFILES.replace(DEFAULT_CONFIG_DIR, &self.config_dir.display().to_string())
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Installed,
    Replaced,
    Unchanged,
    Kept,
}

/// Install; one line per file on stdout, then the commands that enable the service.
pub fn run(args: &InstallArgs) -> anyhow::Result<Outcome> {
    let layout = Layout::under(&args.prefix);
    let binary = std::env::current_exe().context("finding this binary")?;
    let binary = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let files: [(&Path, Vec<u8>, u32, bool); 5] = [
        (&layout.bin, binary, 0o755, false),
        (&layout.unit, layout.unit_text().into_bytes(), 0o644, false),
        (&layout.sysusers, SYSUSERS.as_bytes().to_vec(), 0o644, false),
        (
            &layout.tmpfiles,
            layout.tmpfiles_text().into_bytes(),
            0o644,
            false,
        ),
        (
            &layout.config(),
            default_config()?.into_bytes(),
            0o644,
            true,
        ),
    ];
    for (path, content, mode, operators) in &files {
        let done = place(path, content, *mode, *operators && !args.force)?;
        let what = match done {
            Done::Installed => "installed",
            Done::Replaced => "replaced",
            Done::Unchanged => "unchanged",
            Done::Kept => "kept (it differs from the default; --force replaces it)",
        };
        println!("{what}: {}", path.display());
    }
    println!(
        "next: systemd-sysusers && systemd-tmpfiles --create && systemctl daemon-reload \
         && systemctl enable --now aocu"
    );
    Ok(Outcome::Success)
}

/// Put `content` at `path` with `mode` unless it is already there (or `keep` and it differs).
fn place(path: &Path, content: &[u8], mode: u32, keep: bool) -> anyhow::Result<Done> {
    let existing = match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    match &existing {
        Some(bytes) if bytes == content => return Ok(Done::Unchanged),
        Some(_) if keep => return Ok(Done::Kept),
        _ => {}
    }
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let temp = dir.join(format!(
        ".{}.aocu-install-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = write_new(&temp, content, mode).and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(if existing.is_some() {
        Done::Replaced
    } else {
        Done::Installed
    })
}

/// Create `path` (it must not exist) with `content` and `mode`, synced to disk.
fn write_new(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(content)?;
    // The mode given at creation is masked by the umask: set it as asked.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.sync_all()
}

/// The embedded defaults as a TOML file with every key commented out: the file documents the
/// keys and changes nothing until a line is uncommented.
fn default_config() -> anyhow::Result<String> {
    let defaults = toml::to_string_pretty(&crate::config::Config::default())
        .context("writing the default configuration")?;
    let mut out = String::from(
        "# aocu configuration. Every key is shown with its default, commented out;\n\
         # uncomment a line to change it. Each key is also set by AOCU_<KEY> in the\n\
         # environment and by `--set key=value`. Check with `aocu config check`.\n\
         # The keys are described in README.md (Configuration).\n\n",
    );
    for line in defaults.lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_the_unit_follow_the_prefix() {
        let system = Layout::under(Path::new("/usr/local"));
        assert_eq!(system.config(), Path::new("/etc/aocu/aocu.toml"));
        assert_eq!(
            system.unit_text(),
            UNIT,
            "the shipped unit is the default layout's"
        );
        let opt = Layout::under(Path::new("/opt/aocu"));
        assert_eq!(opt.bin, Path::new("/opt/aocu/bin/aocu"));
        let unit = opt.unit_text();
        assert!(
            unit.contains(
                "ExecStart=/opt/aocu/bin/aocu serve --config /opt/aocu/etc/aocu/aocu.toml"
            ),
            "{unit}"
        );
        assert!(opt.tmpfiles_text().contains("d /opt/aocu/etc/aocu 0755"));
    }

    #[test]
    fn the_default_configuration_is_all_comments_and_loads_as_the_defaults() {
        let text = default_config().unwrap();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert!(parsed.is_empty(), "every key commented out");
        let uncommented: String = text
            .lines()
            .filter(|l| l.contains(" = ") || l.starts_with("# ["))
            .map(|l| l.trim_start_matches("# ").to_string() + "\n")
            .collect();
        let config: crate::config::Config = toml::from_str(&uncommented).unwrap();
        assert_eq!(config, crate::config::Config::default());
    }
}
