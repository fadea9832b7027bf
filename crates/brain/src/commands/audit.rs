//! `brain audit verify|proof|verify-proof|list|export|prune|key`: the verifiable audit log from the
//! command line (the library is `eventstream_system::audit`; `brain serve` runs its subscriber and
//! checkpointer).
//!
//! Exit codes of every `brain audit` command: 0 = done (for `verify` and `verify-proof`: intact),
//! 1 = not intact (`verify` found a bad row, `verify-proof` refused the proof), 2 = could not check (bad
//! arguments, an unreadable file, an unreachable store). A script can therefore tell "tampered" from
//! "the check did not run". `main` maps every error to 1, so this module exits by itself for 1 and 2.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Subcommand};
use comfy_table::Table;
use eventstream_core::codec::cloudevents;
use eventstream_core::{Event, EventType, Source, TenantId, format_timestamp};
use eventstream_system::audit::{AuditError, AuditFilter, AuditLog, InclusionProof, NoteVerifier, VerifyReport};
use serde_json::{Map, Value, json};

use crate::backend::{open_log, open_store};
use crate::cli::LogArgs;
use crate::config::Settings;

/// Exit code: not intact (a bad row, a refused proof).
const NOT_INTACT: u8 = 1;
/// Exit code: the check could not run.
const COULD_NOT_CHECK: u8 = 2;
/// Rows per page when listing or exporting.
const PAGE: u32 = 1000;

/// `brain audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub(crate) log: LogArgs,
    #[command(subcommand)]
    pub(crate) command: AuditCommand,
}

/// The `brain audit` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the log: exit 0 when intact, 1 naming the first bad row and its class (altered, missing,
    /// inserted, reordered, truncated, forked checkpoint), 2 when the check could not run. Incremental
    /// from the last checkpoint it trusted (kept in `<data dir>/audit-verify.json`).
    Verify {
        /// Rehash every row from the first one.
        #[arg(long)]
        full: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the inclusion proof of an event as JSON (the same document as `GET /api/audit/proof/inclusion`).
    Proof {
        /// The event id.
        event_id: String,
        /// Prove against the signed checkpoint of this size (default: the latest).
        #[arg(long)]
        tree_size: Option<u64>,
        /// Prove in this tenant's tree instead of the global one.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Check a proof offline with nothing but the verifier key: exit 0 when valid, 1 when refused.
    VerifyProof {
        /// The proof file (`-` for stdin), as printed by `brain audit proof`.
        proof: PathBuf,
        /// The verifier key `<name>+<hex id>+<base64 key>` (`brain audit key`, `GET /api/audit/key`), or a
        /// file holding it.
        #[arg(long)]
        key: String,
    },
    /// Browse the log, oldest first.
    List {
        /// Only these types: exact (`task.created`), prefix (`task.*`) or `*`.
        #[arg(long = "type", short = 't')]
        event_type: Option<String>,
        /// Only this tenant's rows.
        #[arg(long)]
        tenant: Option<String>,
        /// Only events at or after this time: RFC 3339, `YYYY-MM-DD`, epoch seconds, or an age (`2h`, `7d`).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time (same forms as `--since`).
        #[arg(long)]
        until: Option<String>,
        /// At most this many rows (1 to 10000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON row per line.
        #[arg(long)]
        json: bool,
    },
    /// Write the log as JSON Lines, one structured CloudEvent per line (pruned rows have no bytes and are
    /// skipped; their count goes to stderr).
    Export {
        /// The output format; only `cloudevents`.
        #[arg(long, default_value = "cloudevents")]
        format: String,
        /// Only this tenant's rows.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove the payload bytes of checkpointed rows older than a date; leaf hashes stay, so `verify` and
    /// every proof still pass. Records itself as a `system.maintenance` event.
    Prune {
        /// Rows with an envelope timestamp before this: RFC 3339, `YYYY-MM-DD`, epoch seconds, or an age.
        #[arg(long)]
        before: String,
    },
    /// Print the verifier key (C2SP vkey).
    Key,
}

/// How a command ended when it did not fail.
enum Outcome {
    Done,
    NotIntact,
}

/// Runs `brain audit`; exits with 1 (not intact) or 2 (could not check) itself.
///
/// # Errors
/// None: errors are printed and end the process with exit code 2.
pub(crate) async fn run(a: AuditArgs) -> anyhow::Result<()> {
    let code = match exec(a).await {
        Ok(Outcome::Done) => return Ok(()),
        Ok(Outcome::NotIntact) => NOT_INTACT,
        Err(e) => {
            eprintln!("error: {}", eventstream_core::error::chain(e.as_ref()));
            COULD_NOT_CHECK
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(code))
}

async fn open(log: &LogArgs) -> anyhow::Result<(Settings, AuditLog)> {
    let settings = Settings::resolve(log, None, None)?;
    let store = open_store(&settings).await?;
    let audit = AuditLog::open(store, &settings.audit).await.context("cannot open the audit log")?;
    Ok((settings, audit))
}

fn tenant_arg(t: Option<&str>) -> anyhow::Result<Option<TenantId>> {
    t.map(str::parse::<TenantId>).transpose().map_err(|e| anyhow!("--tenant: {e}"))
}

fn time_arg(flag: &str, t: Option<&str>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    t.map(|s| brain_server::time_arg::parse_since(s, chrono::Utc::now()).map_err(|e| anyhow!("{flag}: {e}"))).transpose()
}

async fn exec(a: AuditArgs) -> anyhow::Result<Outcome> {
    match a.command {
        AuditCommand::VerifyProof { proof, key } => verify_proof(&proof, &key),
        AuditCommand::Verify { full, json } => {
            let (_, audit) = open(&a.log).await?;
            let report = audit.verify(full).await.context("verification could not run")?;
            print_verify(&report, json)?;
            Ok(if report.finding.is_none() { Outcome::Done } else { Outcome::NotIntact })
        }
        AuditCommand::Proof { event_id, tree_size, tenant } => {
            let tenant = tenant_arg(tenant.as_deref())?;
            let (_, audit) = open(&a.log).await?;
            let proof = audit.inclusion_proof(&event_id, tree_size, tenant.as_ref()).await?;
            println!("{}", serde_json::to_string(&proof)?);
            Ok(Outcome::Done)
        }
        AuditCommand::List { event_type, tenant, since, until, limit, json } => {
            if !(1..=10_000).contains(&limit) {
                bail!("--limit: must be between 1 and 10000");
            }
            let filter = AuditFilter {
                event_type: event_type.as_deref().map(|p| crate::commands::parse_pattern(Some(p))).transpose()?,
                tenant: tenant_arg(tenant.as_deref())?,
                since: time_arg("--since", since.as_deref())?,
                until: time_arg("--until", until.as_deref())?,
            };
            let (_, audit) = open(&a.log).await?;
            list(&audit, &filter, limit, json).await?;
            Ok(Outcome::Done)
        }
        AuditCommand::Export { format, tenant } => {
            if format != "cloudevents" {
                bail!("--format: only `cloudevents` is supported, got {format:?}");
            }
            let filter = AuditFilter { tenant: tenant_arg(tenant.as_deref())?, ..AuditFilter::default() };
            let (_, audit) = open(&a.log).await?;
            export(&audit, &filter).await?;
            Ok(Outcome::Done)
        }
        AuditCommand::Prune { before } => {
            let before = time_arg("--before", Some(&before))?.ok_or_else(|| anyhow!("--before is required"))?;
            let (settings, audit) = open(&a.log).await?;
            prune(&settings, &audit, before).await?;
            Ok(Outcome::Done)
        }
        AuditCommand::Key => {
            let (_, audit) = open(&a.log).await?;
            println!("{}", audit.verifier());
            Ok(Outcome::Done)
        }
    }
}

fn print_verify(r: &VerifyReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let mode = if r.full { "full" } else { "incremental" };
    match &r.finding {
        None => println!(
            "intact: {} rows checked ({mode}), tree size {}, {} checkpoints, {} pruned rows; trusted size now {}",
            r.rows_checked, r.tree_size, r.checkpoints_checked, r.pruned_rows, r.trusted_size
        ),
        Some(f) => {
            let other = f.other.map(|o| format!(" (with row {o})")).unwrap_or_default();
            let escalated = if r.escalated { " after the incremental check failed" } else { "" };
            println!(
                "NOT INTACT: row {} of tree {} is {}{other}: {} ({mode} check{escalated})",
                f.index,
                f.tree,
                f.class.as_str(),
                f.detail
            );
        }
    }
    Ok(())
}

/// Reads the key argument: a file holding the vkey, or the vkey itself.
fn read_key(key: &str) -> anyhow::Result<NoteVerifier> {
    let path = Path::new(key);
    let text =
        if path.is_file() { std::fs::read_to_string(path).with_context(|| format!("--key: cannot read {key}"))? } else { key.to_owned() };
    text.trim().parse::<NoteVerifier>().map_err(|e| anyhow!("--key: {e} (give the key itself or a file holding it)"))
}

fn verify_proof(file: &Path, key: &str) -> anyhow::Result<Outcome> {
    let key = read_key(key)?;
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read the proof from stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read the proof {}", file.display()))?
    };
    let proof: InclusionProof = serde_json::from_str(&text).with_context(|| format!("{} is not an inclusion proof", file.display()))?;
    match proof.verify(&key) {
        Ok((cp, leaf)) => {
            let event = serde_json::from_slice::<Value>(&leaf).ok();
            let field = |k: &str| event.as_ref().and_then(|e| e[k].as_str().map(str::to_owned)).unwrap_or_else(|| "?".into());
            println!(
                "valid: event {} ({}) is leaf {} of {} at size {} (root {}), signed by {}",
                field("id"),
                field("type"),
                proof.leaf_index,
                cp.origin,
                cp.size,
                B64.encode(cp.root),
                key.name()
            );
            Ok(Outcome::Done)
        }
        Err(e @ (AuditError::Note(_) | AuditError::Proof(_) | AuditError::BadRequest(_))) => {
            println!("INVALID: {e}");
            Ok(Outcome::NotIntact)
        }
        Err(e) => Err(e.into()),
    }
}

async fn list(audit: &AuditLog, filter: &AuditFilter, limit: u32, json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut after = None;
    while (rows.len() as u32) < limit {
        let page = audit.list(filter, after, PAGE.min(limit - rows.len() as u32)).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.index);
        rows.extend(page);
    }
    if json {
        let mut out = std::io::stdout().lock();
        for r in &rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no audited events match");
        return Ok(());
    }
    let mut t = Table::new();
    t.set_header(["index", "time", "type", "tenant", "tenant index", "event id", "leaf hash", "bytes"]);
    for r in rows {
        t.add_row([
            r.index.to_string(),
            format_timestamp(&r.timestamp),
            r.event_type,
            r.tenant.unwrap_or_else(|| "-".into()),
            r.tenant_index.map_or_else(|| "-".into(), |i| i.to_string()),
            r.event_id,
            r.leaf_hash,
            if r.pruned { "pruned".into() } else { "kept".into() },
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn export(audit: &AuditLog, filter: &AuditFilter) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut after, mut written, mut pruned) = (None, 0u64, 0u64);
    loop {
        let page = audit.list(filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.index);
        for r in page {
            let Some(v) = r.event else {
                pruned += 1;
                continue;
            };
            let event = Event::from_json_value(v).with_context(|| format!("audit row {} does not hold an event envelope", r.index))?;
            let mut ce = cloudevents::to_structured(&event);
            if let Value::Object(m) = &mut ce {
                // Extension attributes: where the event sits in the log (lowercase alphanumeric names).
                m.insert("auditindex".into(), json!(r.index));
                m.insert("auditleafhash".into(), json!(r.leaf_hash));
            }
            writeln!(out, "{ce}")?;
            written += 1;
        }
    }
    out.flush()?;
    eprintln!("exported {written} events{}", if pruned > 0 { format!(", skipped {pruned} pruned rows") } else { String::new() });
    Ok(())
}

async fn prune(settings: &Settings, audit: &AuditLog, before: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
    let report = audit.prune(before).await.context("prune failed")?;
    // The log records its own retention: a `system.maintenance` event (extra fields are allowed) that the
    // audit subscriber appends like any other event.
    let mut payload = Map::new();
    payload.insert("status".into(), json!("completed"));
    payload.insert("component".into(), json!("audit_log"));
    payload.insert(
        "message".into(),
        json!(format!("audit prune: removed the bytes of {} rows before {}", report.rows, format_timestamp(&before))),
    );
    payload.insert("operation".into(), json!("audit_prune"));
    payload.insert("before".into(), json!(format_timestamp(&report.before)));
    payload.insert("rows".into(), json!(report.rows));
    payload.insert("first_index".into(), json!(report.first_index));
    payload.insert("last_index".into(), json!(report.last_index));
    let event_type: EventType = "system.maintenance".parse()?;
    let source: Source = "brain".parse()?;
    let mut event = Event::new(event_type, source, payload);
    event.meta.producer = "brain-cli".into();
    let log = open_log(settings).await?;
    log.append(std::slice::from_ref(&event)).await.context("the prune was done, but its event could not be published")?;
    match (report.first_index, report.last_index) {
        (Some(lo), Some(hi)) => {
            println!("pruned {} rows ({lo}..={hi}) before {}; recorded as event {}", report.rows, format_timestamp(&before), event.id)
        }
        _ => println!(
            "nothing to prune before {} (only checkpointed rows are pruned); recorded as event {}",
            format_timestamp(&before),
            event.id
        ),
    }
    Ok(())
}
