//! `course.*`: course generation, staging deploys and workflow transitions of course_factory.
//!
//! Reference: original-core-course-ir.md §3.5. Common envelope: `source = course_factory_service`, meta
//! producer `course_factory_service`, source module `course_factory`. Several original payloads could not
//! be built (missing model fields, F1/F2); the schemas below are what the events were meant to carry, and
//! each type's doc says where it deviates.

use eventstream_core::Event;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::consumers::{COURSE_DISTRIBUTION, SECURITY_MONITORING};
use crate::envelope_fill::set_tenant;

/// The course workflow states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    /// Being written.
    #[default]
    Draft,
    /// Under review.
    Review,
    /// Approved, waiting to be published.
    PublishReady,
    /// Live.
    Published,
    /// Retired (terminal).
    Archived,
}

/// A course generation was requested (after its metadata was built, before the outline).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseGenerationRequested {
    /// The new course id.
    pub course_id: String,
    /// The course title.
    pub title: String,
    /// The course description.
    pub description: String,
    /// The language (`de`, `en`, `fr`, `es`).
    pub language: String,
    /// The target audiences (`private_individuals`, `employees`, ...).
    pub target_audiences: Vec<String>,
    /// The requesting tenant (also set as the envelope `tenant_id`).
    pub tenant_id: String,
    /// Whether this is a dry run (no lessons, no evidence pack, no deploy).
    pub dry_run: bool,
    /// How many lessons are generated in full.
    pub full_lessons_count: u32,
}

event_payload!(CourseGenerationRequested {
    type: "course.generation.requested",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: Medium,
    consumers: [],
    envelope: CourseGenerationRequested::envelope,
    description: "A course generation was requested.",
});

impl CourseGenerationRequested {
    fn envelope(&self, event: &mut Event) {
        set_tenant(event, &self.tenant_id);
    }
}

/// The course outline was generated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseOutlineCreated {
    /// The course id.
    pub course_id: String,
    /// The number of modules (4 to 6).
    pub modules_count: u32,
    /// The number of lessons (12 to 30).
    pub total_lessons: u32,
    /// The outline template used, if any (`banking-alternatives-de`).
    #[serde(default)]
    pub template_id: Option<String>,
}

event_payload!(CourseOutlineCreated {
    type: "course.outline.created",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The course outline was generated.",
});

/// One full lesson's content was generated (non-dry runs only).
///
/// The original read `module_id` from the lesson model, which has no such field, and crashed; here the
/// producer passes the id of the module the lesson belongs to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseLessonGenerated {
    /// The course id.
    pub course_id: String,
    /// The lesson id.
    pub lesson_id: String,
    /// The lesson title.
    pub lesson_title: String,
    /// The id of the module containing the lesson.
    pub module_id: String,
    /// The length of the generated content, in characters.
    pub content_length: u64,
    /// The lesson's position among the generated lessons (1-based).
    pub lesson_index: u32,
}

event_payload!(CourseLessonGenerated {
    type: "course.lesson.generated",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "One full lesson's content was generated.",
});

/// The course quiz was generated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseQuizCreated {
    /// The course id.
    pub course_id: String,
    /// The quiz id.
    pub quiz_id: String,
    /// The number of questions (10 to 15).
    pub question_count: u32,
    /// The question ids, in order.
    pub question_ids: Vec<String>,
}

event_payload!(CourseQuizCreated {
    type: "course.quiz.created",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The course quiz was generated.",
});

/// The course landing page was generated.
///
/// The original's landing-page model had no id and no sections, so building this event crashed; the
/// producer now assigns `landing_page_id` and counts the sections it renders. `has_pricing` was always
/// false in the original.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseLandingPageCreated {
    /// The course id.
    pub course_id: String,
    /// The landing page id.
    pub landing_page_id: String,
    /// The number of sections.
    pub sections_count: u32,
    /// Whether it has a hero block.
    pub has_hero: bool,
    /// Whether it has a pricing block.
    pub has_pricing: bool,
}

event_payload!(CourseLandingPageCreated {
    type: "course.landing_page.created",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The course landing page was generated.",
});

/// The course was deployed to staging.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseDeployedStaging {
    /// The course id.
    pub course_id: String,
    /// Where the staging copy lives.
    pub staging_url: String,
    /// The staging domain (`unknown` when none was configured).
    pub staging_domain: String,
    /// When it was deployed (ISO 8601; the original wrote it without a zone, meaning UTC).
    pub deployed_at: String,
}

event_payload!(CourseDeployedStaging {
    type: "course.deployed.staging",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: High,
    consumers: [COURSE_DISTRIBUTION],
    description: "The course was deployed to staging.",
});

/// A course generation finished successfully.
///
/// The original's producer sent only counts, while course_distribution's consumer required `title`,
/// `description`, `language` and `target_audiences` and rejected every real event (§5.7 of the reference).
/// Version 1 carries both: the counts (required, as produced) and the four descriptive fields (optional in
/// the schema so the original's events still validate; our producer always fills them), plus the optional
/// `dry_run` flag (catalog change M6).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseGenerationCompleted {
    /// The course id.
    pub course_id: String,
    /// The number of modules.
    pub total_modules: u32,
    /// The number of lessons.
    pub total_lessons: u32,
    /// How many lessons were generated in full.
    pub full_lessons_generated: u32,
    /// The number of quiz questions (0 without a quiz).
    pub quiz_questions_count: u32,
    /// Where the evidence pack was written (null on dry runs).
    #[serde(default)]
    pub evidence_pack_path: Option<String>,
    /// How long the generation took, in seconds.
    pub execution_time_seconds: f64,
    /// Whether the course was deployed to staging.
    pub deployed: bool,
    /// The staging URL when deployed.
    #[serde(default)]
    pub staging_url: Option<String>,
    /// The course title (for course_distribution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The course description (for course_distribution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The course language (for course_distribution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The target audiences (for course_distribution's target group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_audiences: Option<Vec<String>>,
    /// Whether the generation was a dry run (no lessons, no evidence pack, no deploy). Consumers create
    /// no distribution for a dry run (decision D-10). Optional so the original's events still validate
    /// (absent: treated as false); our producer always fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

event_payload!(CourseGenerationCompleted {
    type: "course.generation.completed",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: High,
    consumers: [COURSE_DISTRIBUTION],
    description: "A course generation finished successfully.",
});

/// A course generation failed. Envelope severity `ERROR`.
///
/// The original always sent `course_id: ""`; the producer now sends the id once it exists (still `""`
/// when the failure happens before).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseGenerationFailed {
    /// The course id (`""` if the failure happened before one was assigned).
    pub course_id: String,
    /// The requested title.
    pub title: String,
    /// The error message.
    pub error_message: String,
    /// The error's kind (class name in the original).
    pub error_type: String,
    /// How long the generation ran before failing, in seconds.
    pub execution_time_seconds: f64,
}

event_payload!(CourseGenerationFailed {
    type: "course.generation.failed",
    module: "course_factory",
    source: "course_factory_service",
    version: 1,
    criticality: High,
    consumers: [],
    severity: Error,
    description: "A course generation failed.",
});

/// A course moved between workflow states.
///
/// Documented but never emitted by the original (F4), with producer `workflow_state_machine` and an
/// `approval_token` field. Raw approval tokens are secrets and never travel on the bus: the field is
/// replaced by `approval_id`, the id of the approval that gated the transition.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CourseWorkflowTransitioned {
    /// The course id.
    pub course_id: String,
    /// The transition id (usable for a rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition_id: Option<String>,
    /// The state before.
    pub from_state: WorkflowState,
    /// The state after.
    pub to_state: WorkflowState,
    /// Who made the transition.
    pub transitioned_by: String,
    /// Whether the transition needed an approval (review to publish_ready).
    pub requires_approval: bool,
    /// The approval that gated it, if any.
    #[serde(default)]
    pub approval_id: Option<String>,
}

event_payload!(CourseWorkflowTransitioned {
    type: "course.workflow.transitioned",
    module: "course_factory",
    source: "workflow_state_machine",
    version: 1,
    criticality: High,
    consumers: [SECURITY_MONITORING],
    description: "A course moved between workflow states.",
});
