//! `brain completions SHELL` (a completion script from the clap definition, `clap_complete`) and
//! `brain man` (roff man pages from the same definition, `clap_mangen`): both always match the binary.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell, CompletionsArgs, ManArgs};

/// Prints the completion script for `args.shell` to stdout.
///
/// # Errors
/// Stdout cannot be written.
pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    use clap_complete::Shell;
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "brain", &mut out);
    out.flush().context("cannot write the completion script")
}

/// Prints `brain.1` to stdout, or writes `brain.1` and one `brain-<command>.1` per (sub)command into
/// `args.dir`.
///
/// # Errors
/// Stdout or a file cannot be written.
pub(crate) fn man(args: &ManArgs) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out).context("cannot write the man page")?;
            out.flush().context("cannot write the man page")
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            // Pages are named by clap's display names: `brain.1`, `brain-dlq.1`, `brain-dlq-list.1`, ...
            clap_mangen::generate_to(cmd, dir).with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            let written = std::fs::read_dir(dir)
                .map(|entries| entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "1")).count())
                .unwrap_or(0);
            eprintln!("brain man: {written} pages in {}", dir.display());
            Ok(())
        }
    }
}
