//! `brain catalog`: every event type of the catalog, as a table, JSON (`--json`) or the Markdown of
//! `docs/EVENTS.md` (`--markdown`, printed exactly as `Catalog::to_markdown` writes it).

use brain_events::Catalog;
use clap::Args;
use comfy_table::Table;

#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    /// Print every entry with its JSON Schema as JSON.
    #[arg(long, conflicts_with = "markdown")]
    pub(crate) json: bool,
    /// Print the EVENTS documentation (`brain catalog --markdown > docs/EVENTS.md`).
    #[arg(long)]
    pub(crate) markdown: bool,
}

pub(crate) fn run(args: &CatalogArgs) -> anyhow::Result<()> {
    let catalog = Catalog::new();
    if args.markdown {
        print!("{}", catalog.to_markdown());
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&catalog)?);
    } else {
        let mut table = Table::new();
        table.set_header(["type", "module", "source", "version", "criticality", "consumers"]);
        for e in catalog.entries() {
            table.add_row([
                e.event_type.to_string(),
                e.module.to_owned(),
                e.source.to_owned(),
                e.schema_version.to_string(),
                serde_json::to_value(e.criticality).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                e.consumers.join(", "),
            ]);
        }
        println!("{table}");
        eprintln!("{} event types", catalog.len());
    }
    Ok(())
}
