//! course_distribution: how generated courses are published (original-core-course-ir.md §4; spec items
//! CD-*). Public listing and pages with view and enrollment counts, publish/unpublish, micro-niche
//! variants, version bumps, and the `course_distribution` subscriber of the course chain.
//!
//! It owns `course_distributions` (one row per distribution, the slug unique per tenant),
//! `course_distribution_derivations` (the derivation record of each micro-niche variant) and
//! `course_distribution_roots` (the subscriber's claim: one automatic root distribution per course).
//! Every change writes its `distribution.*` event through the outbox in the same transaction.
//!
//! The subscriber ([`handlers`]) consumes `course.generation.completed` (a private root distribution,
//! `distribution.created`; hop A2) and `course.deployed.staging` (the staging URL and time on the
//! course's distributions, `distribution.updated`; hop A4), all in the inbox transaction with
//! `causation_id` = the consumed event.
//!
//! Departures from the original, each fixing a bug of the reference:
//! - The router works and is mounted (D1), and every route needs a key (D-1): public routes any role of
//!   the tenant, changes the writer role. Every row belongs to the key's tenant; another tenant's id or
//!   slug answers 404 (the original had no tenant at all, D6).
//! - State lives in SQL, not in JSON files with per-file locks (D4, CD-F1): the slug is unique per tenant
//!   by an index, so a duplicate is 409 `slug_taken` (field `slug`, or `new_slug` for a micro-niche; the
//!   original answered 400, or 404 for a micro-niche); counters are one `UPDATE ... RETURNING`, so
//!   concurrent views each get their own count; each test has its own store (no shared relative path).
//! - Publish emits `distribution.published` (D2: the original crashed after the state changed), with
//!   `meta_keywords` from `seo.keywords` and ISO times. Unpublish and publish of an unknown id are 404
//!   (D5); unpublishing a distribution that is not public changes nothing and emits nothing.
//! - The micro-niche parent field is `parent_distribution_id` (the old name `parent_course_id` is
//!   accepted); an unknown parent is 404 `distribution_not_found`, a taken slug 409.
//! - A version bump of a `v` version that is not a whole number (`v1.2`) is 422 `invalid_version` with
//!   field `version` (the original answered 500).
//! - New routes `GET`/`PATCH`/`DELETE /api/courses/distribution/{id}` (D6). PATCH changes slug, language,
//!   title, description, target_group, seo and cta, and emits `distribution.updated` only when a value
//!   changed; DELETE emits `distribution.deleted` with `deleted_by` = the caller's key id.
//! - Track-enrollment on a slug that is not public is 404 like the detail route (D-9; the original
//!   counted any visibility). `/page` is rendered here with every user string HTML-escaped, only
//!   `http(s)` or path links, and a script-free Content-Security-Policy. The outline stays the
//!   original's placeholder, marked `placeholder: true` (D-8).
//! - Payload times are RFC 3339 UTC with `Z` (X-3; the original wrote local time with a `Z`); response
//!   times stay epoch seconds as in the original's model, `staging_deployed_at` included.
//! - The subscriber (CD-F3, D3) runs on the runtime's inbox (the original's was never started, had no
//!   idempotency, and rejected every real payload):
//!   - a completion without title, description, language or target_audiences (an event from before they
//!     were produced) fails permanently and is dead-lettered; a `dry_run: true` completion makes nothing
//!     (D-10);
//!   - the slug follows the original's transliteration but always satisfies the slug rule (non-Latin
//!     letters and `_` are dropped, at most 100 characters; `course-<course id>` when fewer than 5
//!     characters remain); a taken slug gets `-2`, `-3`, ... (the original retried forever);
//!   - a title shorter than 10 characters or a description shorter than 50 is padded like the default
//!     SEO texts; the description is cut to 1000 (the course allows 2000);
//!   - the guard against a second root distribution works: a course gets at most one automatic
//!     distribution, ever (a claim row per tenant and course), and none when it already has a root
//!     distribution created over HTTP; so a redelivery, a second completion, or a replay with
//!     `--reprocess` after the distribution was deleted, creates nothing;
//!   - a staging deploy updates every distribution of the course in the tenant that exists when it is
//!     processed (as the original intended, CD-C2: variants share the course's staging copy), one
//!     `distribution.updated` each, and nothing when the values are already set (a repeat or redelivery).

mod api;
mod error;
pub(crate) mod handlers;
mod html;
pub mod model;
mod service;

pub(crate) use api::router;
pub use error::DistributionError;
pub use model::{Distribution, PublicDetail, PublicListItem};
pub use service::DistributionService;
