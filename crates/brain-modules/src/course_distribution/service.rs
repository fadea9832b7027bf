//! The distribution store: every state change and its events in one transaction, counters by
//! `UPDATE ... RETURNING` (CD-F1), slugs unique per tenant by a unique index.

use brain_events::EventPayload;
use brain_events::distribution::{
    DistributionCreated, DistributionDeleted, DistributionEnrollmentClicked, DistributionMicroNicheCreated, DistributionPublished,
    DistributionUnpublished, DistributionUpdated, DistributionVersionBumped, DistributionViewed, SeoSummary, Visibility,
};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::error::DistributionError;
use super::model::{
    CreateRequest, Cta, Distribution, MicroNicheRequest, PublicDetail, PublicListItem, Seo, UpdateRequest, bump_version, check_description,
    check_title,
};
use crate::sql::{db, is_unique_violation};
use crate::web::{Origin, ms_to_secs, now_ms};

/// The columns of a distribution row, in the order [`from_row`] reads them.
const COLUMNS: &str = "distribution_id, course_id, slug, language, title, description, target_group, version, derived_from, seo, cta, \
                       visibility, published_at, created_at, updated_at, view_count, enrollment_count, staging_url, staging_deployed_at";

/// Epoch milliseconds as RFC 3339 with `Z` (the payload time format, X-3).
pub(super) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| eventstream_core::format_timestamp(&t)).unwrap_or_default()
}

/// A fresh distribution id: `dist_` + 16 hex characters.
pub(super) fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    format!("dist_{}", hex::encode(bytes))
}

fn parse_visibility(s: &str) -> Visibility {
    match s {
        "public" => Visibility::Public,
        "unlisted" => Visibility::Unlisted,
        _ => Visibility::Private,
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<String, DistributionError> {
    serde_json::to_string(v).map_err(DistributionError::Corrupt)
}

fn from_row(r: &AnyRow) -> Result<Distribution, DistributionError> {
    let e = || db("reading a distribution");
    let text = |i: usize| -> Result<String, DistributionError> { Ok(r.try_get::<String, _>(i).map_err(e())?) };
    let count = |i: usize| -> Result<u64, DistributionError> { Ok(u64::try_from(r.try_get::<i64, _>(i).map_err(e())?).unwrap_or(0)) };
    let published: Option<i64> = r.try_get(12).map_err(e())?;
    let deployed: Option<i64> = r.try_get(18).map_err(e())?;
    Ok(Distribution {
        distribution_id: text(0)?,
        course_id: text(1)?,
        slug: text(2)?,
        language: text(3)?,
        title: text(4)?,
        description: text(5)?,
        target_group: serde_json::from_str(&text(6)?).map_err(DistributionError::Corrupt)?,
        version: text(7)?,
        derived_from: r.try_get(8).map_err(e())?,
        seo: serde_json::from_str(&text(9)?).map_err(DistributionError::Corrupt)?,
        cta: serde_json::from_str(&text(10)?).map_err(DistributionError::Corrupt)?,
        visibility: parse_visibility(&text(11)?),
        published_at: published.map(ms_to_secs),
        created_at: ms_to_secs(r.try_get(13).map_err(e())?),
        updated_at: ms_to_secs(r.try_get(14).map_err(e())?),
        view_count: count(15)?,
        enrollment_count: count(16)?,
        staging_url: r.try_get(17).map_err(e())?,
        staging_deployed_at: deployed.map(ms_to_secs),
    })
}

/// A distribution to insert.
#[derive(Debug, Clone)]
pub(super) struct NewDistribution {
    pub(super) distribution_id: String,
    pub(super) course_id: String,
    pub(super) slug: String,
    pub(super) language: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) target_group: Vec<String>,
    pub(super) version: String,
    pub(super) derived_from: Option<String>,
    pub(super) seo: Seo,
    pub(super) cta: Cta,
}

impl NewDistribution {
    /// Its `distribution.created` event (private at creation), stamped by `origin`.
    pub(super) fn created_event(&self, origin: &Origin, at_ms: i64) -> Event {
        origin.stamp(
            DistributionCreated {
                distribution_id: self.distribution_id.clone(),
                course_id: self.course_id.clone(),
                slug: self.slug.clone(),
                language: self.language.clone(),
                title: self.title.clone(),
                target_group: self.target_group.clone(),
                visibility: Visibility::Private,
                version: self.version.clone(),
                derived_from: self.derived_from.clone(),
                created_at: iso(at_ms),
            }
            .to_event(),
        )
    }
}

/// Inserts `d` (private, no counts) inside `tx`; `false` when its slug is taken in the tenant. Never a
/// unique violation on the slug, so a PostgreSQL transaction stays usable (the consumer then tries
/// the next suffix).
pub(super) async fn insert_in(tx: &mut Tx, tenant: &str, d: &NewDistribution, now: i64) -> Result<bool, DistributionError> {
    let done = sqlx::query(
        "INSERT INTO course_distributions (tenant, distribution_id, course_id, slug, language, title, description, target_group, \
         version, derived_from, seo, cta, visibility, published_at, created_at, updated_at, view_count, enrollment_count, staging_url, \
         staging_deployed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'private', NULL, $13, $14, 0, 0, NULL, NULL) \
         ON CONFLICT (tenant, slug) DO NOTHING",
    )
    .bind(tenant.to_owned())
    .bind(d.distribution_id.clone())
    .bind(d.course_id.clone())
    .bind(d.slug.clone())
    .bind(d.language.clone())
    .bind(d.title.clone())
    .bind(d.description.clone())
    .bind(to_json(&d.target_group)?)
    .bind(d.version.clone())
    .bind(d.derived_from.clone())
    .bind(to_json(&d.seo)?)
    .bind(to_json(&d.cta)?)
    .bind(now)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(db("inserting a distribution"))?;
    Ok(done.rows_affected() == 1)
}

/// Locks and reads a distribution inside `tx` (a no-op `UPDATE ... RETURNING`: it takes the row lock on
/// PostgreSQL; SQLite transactions are serialised already), so a read-modify-write cannot lose an update.
async fn lock_row(tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<Distribution>, DistributionError> {
    let sql =
        format!("UPDATE course_distributions SET updated_at = updated_at WHERE tenant = $1 AND distribution_id = $2 RETURNING {COLUMNS}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await
        .map_err(db("locking a distribution"))?;
    row.as_ref().map(from_row).transpose()
}

/// The slug of distribution `id`, if it exists.
async fn slug_of(tx: &mut Tx, tenant: &str, id: &str) -> Result<Option<String>, DistributionError> {
    let row = sqlx::query("SELECT slug FROM course_distributions WHERE tenant = $1 AND distribution_id = $2")
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .fetch_optional(tx.conn())
        .await
        .map_err(db("reading a slug"))?;
    Ok(row.map(|r| r.try_get::<String, _>(0)).transpose().map_err(db("reading a slug"))?)
}

fn not_found(id: &str, field: &'static str) -> DistributionError {
    DistributionError::NotFound { id: id.to_owned(), field }
}

/// What a view or an enrollment click counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    View,
    Enrollment,
}

/// The course_distribution service.
#[derive(Debug)]
pub struct DistributionService {
    events: EventStream,
}

impl DistributionService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Commits `tx` with `events` in the outbox and wakes the relay.
    async fn commit(&self, mut tx: Tx, events: &[Event]) -> Result<(), DistributionError> {
        self.events.outbox_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }

    /// Whether the state store answers.
    pub async fn healthy(&self) -> bool {
        self.events.store().ping().await.is_ok()
    }

    /// Creates a private distribution and writes `distribution.created` (CD-R6).
    ///
    /// # Errors
    /// [`DistributionError::SlugTaken`], [`DistributionError::Store`].
    pub async fn create(&self, origin: &Origin, req: CreateRequest) -> Result<Distribution, DistributionError> {
        let d = NewDistribution {
            distribution_id: new_id(),
            course_id: req.course_id,
            slug: req.slug,
            language: req.language,
            title: req.title,
            description: req.description,
            target_group: req.target_group,
            version: req.version,
            derived_from: None,
            seo: req.seo,
            cta: req.cta,
        };
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        if !insert_in(&mut tx, origin.tenant(), &d, now).await? {
            return Err(DistributionError::SlugTaken { slug: d.slug, field: "slug" });
        }
        let event = d.created_event(origin, now);
        self.commit(tx, &[event]).await?;
        self.get(origin.tenant(), &d.distribution_id).await
    }

    /// One distribution of the tenant.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`], [`DistributionError::Store`].
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Distribution, DistributionError> {
        let sql = format!("SELECT {COLUMNS} FROM course_distributions WHERE tenant = $1 AND distribution_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(self.events.store().pool())
            .await
            .map_err(db("reading a distribution"))?;
        row.as_ref().map(from_row).transpose()?.ok_or_else(|| not_found(id, "distribution_id"))
    }

    /// Makes a distribution public with `published_at = now` and writes `distribution.published` (CD-R7).
    ///
    /// # Errors
    /// [`DistributionError::NotFound`], [`DistributionError::Store`].
    pub async fn publish(&self, origin: &Origin, id: &str) -> Result<Distribution, DistributionError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let sql = format!(
            "UPDATE course_distributions SET visibility = 'public', published_at = $1, updated_at = $2 \
             WHERE tenant = $3 AND distribution_id = $4 RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(now)
            .bind(origin.tenant().to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("publishing a distribution"))?;
        let d = row.as_ref().map(from_row).transpose()?.ok_or_else(|| not_found(id, "distribution_id"))?;
        let event = origin.stamp(
            DistributionPublished {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                course_id: d.course_id.clone(),
                title: d.title.clone(),
                language: d.language.clone(),
                target_group: d.target_group.clone(),
                seo: SeoSummary {
                    meta_title: d.seo.meta_title.clone(),
                    meta_description: d.seo.meta_description.clone(),
                    meta_keywords: d.seo.keywords.clone(),
                },
                published_at: iso(now),
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        Ok(d)
    }

    /// Makes a distribution private (keeping `published_at`) and writes `distribution.unpublished`. An
    /// already private distribution is left as it is, without an event. Returns the distribution and
    /// whether it changed.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`] (the original answered 200 for any id), [`DistributionError::Store`].
    pub async fn unpublish(&self, origin: &Origin, id: &str) -> Result<(Distribution, bool), DistributionError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let sql = format!(
            "UPDATE course_distributions SET visibility = 'private', updated_at = $1 \
             WHERE tenant = $2 AND distribution_id = $3 AND visibility <> 'private' RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(origin.tenant().to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("unpublishing a distribution"))?;
        let Some(row) = row else {
            drop(tx);
            return Ok((self.get(origin.tenant(), id).await?, false));
        };
        let d = from_row(&row)?;
        let event = origin.stamp(
            DistributionUnpublished {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                unpublished_at: iso(now),
                reason: None,
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        Ok((d, true))
    }

    /// Derives a micro-niche variant of a distribution (CD-B4): title, description and target group from
    /// the overrides, else the parent's title and description and the request's target group; the
    /// parent's course and version; `derived_from` the parent. Writes the derivation record,
    /// `distribution.created` (the child) and then `distribution.micro_niche_created`.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`] (field `parent_distribution_id`), [`DistributionError::SlugTaken`]
    /// (field `new_slug`), [`DistributionError::Invalid`], [`DistributionError::Store`].
    pub async fn micro_niche(&self, origin: &Origin, req: MicroNicheRequest) -> Result<Distribution, DistributionError> {
        let tenant = origin.tenant();
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM course_distributions WHERE tenant = $1 AND distribution_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_owned())
            .bind(req.parent_distribution_id.clone())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("reading a distribution"))?;
        let parent =
            row.as_ref().map(from_row).transpose()?.ok_or_else(|| not_found(&req.parent_distribution_id, "parent_distribution_id"))?;
        let content = req.derived_content;
        let title = content.title_override.clone().unwrap_or_else(|| parent.title.clone());
        let description = content.description_override.clone().unwrap_or_else(|| parent.description.clone());
        // The parent's title and description met the parent's bounds; the child's are the same bounds,
        // so only an override can break them, and the request check covered those. Check anyway: a row
        // written by another version must not yield an invalid child.
        let invalid = |field: &'static str| move |e: brain_http::ApiError| DistributionError::Invalid { field, message: e.message };
        check_title("derived_content.title_override", &title).map_err(invalid("derived_content.title_override"))?;
        check_description("derived_content.description_override", &description).map_err(invalid("derived_content.description_override"))?;
        let child = NewDistribution {
            distribution_id: new_id(),
            course_id: parent.course_id.clone(),
            slug: req.new_slug,
            language: req.language,
            title,
            description,
            target_group: content.target_group_override.clone().unwrap_or(req.target_group),
            version: parent.version.clone(),
            derived_from: Some(parent.distribution_id.clone()),
            seo: req.seo,
            cta: req.cta,
        };
        if !insert_in(&mut tx, tenant, &child, now).await? {
            return Err(DistributionError::SlugTaken { slug: child.slug, field: "new_slug" });
        }
        sqlx::query(
            "INSERT INTO course_distribution_derivations (tenant, child_distribution_id, parent_distribution_id, derived_content, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.to_owned())
        .bind(child.distribution_id.clone())
        .bind(parent.distribution_id.clone())
        .bind(to_json(&content)?)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("recording a derivation"))?;
        let events = [
            child.created_event(origin, now),
            origin.stamp(
                DistributionMicroNicheCreated {
                    child_distribution_id: child.distribution_id.clone(),
                    parent_distribution_id: parent.distribution_id.clone(),
                    parent_slug: parent.slug.clone(),
                    child_slug: child.slug.clone(),
                    target_group_override: content.target_group_override.clone(),
                    title_override: child.title.clone(),
                    created_at: iso(now),
                }
                .to_event(),
            ),
        ];
        self.commit(tx, &events).await?;
        self.get(tenant, &child.distribution_id).await
    }

    /// Bumps the version (CD-B3) and writes `distribution.version_bumped`; returns the old and new versions.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`], [`DistributionError::InvalidVersion`] (`v1.2`),
    /// [`DistributionError::Store`].
    pub async fn bump(&self, origin: &Origin, id: &str) -> Result<(String, String), DistributionError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let d = lock_row(&mut tx, origin.tenant(), id).await?.ok_or_else(|| not_found(id, "distribution_id"))?;
        let new = bump_version(&d.version).ok_or_else(|| DistributionError::InvalidVersion(d.version.clone()))?;
        sqlx::query("UPDATE course_distributions SET version = $1, updated_at = $2 WHERE tenant = $3 AND distribution_id = $4")
            .bind(new.clone())
            .bind(now)
            .bind(origin.tenant().to_owned())
            .bind(id.to_owned())
            .execute(tx.conn())
            .await
            .map_err(db("bumping a version"))?;
        let event = origin.stamp(
            DistributionVersionBumped {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                old_version: d.version.clone(),
                new_version: new.clone(),
                bumped_at: iso(now),
                changelog: None,
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        Ok((d.version, new))
    }

    /// Changes the given fields (CD-B5) and writes `distribution.updated` with the changed fields and
    /// their old and new values, only when at least one changed.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`], [`DistributionError::SlugTaken`], [`DistributionError::Store`].
    pub async fn update(&self, origin: &Origin, id: &str, req: UpdateRequest) -> Result<Distribution, DistributionError> {
        let tenant = origin.tenant();
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let d = lock_row(&mut tx, tenant, id).await?.ok_or_else(|| not_found(id, "distribution_id"))?;
        let mut changed: Vec<(&'static str, Value, Value)> = Vec::new();
        let mut diff = |name: &'static str, old: Value, new: Option<Value>| {
            if let Some(new) = new
                && new != old
            {
                changed.push((name, old, new));
            }
        };
        diff("slug", json!(d.slug), req.slug.as_ref().map(|v| json!(v)));
        diff("language", json!(d.language), req.language.as_ref().map(|v| json!(v)));
        diff("title", json!(d.title), req.title.as_ref().map(|v| json!(v)));
        diff("description", json!(d.description), req.description.as_ref().map(|v| json!(v)));
        diff("target_group", json!(d.target_group), req.target_group.as_ref().map(|v| json!(v)));
        diff("seo", as_value(&d.seo), req.seo.as_ref().map(as_value));
        diff("cta", as_value(&d.cta), req.cta.as_ref().map(as_value));
        if changed.is_empty() {
            drop(tx);
            return Ok(d);
        }
        if let Some(slug) = &req.slug
            && changed.iter().any(|(n, ..)| *n == "slug")
        {
            let taken = sqlx::query("SELECT 1 FROM course_distributions WHERE tenant = $1 AND slug = $2")
                .bind(tenant.to_owned())
                .bind(slug.clone())
                .fetch_optional(tx.conn())
                .await
                .map_err(db("checking a slug"))?;
            if taken.is_some() {
                return Err(DistributionError::SlugTaken { slug: slug.clone(), field: "slug" });
            }
        }
        let pick = |name: &str, current: Value| changed.iter().find(|(n, ..)| *n == name).map(|(_, _, new)| new.clone()).unwrap_or(current);
        let text = |v: Value| v.as_str().map(str::to_owned).unwrap_or_default();
        let res = sqlx::query(
            "UPDATE course_distributions SET slug = $1, language = $2, title = $3, description = $4, target_group = $5, seo = $6, cta = $7, \
             updated_at = $8 WHERE tenant = $9 AND distribution_id = $10",
        )
        .bind(text(pick("slug", json!(d.slug))))
        .bind(text(pick("language", json!(d.language))))
        .bind(text(pick("title", json!(d.title))))
        .bind(text(pick("description", json!(d.description))))
        .bind(pick("target_group", json!(d.target_group)).to_string())
        .bind(pick("seo", as_value(&d.seo)).to_string())
        .bind(pick("cta", as_value(&d.cta)).to_string())
        .bind(now)
        .bind(tenant.to_owned())
        .bind(id.to_owned())
        .execute(tx.conn())
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(DistributionError::SlugTaken { slug: req.slug.unwrap_or_default(), field: "slug" });
            }
            Err(e) => return Err(StoreError::sqlx("updating a distribution", e).into()),
        }
        let mut old_values = Map::new();
        let mut new_values = Map::new();
        let mut fields = Vec::new();
        for (name, old, new) in changed {
            fields.push(name.to_owned());
            old_values.insert(name.to_owned(), old);
            new_values.insert(name.to_owned(), new);
        }
        let event = origin.stamp(
            DistributionUpdated {
                distribution_id: d.distribution_id.clone(),
                updated_fields: fields,
                old_values,
                new_values,
                updated_at: iso(now),
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        self.get(tenant, id).await
    }

    /// Deletes a distribution and its derivation record, and writes `distribution.deleted` with
    /// `deleted_by` the caller's key id.
    ///
    /// # Errors
    /// [`DistributionError::NotFound`], [`DistributionError::Store`].
    pub async fn delete(&self, origin: &Origin, id: &str) -> Result<Distribution, DistributionError> {
        let tenant = origin.tenant();
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let d = lock_row(&mut tx, tenant, id).await?.ok_or_else(|| not_found(id, "distribution_id"))?;
        for sql in [
            "DELETE FROM course_distributions WHERE tenant = $1 AND distribution_id = $2",
            "DELETE FROM course_distribution_derivations WHERE tenant = $1 AND child_distribution_id = $2",
        ] {
            sqlx::query(sql).bind(tenant.to_owned()).bind(id.to_owned()).execute(tx.conn()).await.map_err(db("deleting a distribution"))?;
        }
        let event = origin.stamp(
            DistributionDeleted {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                course_id: d.course_id.clone(),
                deleted_at: iso(now),
                deleted_by: origin.actor_id.clone(),
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        Ok(d)
    }

    /// The tenant's public, published distributions, newest publication first (CD-R1).
    ///
    /// # Errors
    /// [`DistributionError::Store`].
    pub async fn public_list(&self, tenant: &str, language: Option<&str>, limit: u32) -> Result<Vec<PublicListItem>, DistributionError> {
        let filter = if language.is_some() { " AND language = $3" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM course_distributions WHERE tenant = $1 AND visibility = 'public' AND published_at IS NOT NULL{filter} \
             ORDER BY published_at DESC, distribution_id LIMIT $2"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_owned()).bind(i64::from(limit));
        if let Some(l) = language {
            q = q.bind(l.to_owned());
        }
        let rows = q.fetch_all(self.events.store().pool()).await.map_err(db("listing distributions"))?;
        rows.iter()
            .map(|r| {
                let d = from_row(r)?;
                Ok(PublicListItem {
                    slug: d.slug,
                    language: d.language,
                    title: d.title,
                    description: d.description,
                    target_group: d.target_group,
                    version: d.version,
                    view_count: d.view_count,
                    enrollment_count: d.enrollment_count,
                    published_at: d.published_at,
                })
            })
            .collect()
    }

    /// The tenant's count of public, published distributions.
    ///
    /// # Errors
    /// [`DistributionError::Store`].
    pub async fn public_count(&self, tenant: &str) -> Result<u64, DistributionError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM course_distributions WHERE tenant = $1 AND visibility = 'public' AND published_at IS NOT NULL",
        )
        .bind(tenant.to_owned())
        .fetch_one(self.events.store().pool())
        .await
        .map_err(db("counting distributions"))?;
        let n: i64 = row.try_get(0).map_err(db("counting distributions"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A public distribution by slug, without counting a view (the outline).
    ///
    /// # Errors
    /// [`DistributionError::NotFound`] (field `slug`) when it is unknown, not public or not published;
    /// [`DistributionError::Store`].
    pub async fn public(&self, tenant: &str, slug: &str) -> Result<Distribution, DistributionError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM course_distributions WHERE tenant = $1 AND slug = $2 AND visibility = 'public' AND published_at IS NOT NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_owned())
            .bind(slug.to_owned())
            .fetch_optional(self.events.store().pool())
            .await
            .map_err(db("reading a distribution"))?;
        row.as_ref().map(from_row).transpose()?.ok_or_else(|| not_found(slug, "slug"))
    }

    /// Counts a view of a public distribution and writes `distribution.viewed` with the new count, in one
    /// transaction (CD-R2, CD-R5); returns the public view with the count including this view.
    ///
    /// # Errors
    /// As [`DistributionService::public`].
    pub async fn view(&self, origin: &Origin, slug: &str) -> Result<(Distribution, PublicDetail), DistributionError> {
        let (d, mut tx, now) = self.count(origin, slug, Counter::View).await?;
        let parent_slug = match &d.derived_from {
            Some(p) => slug_of(&mut tx, origin.tenant(), p).await?,
            None => None,
        };
        let event = origin.stamp(
            DistributionViewed {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                view_count: d.view_count,
                viewed_at: iso(now),
                referrer_category: None,
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        let detail = PublicDetail::of(&d, parent_slug);
        Ok((d, detail))
    }

    /// Counts an enrollment click on a public distribution and writes `distribution.enrollment_clicked`
    /// with the new count (CD-R4); returns the new count.
    ///
    /// # Errors
    /// As [`DistributionService::public`]: a private or unknown slug is 404 (D-9).
    pub async fn track_enrollment(&self, origin: &Origin, slug: &str) -> Result<u64, DistributionError> {
        let (d, tx, now) = self.count(origin, slug, Counter::Enrollment).await?;
        let event = origin.stamp(
            DistributionEnrollmentClicked {
                distribution_id: d.distribution_id.clone(),
                slug: d.slug.clone(),
                enrollment_count: d.enrollment_count,
                clicked_at: iso(now),
                cta_type: "primary_button".into(),
            }
            .to_event(),
        );
        self.commit(tx, &[event]).await?;
        Ok(d.enrollment_count)
    }

    /// Increments a counter of a public distribution in a new transaction (one `UPDATE ... RETURNING`,
    /// so concurrent requests each get their own count) and returns the row after it, still uncommitted.
    async fn count(&self, origin: &Origin, slug: &str, counter: Counter) -> Result<(Distribution, Tx, i64), DistributionError> {
        let set = match counter {
            Counter::View => "view_count = view_count + 1",
            Counter::Enrollment => "enrollment_count = enrollment_count + 1",
        };
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let sql = format!(
            "UPDATE course_distributions SET {set} WHERE tenant = $1 AND slug = $2 AND visibility = 'public' \
             AND published_at IS NOT NULL RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(origin.tenant().to_owned())
            .bind(slug.to_owned())
            .fetch_optional(tx.conn())
            .await
            .map_err(db("counting a distribution"))?;
        let d = row.as_ref().map(from_row).transpose()?.ok_or_else(|| not_found(slug, "slug"))?;
        Ok((d, tx, now))
    }
}

/// A JSON column's value, for the diff of an update (the types serialise infallibly).
fn as_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
