//! The `course_distribution` subscriber (CD-C1, CD-C2; hops A2 and A4 of the course chain): a generated
//! course gets a private root distribution, and a staging deploy is recorded on the course's
//! distributions. Everything runs in the inbox transaction `ctx.tx`, and the events it causes carry
//! `causation_id` = the consumed event's id, so a redelivery never has a second effect.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use brain_events::EventPayload;
use brain_events::course::{CourseDeployedStaging, CourseGenerationCompleted};
use brain_events::distribution::DistributionUpdated;
use brain_events::{Catalog, consumers};
use eventstream::store::sqlx::{self, Row};
use eventstream::{EventStream, Handler, HandlerContext, HandlerError};
use eventstream_core::{Event, TenantId};
use serde_json::{Map, Value, json};

use super::error::DistributionError;
use super::model::{
    Cta, DESCRIPTION_MAX, DESCRIPTION_MIN, SLUG_MAX, SLUG_MIN, Seo, TITLE_MAX, TITLE_MIN, cut, fit, is_language, slugify, with_suffix,
};
use super::service::{NewDistribution, insert_in, iso, new_id};
use crate::web::{Origin, now_ms};

/// How many times the consumer looks for a free slug before giving up (transiently: only concurrent
/// creates of the same slugs can make it lose that often).
const SLUG_ATTEMPTS: usize = 8;

/// Target groups of an automatic distribution, and the longest one kept.
const MAX_GROUPS: usize = 50;
const MAX_GROUP_CHARS: usize = 200;

/// The subscriber [`consumers::COURSE_DISTRIBUTION`].
pub(crate) struct CourseEvents {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) events: EventStream,
}

/// The type patterns it subscribes to.
pub(crate) const PATTERNS: [&str; 2] = [CourseGenerationCompleted::TYPE, CourseDeployedStaging::TYPE];

/// Its name.
pub(crate) const NAME: &str = consumers::COURSE_DISTRIBUTION;

fn permanent(e: impl std::error::Error + Send + Sync + 'static) -> HandlerError {
    HandlerError::Permanent(Box::new(e))
}

#[async_trait]
impl Handler for CourseEvents {
    async fn handle(&self, ctx: &mut HandlerContext<'_>, event: &Event) -> Result<(), HandlerError> {
        let tenant = event.tenant_id.clone().unwrap_or_else(TenantId::default_tenant);
        let origin = Origin::background(tenant, event.correlation_id.clone());
        let t = event.event_type.as_str();
        let mut out = if t == CourseGenerationCompleted::TYPE {
            let p: CourseGenerationCompleted = self.catalog.decode(event).map_err(permanent)?;
            completed(ctx, &origin, event, p).await?
        } else if t == CourseDeployedStaging::TYPE {
            let p: CourseDeployedStaging = self.catalog.decode(event).map_err(permanent)?;
            deployed(ctx, &origin, p).await?
        } else {
            Vec::new()
        };
        if out.is_empty() {
            return Ok(());
        }
        for e in &mut out {
            e.causation_id = Some(event.id.as_str().to_owned());
        }
        self.events.outbox_in_tx(ctx.tx, &out).await?;
        self.events.wake_relay();
        Ok(())
    }
}

/// A failure of the store is what the store says it is (transient or not); anything else about a row
/// this version wrote is permanent.
fn store_failure(e: DistributionError) -> HandlerError {
    match e {
        DistributionError::Store(s) => s.into(),
        other => permanent(other),
    }
}

/// The slug of a course without a usable title: `course-` and its id in slug form.
fn fallback_slug(course_id: &str) -> String {
    let words: String = course_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    let id = words.split_whitespace().collect::<Vec<_>>().join("-");
    fit(&format!("course-{id}"), SLUG_MAX)
}

/// `text` within `min..=max` characters: cut to `max`, padded with `pad` when shorter than `min`.
fn bounded(text: &str, min: usize, max: usize, pad: &str) -> String {
    let mut s = cut(text.trim(), max);
    if s.chars().count() < min {
        s = cut(&format!("{s}{pad}"), max);
    }
    s
}

/// CD-C1: a private root distribution for a generated course, unless it was a dry run (D-10) or the
/// course already has one (a root distribution in the tenant, or an earlier completion's claim).
async fn completed(
    ctx: &mut HandlerContext<'_>,
    origin: &Origin,
    event: &Event,
    p: CourseGenerationCompleted,
) -> Result<Vec<Event>, HandlerError> {
    if p.dry_run == Some(true) {
        return Ok(Vec::new());
    }
    let (Some(title), Some(description), Some(language), Some(audiences)) = (p.title, p.description, p.language, p.target_audiences) else {
        return Err(HandlerError::permanent(format!(
            "course {}: the completion lacks title, description, language or target_audiences (an event from before they were \
             produced); no distribution can be made from it",
            p.course_id
        )));
    };
    if crate::web::check_id("course_id", &p.course_id).is_err() {
        return Err(HandlerError::permanent(format!("course id `{}` is not a valid identifier", p.course_id)));
    }
    if !is_language(&language) {
        return Err(HandlerError::permanent(format!("course {}: language `{language}` is not like `de` or `en-US`", p.course_id)));
    }
    let tenant = origin.tenant().to_owned();
    let now = now_ms();
    let distribution_id = new_id();

    // The claim: one automatic root distribution per course, ever (so a redelivery, a second completion
    // or a replay with --reprocess after the distribution was deleted makes none).
    let claimed = sqlx::query(
        "INSERT INTO course_distribution_roots (tenant, course_id, distribution_id, event_id, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant, course_id) DO NOTHING",
    )
    .bind(tenant.clone())
    .bind(p.course_id.clone())
    .bind(distribution_id.clone())
    .bind(event.id.as_str().to_owned())
    .bind(now)
    .execute(ctx.tx.conn())
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(Vec::new());
    }
    let existing = sqlx::query(
        "SELECT distribution_id FROM course_distributions WHERE tenant = $1 AND course_id = $2 AND derived_from IS NULL \
         ORDER BY created_at, distribution_id LIMIT 1",
    )
    .bind(tenant.clone())
    .bind(p.course_id.clone())
    .fetch_optional(ctx.tx.conn())
    .await?;
    if let Some(row) = existing {
        let id: String = row.try_get(0)?;
        sqlx::query("UPDATE course_distribution_roots SET distribution_id = $1 WHERE tenant = $2 AND course_id = $3")
            .bind(id)
            .bind(tenant.clone())
            .bind(p.course_id.clone())
            .execute(ctx.tx.conn())
            .await?;
        return Ok(Vec::new());
    }

    let title = bounded(&title, TITLE_MIN, TITLE_MAX, " - Comprehensive Course");
    let description = bounded(&description, DESCRIPTION_MIN, DESCRIPTION_MAX, " This comprehensive course provides detailed insights.");
    let target_group: Vec<String> =
        audiences.iter().map(|a| cut(a.trim(), MAX_GROUP_CHARS)).filter(|a| !a.is_empty()).take(MAX_GROUPS).collect();
    let base = slugify(&title).unwrap_or_else(|| fallback_slug(&p.course_id));
    let mut d = NewDistribution {
        distribution_id,
        course_id: p.course_id,
        slug: base.clone(),
        language,
        seo: Seo::default_for(&title, &description),
        title,
        description,
        target_group,
        version: "v1".into(),
        derived_from: None,
        cta: Cta::default_open_course(),
    };
    let mut tried = HashSet::new();
    for _ in 0..SLUG_ATTEMPTS {
        d.slug = free_slug(ctx, &tenant, &base, &tried).await?;
        if insert_in(ctx.tx, &tenant, &d, now).await.map_err(store_failure)? {
            return Ok(vec![d.created_event(origin, now)]);
        }
        tried.insert(d.slug.clone());
    }
    Err(HandlerError::transient(format!("no free slug for `{base}` after {SLUG_ATTEMPTS} attempts")))
}

/// The first of `base`, `base-2`, `base-3`, ... not taken in the tenant (CD-C1; the original retried a
/// duplicate slug forever).
async fn free_slug(ctx: &mut HandlerContext<'_>, tenant: &str, base: &str, tried: &HashSet<String>) -> Result<String, HandlerError> {
    // The slugs that could collide: `base` and `base-N`, also cut shorter to fit the suffix.
    let stem = fit(base, SLUG_MAX.saturating_sub(8).max(SLUG_MIN));
    let rows = sqlx::query("SELECT slug FROM course_distributions WHERE tenant = $1 AND (slug = $2 OR slug LIKE $3)")
        .bind(tenant.to_owned())
        .bind(base.to_owned())
        .bind(format!("{stem}%"))
        .fetch_all(ctx.tx.conn())
        .await?;
    let mut taken: HashSet<String> = rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect();
    taken.extend(tried.iter().cloned());
    let mut n = 1u32;
    loop {
        let candidate = with_suffix(base, n);
        if !taken.contains(&candidate) {
            return Ok(candidate);
        }
        n += 1;
    }
}

/// CD-C2: the staging URL and time on every distribution of the course in the tenant, with one
/// `distribution.updated` per distribution that changed; a repeat changes nothing and emits nothing.
async fn deployed(ctx: &mut HandlerContext<'_>, origin: &Origin, p: CourseDeployedStaging) -> Result<Vec<Event>, HandlerError> {
    let at = eventstream_core::parse_timestamp(&p.deployed_at)
        .map_err(|why| HandlerError::permanent(format!("deployed_at `{}` {why}", p.deployed_at)))?;
    let at_ms = at.timestamp_millis();
    let rows = sqlx::query(
        "SELECT distribution_id, staging_url, staging_deployed_at FROM course_distributions WHERE tenant = $1 AND course_id = $2 \
         ORDER BY created_at, distribution_id",
    )
    .bind(origin.tenant().to_owned())
    .bind(p.course_id.clone())
    .fetch_all(ctx.tx.conn())
    .await?;
    let now = now_ms();
    let mut out = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        let old_url: Option<String> = row.try_get(1)?;
        let old_at: Option<i64> = row.try_get(2)?;
        if old_url.as_deref() == Some(p.staging_url.as_str()) && old_at == Some(at_ms) {
            continue;
        }
        sqlx::query(
            "UPDATE course_distributions SET staging_url = $1, staging_deployed_at = $2, updated_at = $3 \
             WHERE tenant = $4 AND distribution_id = $5",
        )
        .bind(p.staging_url.clone())
        .bind(at_ms)
        .bind(now)
        .bind(origin.tenant().to_owned())
        .bind(id.clone())
        .execute(ctx.tx.conn())
        .await?;
        let mut old_values = Map::new();
        old_values.insert("staging_url".into(), json!(old_url));
        old_values.insert("staging_deployed_at".into(), old_at.map_or(Value::Null, |ms| json!(iso(ms))));
        let mut new_values = Map::new();
        new_values.insert("staging_url".into(), json!(p.staging_url));
        new_values.insert("staging_deployed_at".into(), json!(iso(at_ms)));
        out.push(
            origin.stamp(
                DistributionUpdated {
                    distribution_id: id,
                    updated_fields: vec!["staging_url".into(), "staging_deployed_at".into()],
                    old_values,
                    new_values,
                    updated_at: iso(now),
                }
                .to_event(),
            ),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::course_distribution::model::check_slug;

    #[test]
    fn fallback_slugs_are_valid() {
        assert_eq!(fallback_slug("course_7f3a"), "course-course-7f3a");
        assert_eq!(fallback_slug("___"), "course");
        assert!(check_slug("slug", &fallback_slug(&"x".repeat(128))).is_ok());
    }

    #[test]
    fn texts_are_bounded() {
        assert_eq!(bounded("Kurs", 10, 200, " - Comprehensive Course"), "Kurs - Comprehensive Course");
        assert_eq!(bounded(&"d".repeat(1500), 50, 1000, "x").chars().count(), 1000);
    }
}
