//! `distribution.*`: public course distributions (course_distribution).
//!
//! Reference: original-core-course-ir.md §4.4. Common envelope: `source = course_distribution`. The
//! original wrote `meta.schema_version` as the string `"1.0"` (read as 1 by the core) and payload
//! timestamps as ISO strings with a hand-appended `Z`; the timestamps stay ISO strings here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::consumers::COURSE_FACTORY;

/// Who can see a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed publicly.
    Public,
    /// Reachable by link only.
    Unlisted,
    /// Not visible (the state after create).
    #[default]
    Private,
}

/// A distribution was created (create, micro-niche derivation, or automatically from a generated course).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionCreated {
    /// The distribution id (`dist_` + 16 hex characters).
    pub distribution_id: String,
    /// The course it distributes.
    pub course_id: String,
    /// The URL slug.
    pub slug: String,
    /// The language (`de`, `en-US`, ...).
    pub language: String,
    /// The public title.
    pub title: String,
    /// The target groups.
    pub target_group: Vec<String>,
    /// The visibility (always `private` at creation).
    pub visibility: Visibility,
    /// The version (`v1`).
    pub version: String,
    /// The parent distribution id for a micro-niche variant.
    #[serde(default)]
    pub derived_from: Option<String>,
    /// When it was created (ISO 8601; the original wrote local time with a `Z`, we write UTC).
    pub created_at: String,
}

event_payload!(DistributionCreated {
    type: "distribution.created",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: High,
    consumers: [COURSE_FACTORY],
    description: "A course distribution was created.",
});

/// A distribution was updated (at least one known field changed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionUpdated {
    /// The distribution id.
    pub distribution_id: String,
    /// The names of the changed fields.
    pub updated_fields: Vec<String>,
    /// The old values by field.
    pub old_values: Map<String, Value>,
    /// The new values by field.
    pub new_values: Map<String, Value>,
    /// When it was updated (ISO 8601).
    pub updated_at: String,
}

event_payload!(DistributionUpdated {
    type: "distribution.updated",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A course distribution was updated.",
});

/// A distribution was deleted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionDeleted {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// Its course.
    pub course_id: String,
    /// When it was deleted (ISO 8601).
    pub deleted_at: String,
    /// Who deleted it.
    #[serde(default)]
    pub deleted_by: Option<String>,
}

event_payload!(DistributionDeleted {
    type: "distribution.deleted",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A course distribution was deleted.",
});

/// The SEO summary carried by `distribution.published`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SeoSummary {
    /// The page title (10 to 60 characters).
    pub meta_title: String,
    /// The page description (50 to 160 characters).
    pub meta_description: String,
    /// The keywords (the model's `seo.keywords`; the event keeps the documented name).
    pub meta_keywords: Vec<String>,
}

/// A distribution was made public.
///
/// Never emitted by the original: building it crashed on `seo.meta_keywords` (the model field is
/// `keywords`) after the state had changed (D2). `meta_keywords` is filled from `seo.keywords`, and
/// `published_at` is an ISO string (the original called `isoformat` on an epoch float).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionPublished {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// Its course.
    pub course_id: String,
    /// The public title.
    pub title: String,
    /// The language.
    pub language: String,
    /// The target groups.
    pub target_group: Vec<String>,
    /// The SEO summary.
    pub seo: SeoSummary,
    /// When it was published (ISO 8601).
    pub published_at: String,
}

event_payload!(DistributionPublished {
    type: "distribution.published",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A course distribution was made public.",
});

/// A distribution was made private again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionUnpublished {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// When it was unpublished (ISO 8601).
    pub unpublished_at: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

event_payload!(DistributionUnpublished {
    type: "distribution.unpublished",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A course distribution was made private again.",
});

/// A public course page was viewed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionViewed {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// The view count including this view.
    pub view_count: u64,
    /// When it was viewed (ISO 8601).
    pub viewed_at: String,
    /// Where the visitor came from, coarsely (`search`, `social`, ...).
    #[serde(default)]
    pub referrer_category: Option<String>,
}

event_payload!(DistributionViewed {
    type: "distribution.viewed",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "A public course page was viewed.",
});

/// A visitor clicked the enrollment call to action.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionEnrollmentClicked {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// The enrollment count including this click.
    pub enrollment_count: u64,
    /// When it was clicked (ISO 8601).
    pub clicked_at: String,
    /// Which call to action (`primary_button`).
    pub cta_type: String,
}

event_payload!(DistributionEnrollmentClicked {
    type: "distribution.enrollment_clicked",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A visitor clicked the enrollment call to action.",
});

/// A micro-niche variant was derived from a distribution (after the child's `distribution.created`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionMicroNicheCreated {
    /// The new variant's distribution id.
    pub child_distribution_id: String,
    /// The parent distribution id.
    pub parent_distribution_id: String,
    /// The parent's slug.
    pub parent_slug: String,
    /// The variant's slug.
    pub child_slug: String,
    /// The target groups the variant overrides, if any.
    #[serde(default)]
    pub target_group_override: Option<Vec<String>>,
    /// The variant's title.
    pub title_override: String,
    /// When it was created (ISO 8601).
    pub created_at: String,
}

event_payload!(DistributionMicroNicheCreated {
    type: "distribution.micro_niche_created",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A micro-niche variant was derived from a distribution.",
});

/// A distribution's version was bumped (`vN` to `vN+1`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DistributionVersionBumped {
    /// The distribution id.
    pub distribution_id: String,
    /// Its slug.
    pub slug: String,
    /// The version before.
    pub old_version: String,
    /// The version after.
    pub new_version: String,
    /// When it was bumped (ISO 8601).
    pub bumped_at: String,
    /// What changed.
    #[serde(default)]
    pub changelog: Option<String>,
}

event_payload!(DistributionVersionBumped {
    type: "distribution.version_bumped",
    module: "course_distribution",
    source: "course_distribution",
    version: 1,
    criticality: Medium,
    consumers: [],
    description: "A distribution's version was bumped.",
});
