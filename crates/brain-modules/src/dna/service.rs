//! DNA snapshots: create, mutate, score, history.
//!
//! Storage: a manual snapshot, and every [`FULL_EVERY`]th version, stores the whole DNA and traits; a
//! mutation in between stores only the keys it set (`delta = 1`), so storage grows with the changes,
//! not with the DNA's size times the number of versions. A version is read by folding the changes onto
//! the nearest full version at or before it (at most [`FULL_EVERY`] rows). Rows written before the
//! change (`delta` NULL) hold the whole version and are read as they are. The DNA and the traits of a
//! version are capped at [`MAX_DNA_BYTES`] serialised.

use brain_events::EventPayload;
use brain_events::dna::{DnaKarmaUpdated, DnaMutationApplied, DnaSnapshotCreated, SnapshotSource};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::page::Page;
use crate::sql::{db, is_unique_violation, next_counter};
use crate::web::{Origin, ms_to_secs, now_ms};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum DnaError {
    /// The agent has no snapshot (404 `agent_not_found`).
    #[error("No DNA found for agent {0}")]
    NotFound(String),
    /// Another request wrote the same version first (409 `concurrent_update`).
    #[error("agent `{0}` changed concurrently; retry")]
    Concurrent(String),
    /// The mutation would take the DNA or the traits over [`MAX_DNA_BYTES`] (422 `dna_too_large`).
    #[error("the {field} of agent `{agent}` would be {bytes} bytes serialised; at most {MAX_DNA_BYTES} are kept")]
    TooLarge {
        /// The agent.
        agent: String,
        /// `mutation` or `traits_delta`.
        field: &'static str,
        /// The size it would have.
        bytes: usize,
    },
    /// The state store failed.
    #[error("state store failure")]
    Store(#[from] StoreError),
}

/// Every this many versions a mutation stores the whole DNA rather than its change.
pub(crate) const FULL_EVERY: u32 = 32;

/// The largest DNA (and the largest traits) a version may hold, serialised as JSON: 1 MiB, the request
/// body limit, so a mutation cannot grow a DNA past what one snapshot request could carry.
pub(crate) const MAX_DNA_BYTES: usize = 1 << 20;

/// The DNA and traits keys a mutation set, when its version is stored as that change.
type SetKeys<'a> = Option<(&'a Map<String, Value>, &'a Map<String, Value>)>;

/// The columns a version is read from.
const COLUMNS: &str = "id, agent_id, version, dna, traits, karma_score, source, parent_snapshot_id, reason, created_at, delta";

/// One DNA version of an agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// The global id.
    pub id: u64,
    /// The agent.
    pub agent_id: String,
    /// The agent's version (1, 2, ...).
    pub version: u32,
    /// The DNA.
    pub dna: Map<String, Value>,
    /// The traits.
    pub traits: Map<String, Value>,
    /// The KARMA score (reset by a new snapshot, carried over by a mutation).
    pub karma_score: Option<f64>,
    /// When (epoch seconds).
    pub created_at: f64,
    /// Where it came from and why.
    pub meta: SnapshotMeta,
}

/// The snapshot's provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotMeta {
    /// Why.
    pub reason: Option<String>,
    /// `manual` or `mutation`.
    pub source: SnapshotSource,
    /// The previous version's id.
    pub parent_snapshot_id: Option<u64>,
}

/// The dna service.
#[derive(Debug)]
pub struct DnaService {
    events: EventStream,
}

fn source_str(s: SnapshotSource) -> &'static str {
    match s {
        SnapshotSource::Manual => "manual",
        SnapshotSource::System => "system",
        SnapshotSource::Mutation => "mutation",
    }
}

impl DnaService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Stores a new version with `dna` and `traits` as given (`dna.snapshot_created`).
    ///
    /// # Errors
    /// [`DnaError::Concurrent`], [`DnaError::Store`].
    pub async fn snapshot(
        &self,
        origin: &Origin,
        agent_id: &str,
        dna: Map<String, Value>,
        traits: Map<String, Value>,
        reason: Option<String>,
    ) -> Result<Snapshot, DnaError> {
        let mut tx = self.events.store().begin().await?;
        let latest = latest(&mut tx, origin.tenant(), agent_id).await?;
        let snap =
            self.insert(&mut tx, origin, agent_id, latest.as_ref(), (dna, traits, None), None, SnapshotSource::Manual, reason).await?;
        let event = DnaSnapshotCreated {
            snapshot_id: snap.id,
            agent_id: agent_id.to_owned(),
            version: snap.version,
            source: SnapshotSource::Manual,
            parent_snapshot_id: snap.meta.parent_snapshot_id,
            dna_size: u32::try_from(snap.dna.len()).unwrap_or(u32::MAX),
            traits_count: u32::try_from(snap.traits.len()).unwrap_or(u32::MAX),
            created_at: snap.created_at,
            reason: snap.meta.reason.clone(),
        };
        self.commit(tx, origin.stamp(event.to_event())).await?;
        Ok(snap)
    }

    /// Derives a new version from the latest: `mutation` keys override DNA keys, `traits_delta` keys
    /// override traits; the KARMA score is carried over (`dna.mutation_applied`).
    ///
    /// # Errors
    /// [`DnaError::NotFound`], [`DnaError::Concurrent`], [`DnaError::Store`].
    pub async fn mutate(
        &self,
        origin: &Origin,
        agent_id: &str,
        mutation: Map<String, Value>,
        traits_delta: Map<String, Value>,
        reason: Option<String>,
    ) -> Result<Snapshot, DnaError> {
        let mut tx = self.events.store().begin().await?;
        let base = latest(&mut tx, origin.tenant(), agent_id).await?.ok_or_else(|| DnaError::NotFound(agent_id.to_owned()))?;
        let mut dna = base.dna.clone();
        for (k, v) in &mutation {
            dna.insert(k.clone(), v.clone());
        }
        let mut traits = base.traits.clone();
        for (k, v) in &traits_delta {
            traits.insert(k.clone(), v.clone());
        }
        for (field, map) in [("mutation", &dna), ("traits_delta", &traits)] {
            let bytes = serde_json::to_vec(map).map_or(usize::MAX, |b| b.len());
            if bytes > MAX_DNA_BYTES {
                return Err(DnaError::TooLarge { agent: agent_id.to_owned(), field, bytes });
            }
        }
        let change = (base.version + 1) % FULL_EVERY != 0;
        let stored = change.then_some((&mutation, &traits_delta));
        let snap = self
            .insert(&mut tx, origin, agent_id, Some(&base), (dna, traits, stored), base.karma_score, SnapshotSource::Mutation, reason)
            .await?;
        let event = DnaMutationApplied {
            snapshot_id: snap.id,
            agent_id: agent_id.to_owned(),
            version: snap.version,
            parent_snapshot_id: base.id,
            mutation_keys: mutation.keys().cloned().collect(),
            traits_delta,
            created_at: snap.created_at,
            reason: snap.meta.reason.clone(),
        };
        self.commit(tx, origin.stamp(event.to_event())).await?;
        Ok(snap)
    }

    /// Sets the KARMA score of the latest snapshot in place (`dna.karma_updated`, with the previous score
    /// and the delta when there was one).
    ///
    /// # Errors
    /// [`DnaError::NotFound`], [`DnaError::Store`].
    pub async fn update_karma(&self, origin: &Origin, agent_id: &str, score: f64) -> Result<Snapshot, DnaError> {
        let mut tx = self.events.store().begin().await?;
        let mut snap = latest(&mut tx, origin.tenant(), agent_id).await?.ok_or_else(|| DnaError::NotFound(agent_id.to_owned()))?;
        sqlx::query("UPDATE dna_snapshots SET karma_score = $1 WHERE id = $2")
            .bind(score)
            .bind(i64::try_from(snap.id).unwrap_or(i64::MAX))
            .execute(tx.conn())
            .await
            .map_err(db("updating a KARMA score"))?;
        let previous = snap.karma_score;
        snap.karma_score = Some(score);
        let event = DnaKarmaUpdated {
            snapshot_id: snap.id,
            agent_id: agent_id.to_owned(),
            version: snap.version,
            karma_score: score,
            updated_at: crate::web::now_secs(),
            previous_score: previous,
            score_delta: previous.map(|p| score - p),
        };
        self.commit(tx, origin.stamp(event.to_event())).await?;
        Ok(snap)
    }

    /// A page of the agent's versions, oldest first: `page.limit` versions after version `page.after`,
    /// and the next page's cursor (the page's last version) when more follow.
    ///
    /// # Errors
    /// [`DnaError::NotFound`] when the agent has no version, [`DnaError::Store`].
    pub(crate) async fn history(&self, tenant: &str, agent_id: &str, page: Page) -> Result<(Vec<Snapshot>, Option<String>), DnaError> {
        let mut tx = self.events.store().begin().await?;
        let Some(newest) = newest_version(&mut tx, tenant, agent_id).await? else {
            return Err(DnaError::NotFound(agent_id.to_owned()));
        };
        let first = page.after.unwrap_or(0).saturating_add(1);
        let last = first.saturating_add(page.fetch() - 1).min(newest);
        let mut snaps = if first > newest { Vec::new() } else { versions(&mut tx, tenant, agent_id, first, last).await? };
        tx.commit().await?;
        let next = page.finish(&mut snaps, |s| i64::from(s.version));
        Ok((snaps, next))
    }

    /// Stores version `parent + 1` (1 without a parent). `content` is the version's whole DNA and traits
    /// and, for a mutation stored as its change, the keys it set; the row holds the change then, the
    /// whole version otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn insert(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        agent_id: &str,
        parent: Option<&Snapshot>,
        content: (Map<String, Value>, Map<String, Value>, SetKeys<'_>),
        karma: Option<f64>,
        source: SnapshotSource,
        reason: Option<String>,
    ) -> Result<Snapshot, DnaError> {
        let (dna, traits, change) = content;
        let id = next_counter(tx, "dna_snapshot_id").await?;
        let version = parent.map_or(1, |p| p.version + 1);
        let now = now_ms();
        let (stored_dna, stored_traits, delta) = match change {
            Some((d, t)) => (Value::Object(d.clone()).to_string(), Value::Object(t.clone()).to_string(), 1_i64),
            None => (Value::Object(dna.clone()).to_string(), Value::Object(traits.clone()).to_string(), 0),
        };
        let done = sqlx::query(
            "INSERT INTO dna_snapshots (id, tenant, agent_id, version, dna, traits, karma_score, source, parent_snapshot_id, reason, \
             created_at, delta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(origin.tenant().to_owned())
        .bind(agent_id.to_owned())
        .bind(i64::from(version))
        .bind(stored_dna)
        .bind(stored_traits)
        .bind(karma)
        .bind(source_str(source))
        .bind(parent.map(|p| i64::try_from(p.id).unwrap_or(i64::MAX)))
        .bind(reason.clone())
        .bind(now)
        .bind(delta)
        .execute(tx.conn())
        .await;
        match done {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(DnaError::Concurrent(agent_id.to_owned())),
            Err(e) => return Err(StoreError::sqlx("storing a DNA snapshot", e).into()),
        }
        Ok(Snapshot {
            id: u64::try_from(id).unwrap_or(0),
            agent_id: agent_id.to_owned(),
            version,
            dna,
            traits,
            karma_score: karma,
            created_at: ms_to_secs(now),
            meta: SnapshotMeta { reason, source, parent_snapshot_id: parent.map(|p| p.id) },
        })
    }

    async fn commit(&self, mut tx: Tx, event: Event) -> Result<(), StoreError> {
        self.events.outbox_in_tx(&mut tx, &[event]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }
}

/// The agent's newest version number, `None` when it has none.
async fn newest_version(tx: &mut Tx, tenant: &str, agent_id: &str) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT MAX(version) FROM dna_snapshots WHERE tenant = $1 AND agent_id = $2")
        .bind(tenant.to_owned())
        .bind(agent_id.to_owned())
        .fetch_one(tx.conn())
        .await
        .map_err(db("reading a DNA version"))?;
    row.try_get::<Option<i64>, _>(0).map_err(db("reading a DNA version"))
}

/// The agent's newest version, whole.
async fn latest(tx: &mut Tx, tenant: &str, agent_id: &str) -> Result<Option<Snapshot>, StoreError> {
    let Some(newest) = newest_version(tx, tenant, agent_id).await? else { return Ok(None) };
    Ok(versions(tx, tenant, agent_id, newest, newest).await?.pop())
}

/// Versions `first..=last` of the agent, whole: the rows from the nearest full version at or before
/// `first`, each change folded onto the versions before it.
async fn versions(tx: &mut Tx, tenant: &str, agent_id: &str, first: i64, last: i64) -> Result<Vec<Snapshot>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dna_snapshots WHERE tenant = $1 AND agent_id = $2 AND version <= $4 AND version >= \
         COALESCE((SELECT MAX(version) FROM dna_snapshots WHERE tenant = $1 AND agent_id = $2 AND version <= $3 \
         AND COALESCE(delta, 0) = 0), 1) ORDER BY version"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_owned())
        .bind(agent_id.to_owned())
        .bind(first)
        .bind(last)
        .fetch_all(tx.conn())
        .await
        .map_err(db("reading DNA versions"))?;
    let mut out = Vec::new();
    let mut state: Option<(Map<String, Value>, Map<String, Value>)> = None;
    for row in &rows {
        let (mut snap, is_change) = snapshot_from_row(row)?;
        if let (true, Some((dna, traits))) = (is_change, state.as_ref()) {
            let mut whole_dna = dna.clone();
            whole_dna.extend(std::mem::take(&mut snap.dna));
            let mut whole_traits = traits.clone();
            whole_traits.extend(std::mem::take(&mut snap.traits));
            snap.dna = whole_dna;
            snap.traits = whole_traits;
        }
        state = Some((snap.dna.clone(), snap.traits.clone()));
        if i64::from(snap.version) >= first {
            out.push(snap);
        }
    }
    Ok(out)
}

/// A row as it is stored, and whether it holds a change (to fold onto the version before it).
fn snapshot_from_row(r: &AnyRow) -> Result<(Snapshot, bool), StoreError> {
    let e = || db("reading a DNA snapshot");
    let obj = |s: String| match serde_json::from_str(&s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let id: i64 = r.try_get(0).map_err(e())?;
    let version: i64 = r.try_get(2).map_err(e())?;
    let source: String = r.try_get(6).map_err(e())?;
    let parent: Option<i64> = r.try_get(7).map_err(e())?;
    let created: i64 = r.try_get(9).map_err(e())?;
    let delta: Option<i64> = r.try_get(10).map_err(e())?;
    let source = match source.as_str() {
        "mutation" => SnapshotSource::Mutation,
        "system" => SnapshotSource::System,
        _ => SnapshotSource::Manual,
    };
    let snap = Snapshot {
        id: u64::try_from(id).unwrap_or(0),
        agent_id: r.try_get(1).map_err(e())?,
        version: u32::try_from(version).unwrap_or(0),
        dna: obj(r.try_get(3).map_err(e())?),
        traits: obj(r.try_get(4).map_err(e())?),
        karma_score: r.try_get(5).map_err(e())?,
        created_at: ms_to_secs(created),
        meta: SnapshotMeta { reason: r.try_get(8).map_err(e())?, source, parent_snapshot_id: parent.and_then(|p| u64::try_from(p).ok()) },
    };
    Ok((snap, delta.unwrap_or(0) != 0))
}
