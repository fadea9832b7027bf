//! Tools a test runs besides the services: binaries (`nats-server`), browsers (Chromium) and Python
//! modules of the interop Python. [`require_tool`] applies the same rule as
//! [`require_service`](crate::require_service): under CI a missing tool fails the test, elsewhere it is
//! skipped with a visible banner. `scripts/test` installs the browser and the Python packages.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::service::{Missing, decide, running_in_ci};

/// The environment variable naming the Python the interop tests run (`scripts/test` sets it).
pub const PYTHON_ENV: &str = "BRAIN_TEST_PYTHON";

/// Where `scripts/test` creates the interop tests' virtual environment, relative to the workspace root.
pub const PYTHON_VENV: &str = "target/pyenv";

/// The Python interpreter for tests that run Python code (the original producers, validators):
/// `$BRAIN_TEST_PYTHON` when set and not empty; else `<workspace>/target/pyenv/bin/python3` when that
/// venv exists (`scripts/test` creates it with every `crates/*/tests/fixtures/requirements.txt`
/// installed); else `python3` from `PATH`.
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(PYTHON_VENV).join("bin/python3");
    if venv.is_file() { venv } else { PathBuf::from("python3") }
}

/// The workspace root: this crate lives at `<root>/crates/eventstream-testkit`.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().and_then(Path::parent).unwrap_or(manifest).to_path_buf()
}

/// How [`require_tool`] finds out whether a tool is there. A path converts into
/// [`ToolProbe::Executable`], so `require_tool("nats-server", "/usr/sbin/nats-server")` works.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolProbe {
    /// An executable file at this path (a binary or a browser, e.g. `/usr/bin/chromium`).
    Executable(PathBuf),
    /// A command that exits with status 0 when the tool works.
    Command {
        /// The program, a path or a name looked up in `PATH`.
        program: PathBuf,
        /// Its arguments.
        args: Vec<OsString>,
    },
    /// A module the interop Python ([`test_python`], resolved when probed) can import, e.g.
    /// `openapi_spec_validator`.
    PythonModule(String),
}

impl ToolProbe {
    /// An executable file at `path`.
    pub fn executable(path: impl Into<PathBuf>) -> Self {
        Self::Executable(path.into())
    }

    /// `program args...` must exit with status 0.
    pub fn command<A: Into<OsString>>(program: impl Into<PathBuf>, args: impl IntoIterator<Item = A>) -> Self {
        Self::Command { program: program.into(), args: args.into_iter().map(Into::into).collect() }
    }

    /// `import module` must succeed in [`test_python`].
    pub fn python_module(module: impl Into<String>) -> Self {
        Self::PythonModule(module.into())
    }

    /// `Ok` when the tool is there, else why not.
    fn check(&self) -> Result<(), String> {
        match self {
            Self::Executable(path) => executable(path),
            Self::Command { program, args } => run(program, args),
            Self::PythonModule(module) => {
                let import = format!("import {module}");
                run(&test_python(), &["-c".into(), import.into()])
            }
        }
    }
}

impl From<&str> for ToolProbe {
    fn from(path: &str) -> Self {
        Self::executable(path)
    }
}

impl From<&Path> for ToolProbe {
    fn from(path: &Path) -> Self {
        Self::executable(path)
    }
}

impl From<PathBuf> for ToolProbe {
    fn from(path: PathBuf) -> Self {
        Self::executable(path)
    }
}

/// Whether the test needing the tool `name` (e.g. `"chromium"`, `"redis-py"`) can run: `probe` says how
/// to tell (a path is an executable file that must exist).
///
/// When the tool is missing: under CI ([`running_in_ci`](crate::running_in_ci)) this panics, failing
/// the test; otherwise it writes a loud `SKIPPED: ...` banner to stderr (visible in a normal
/// `cargo test`) and returns `false`, and the caller returns early.
///
/// # Panics
/// When the tool is missing and `CI=true`.
#[track_caller]
pub fn require_tool(name: &str, probe: impl Into<ToolProbe>) -> bool {
    let missing = probe.into().check().err().map(|why| Missing {
        what: format!("the tests needing {name}"),
        why,
        fix: "Run `scripts/test` (it installs Chromium and the tests' Python packages), or install it yourself".to_owned(),
    });
    decide(running_in_ci(), missing)
}

fn executable(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{} is not installed ({e})", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("{} is not executable", path.display()));
        }
    }
    Ok(())
}

fn run(program: &Path, args: &[OsString]) -> Result<(), String> {
    let shown = || {
        let mut s = program.display().to_string();
        for a in args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        format!("`{s}`")
    };
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| format!("{} cannot start ({e})", shown()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_owned();
    Err(format!("{} failed ({}: {last})", shown(), out.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executable_file_is_found_and_a_missing_or_plain_file_is_not() {
        assert_eq!(ToolProbe::from("/bin/sh").check(), Ok(()));
        let gone = ToolProbe::from("/nonexistent/brain-tool").check();
        assert!(gone.as_ref().is_err_and(|e| e.contains("/nonexistent/brain-tool is not installed")), "{gone:?}");
        let dir = std::env::temp_dir();
        assert!(ToolProbe::from(dir.as_path()).check().is_err(), "a directory is not a tool");
        let plain = dir.join(format!("brain-testkit-plain-{}", std::process::id()));
        std::fs::write(&plain, b"").unwrap_or_else(|e| panic!("write: {e}"));
        let not_exec = ToolProbe::from(plain.clone()).check();
        let _ = std::fs::remove_file(&plain);
        assert!(not_exec.as_ref().is_err_and(|e| e.contains("not executable")), "{not_exec:?}");
    }

    #[test]
    fn a_command_probe_needs_exit_status_zero_and_says_why_not() {
        assert_eq!(ToolProbe::command("sh", ["-c", "exit 0"]).check(), Ok(()));
        let failed = ToolProbe::command("sh", ["-c", "echo 'No module named x' >&2; exit 3"]).check();
        assert!(failed.as_ref().is_err_and(|e| e.contains("exit status: 3") && e.contains("No module named x")), "{failed:?}");
        let absent = ToolProbe::command("brain-no-such-program", ["--version"]).check();
        assert!(absent.as_ref().is_err_and(|e| e.contains("cannot start")), "{absent:?}");
    }

    #[test]
    fn the_interop_python_is_the_variable_then_the_venv_then_python3() {
        let got = test_python();
        match std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
            Some(p) => assert_eq!(got, PathBuf::from(p)),
            None if workspace_root().join("target/pyenv/bin/python3").is_file() => assert!(got.ends_with("target/pyenv/bin/python3")),
            None => assert_eq!(got, PathBuf::from("python3")),
        }
        assert!(workspace_root().join("Cargo.toml").is_file(), "the workspace root is found");
    }
}
