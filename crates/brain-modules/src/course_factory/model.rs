//! The course_factory module's request and response shapes (the original's JSON, field for field, with
//! the fields the original lacked: `module_id` on lessons, `landing_page_id` and `sections` on the landing
//! page, `dry_run` and `warnings` on the result), and the model's bounds (CF-B1..B7).

use brain_events::course::WorkflowState;
use brain_http::ApiError;
use serde::{Deserialize, Serialize};

/// Shortest and longest `title` (characters).
pub const TITLE_CHARS: (usize, usize) = (10, 200);
/// Shortest and longest `description` (characters).
pub const DESCRIPTION_CHARS: (usize, usize) = (50, 2000);
/// Fewest and most `full_lessons_count`.
pub const FULL_LESSONS: (u32, u32) = (1, 10);
/// Fewest and most modules of an outline.
pub const MODULES: (usize, usize) = (4, 6);
/// Fewest and most lessons of a module.
pub const LESSONS_PER_MODULE: (usize, usize) = (3, 5);
/// Fewest and most lessons of an outline.
pub const TOTAL_LESSONS: (u32, u32) = (12, 30);
/// Shortest and longest course, in minutes.
pub const TOTAL_MINUTES: (u32, u32) = (60, 3600);
/// Shortest and longest module, in minutes.
pub const MODULE_MINUTES: (u32, u32) = (15, 600);
/// Shortest and longest lesson, in minutes.
pub const LESSON_MINUTES: (u32, u32) = (5, 120);
/// Fewest and most quiz questions.
pub const QUIZ_QUESTIONS: (usize, usize) = (10, 15);
/// Most landing-page features.
pub const MAX_FEATURES: usize = 6;
/// Longest actor name and reason on workflow routes.
pub const MAX_ACTOR: usize = 200;
/// Longest workflow reason.
pub const MAX_REASON: usize = 1000;

/// A course language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// German.
    De,
    /// English.
    En,
    /// French.
    Fr,
    /// Spanish.
    Es,
}

impl Language {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::De => "de",
            Language::En => "en",
            Language::Fr => "fr",
            Language::Es => "es",
        }
    }
}

/// Who a course is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Audience {
    PrivateIndividuals,
    Employees,
    CareerStarters,
    SmeEntrepreneurs,
    Retirees,
    SelfEmployed,
    Students,
    Parents,
    MigrantsExpats,
}

impl Audience {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::PrivateIndividuals => "private_individuals",
            Audience::Employees => "employees",
            Audience::CareerStarters => "career_starters",
            Audience::SmeEntrepreneurs => "sme_entrepreneurs",
            Audience::Retirees => "retirees",
            Audience::SelfEmployed => "self_employed",
            Audience::Students => "students",
            Audience::Parents => "parents",
            Audience::MigrantsExpats => "migrants_expats",
        }
    }
}

fn yes() -> bool {
    true
}

fn three() -> u32 {
    3
}

/// `CourseGenerationRequest` (CF-B1), body of `/generate`, `/dry-run` and `/generate-ir`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseGenerationRequest {
    /// Optional here; when given it must be the API key's tenant (403 `tenant_mismatch`, X-1).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// 10 to 200 characters.
    pub title: String,
    /// 50 to 2000 characters.
    pub description: String,
    /// `de`, `en`, `fr` or `es`.
    pub language: Language,
    /// At least one audience.
    pub target_audiences: Vec<Audience>,
    /// Lessons generated in full: 1 to 10 (default 3).
    #[serde(default = "three")]
    pub full_lessons_count: u32,
    /// Generate the 15-question quiz (default true).
    #[serde(default = "yes")]
    pub generate_quiz: bool,
    /// Generate the landing page (default true).
    #[serde(default = "yes")]
    pub generate_landing_page: bool,
    /// Deploy to staging once the course's distribution exists (default false; needs `staging_domain`).
    #[serde(default)]
    pub deploy_to_staging: bool,
    /// The staging host name (`staging.example.com`).
    #[serde(default)]
    pub staging_domain: Option<String>,
    /// A dry run generates the outline, quiz and landing page only: no lessons, no evidence, no deploy
    /// (default true, as the original).
    #[serde(default = "yes")]
    pub dry_run: bool,
}

fn chars_between(field: &str, value: &str, (min, max): (usize, usize)) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid(field, format!("`{field}` must be {min} to {max} characters (has {n})")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::invalid(field, format!("`{field}` must not contain control characters")));
    }
    Ok(())
}

/// Whether `d` is a DNS host name: 1 to 253 characters, dot-separated labels of 1 to 63 letters, digits
/// and inner hyphens.
pub fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl CourseGenerationRequest {
    /// Checks every bound of the model (CF-B1) and the staging rule of CF-F5.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(t) = &self.tenant_id {
            chars_between("tenant_id", t, (1, 100))?;
        }
        chars_between("title", &self.title, TITLE_CHARS)?;
        if self.title.trim().chars().count() < TITLE_CHARS.0 {
            return Err(ApiError::invalid("title", "`title` must have at least 10 characters besides spaces"));
        }
        chars_between("description", &self.description, DESCRIPTION_CHARS)?;
        if self.target_audiences.is_empty() {
            return Err(ApiError::invalid("target_audiences", "`target_audiences` needs at least one audience"));
        }
        let mut seen = self.target_audiences.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.target_audiences.len() {
            return Err(ApiError::invalid("target_audiences", "`target_audiences` lists an audience twice"));
        }
        if !(FULL_LESSONS.0..=FULL_LESSONS.1).contains(&self.full_lessons_count) {
            return Err(ApiError::invalid(
                "full_lessons_count",
                format!("`full_lessons_count` must be {} to {} (got {})", FULL_LESSONS.0, FULL_LESSONS.1, self.full_lessons_count),
            ));
        }
        if let Some(d) = &self.staging_domain
            && !valid_domain(d)
        {
            return Err(ApiError::invalid("staging_domain", "`staging_domain` must be a host name such as `staging.example.com`"));
        }
        if self.deploy_to_staging && self.staging_domain.is_none() {
            return Err(ApiError::invalid("staging_domain", "`deploy_to_staging` needs a `staging_domain`"));
        }
        Ok(())
    }

    /// The audiences' wire names.
    pub fn audience_names(&self) -> Vec<String> {
        self.target_audiences.iter().map(|a| a.as_str().to_owned()).collect()
    }
}

/// The tone of a course's texts (the original's `"professiona"` spelled right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Tone {
    Sachlich,
    Empowernd,
    Neutral,
    Professional,
}

/// `CourseMetadata` (CF-B2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseMetadata {
    /// The course (UUIDv4).
    pub course_id: String,
    /// From the request.
    pub title: String,
    /// From the request.
    pub description: String,
    /// From the request.
    pub language: Language,
    /// From the request.
    pub target_audiences: Vec<Audience>,
    /// From the request.
    pub full_lessons_count: u32,
    /// The tone of the texts.
    pub tone: Tone,
    /// No ideology in the texts.
    pub avoid_ideology: bool,
    /// No product sales in the texts.
    pub avoid_product_sales: bool,
    /// `1.0.0`.
    pub version: String,
    /// The outline template (`banking-alternatives-de`), if one matched the title.
    pub template_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// A lesson's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LessonStatus {
    /// Generated in full (its content exists on non-dry runs).
    Full,
    /// Title and outline only.
    Placeholder,
    /// Not planned yet.
    Todo,
}

/// A lesson of the outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseLesson {
    /// Its id.
    pub lesson_id: String,
    /// The module it belongs to (the original's lesson had no such field: CF-F2).
    pub module_id: String,
    /// Its title.
    pub title: String,
    /// What it covers.
    pub description: String,
    /// At most 5.
    pub learning_objectives: Vec<String>,
    /// 5 to 120.
    pub estimated_duration_minutes: u32,
    /// `full`, `placeholder` or `todo`.
    pub status: LessonStatus,
    /// The lesson's Markdown (full lessons of non-dry runs).
    pub content_markdown: Option<String>,
    /// Its outline points.
    pub content_outline: Option<Vec<String>>,
    /// At most 5.
    pub examples: Vec<String>,
    /// At most 3.
    pub exercises: Vec<String>,
    /// At most 10.
    pub keywords: Vec<String>,
    /// Its position in the module (0-based).
    pub order_index: u32,
}

/// A module of the outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseModule {
    /// Its id.
    pub module_id: String,
    /// Its title.
    pub title: String,
    /// What it covers.
    pub description: String,
    /// At most 5.
    pub learning_objectives: Vec<String>,
    /// 3 to 5.
    pub lessons: Vec<CourseLesson>,
    /// Its position (0-based).
    pub order_index: u32,
    /// 15 to 600: the sum of its lessons.
    pub estimated_total_duration_minutes: u32,
}

/// `CourseOutline` (CF-B3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseOutline {
    /// The course's metadata.
    pub metadata: CourseMetadata,
    /// 4 to 6 modules.
    pub modules: Vec<CourseModule>,
    /// 12 to 30: computed from the modules (the original left it 0 and every generation failed, CF-F1).
    pub total_lessons: u32,
    /// 60 to 3600: computed from the modules.
    pub total_estimated_duration_minutes: u32,
}

/// A part of a generated course that breaks the model's bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {problem}")]
pub struct ModelViolation {
    /// `outline`, `quiz`, `landing_page`, `modules[1].lessons[2]` ...
    pub part: String,
    /// What is wrong.
    pub problem: String,
}

fn violation(part: impl Into<String>, problem: impl Into<String>) -> ModelViolation {
    ModelViolation { part: part.into(), problem: problem.into() }
}

fn within<T: PartialOrd + std::fmt::Display + Copy>(part: &str, what: &str, v: T, (min, max): (T, T)) -> Result<(), ModelViolation> {
    if v < min || v > max {
        return Err(violation(part, format!("{what} must be {min} to {max} (is {v})")));
    }
    Ok(())
}

fn at_most(part: &str, what: &str, n: usize, max: usize) -> Result<(), ModelViolation> {
    if n > max {
        return Err(violation(part, format!("at most {max} {what} (has {n})")));
    }
    Ok(())
}

impl CourseOutline {
    /// The totals of `modules`: (lessons, minutes).
    pub fn totals(modules: &[CourseModule]) -> (u32, u32) {
        let lessons = modules.iter().map(|m| m.lessons.len()).sum::<usize>();
        let minutes = modules.iter().map(|m| m.estimated_total_duration_minutes).sum::<u32>();
        (u32::try_from(lessons).unwrap_or(u32::MAX), minutes)
    }

    /// Checks every bound of CF-B3, and that the totals and module durations are the sums they claim.
    ///
    /// # Errors
    /// The first [`ModelViolation`].
    pub fn check(&self) -> Result<(), ModelViolation> {
        within("outline", "modules", self.modules.len(), MODULES)?;
        within("outline", "total_lessons", self.total_lessons, TOTAL_LESSONS)?;
        within("outline", "total_estimated_duration_minutes", self.total_estimated_duration_minutes, TOTAL_MINUTES)?;
        let (lessons, minutes) = Self::totals(&self.modules);
        if (lessons, minutes) != (self.total_lessons, self.total_estimated_duration_minutes) {
            return Err(violation(
                "outline",
                format!(
                    "totals ({}, {} min) differ from the modules ({lessons}, {minutes} min)",
                    self.total_lessons, self.total_estimated_duration_minutes
                ),
            ));
        }
        for (i, m) in self.modules.iter().enumerate() {
            let part = format!("modules[{i}]");
            within(&part, "lessons", m.lessons.len(), LESSONS_PER_MODULE)?;
            at_most(&part, "learning objectives", m.learning_objectives.len(), 5)?;
            within(&part, "estimated_total_duration_minutes", m.estimated_total_duration_minutes, MODULE_MINUTES)?;
            let sum: u32 = m.lessons.iter().map(|l| l.estimated_duration_minutes).sum();
            if sum != m.estimated_total_duration_minutes {
                return Err(violation(&part, format!("duration {} differs from its lessons' {sum}", m.estimated_total_duration_minutes)));
            }
            for (j, l) in m.lessons.iter().enumerate() {
                let part = format!("modules[{i}].lessons[{j}]");
                within(&part, "estimated_duration_minutes", l.estimated_duration_minutes, LESSON_MINUTES)?;
                at_most(&part, "learning objectives", l.learning_objectives.len(), 5)?;
                at_most(&part, "examples", l.examples.len(), 5)?;
                at_most(&part, "exercises", l.exercises.len(), 3)?;
                at_most(&part, "keywords", l.keywords.len(), 10)?;
                if l.module_id != m.module_id {
                    return Err(violation(&part, "module_id is not its module's"));
                }
            }
        }
        Ok(())
    }

    /// Every lesson with its module, in course order.
    pub fn lessons(&self) -> impl Iterator<Item = (&CourseModule, &CourseLesson)> {
        self.modules.iter().flat_map(|m| m.lessons.iter().map(move |l| (m, l)))
    }
}

/// A quiz question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizQuestion {
    /// Its id.
    pub question_id: String,
    /// The question.
    pub question_text: String,
    /// Option a.
    pub option_a: String,
    /// Option b.
    pub option_b: String,
    /// Option c.
    pub option_c: String,
    /// Option d.
    pub option_d: String,
    /// `a` to `d`.
    pub correct_answer: String,
    /// Why.
    pub explanation: String,
    /// `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// The module it tests.
    pub module_reference: Option<String>,
}

/// `CourseQuiz` (CF-B4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseQuiz {
    /// Its id.
    pub quiz_id: String,
    /// Its title.
    pub title: String,
    /// What it checks.
    pub description: String,
    /// 10 to 15.
    pub questions: Vec<QuizQuestion>,
    /// 50 to 100 (70).
    pub passing_score_percentage: u32,
    /// Time limit.
    pub time_limit_minutes: Option<u32>,
}

impl CourseQuiz {
    /// Checks CF-B4.
    ///
    /// # Errors
    /// The first [`ModelViolation`].
    pub fn check(&self) -> Result<(), ModelViolation> {
        within("quiz", "questions", self.questions.len(), QUIZ_QUESTIONS)?;
        within("quiz", "passing_score_percentage", self.passing_score_percentage, (50, 100))?;
        for (i, q) in self.questions.iter().enumerate() {
            if !matches!(q.correct_answer.as_str(), "a" | "b" | "c" | "d") {
                return Err(violation(format!("quiz.questions[{i}]"), "correct_answer must be a, b, c or d"));
            }
        }
        Ok(())
    }
}

/// `CourseLandingPage` (CF-B5), with the id and sections the original lacked (CF-F2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseLandingPage {
    /// Its id.
    pub landing_page_id: String,
    /// The hero headline.
    pub hero_title: String,
    /// The hero subline.
    pub hero_subtitle: String,
    /// The call to action.
    pub hero_cta_text: String,
    /// Why take the course.
    pub value_proposition: String,
    /// "Who it is for" heading.
    pub for_whom_title: String,
    /// Who it is for.
    pub for_whom_items: Vec<String>,
    /// "Who it is not for" heading.
    pub not_for_whom_title: String,
    /// Who it is not for.
    pub not_for_whom_items: Vec<String>,
    /// The structure heading.
    pub course_structure_title: String,
    /// At most 6.
    pub features: Vec<String>,
    /// The disclaimer.
    pub disclaimer: String,
    /// The sections it renders, in order (`hero`, `value_proposition`, ...).
    pub sections: Vec<String>,
}

impl CourseLandingPage {
    /// Checks CF-B5.
    ///
    /// # Errors
    /// The first [`ModelViolation`].
    pub fn check(&self) -> Result<(), ModelViolation> {
        at_most("landing_page", "features", self.features.len(), MAX_FEATURES)?;
        if self.hero_title.trim().is_empty() {
            return Err(violation("landing_page", "hero_title is empty"));
        }
        Ok(())
    }
}

/// `CourseGenerationResult` (CF-B6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourseGenerationResult {
    /// Whether the course was generated.
    pub success: bool,
    /// The course (also on failure, once assigned).
    pub course_id: String,
    /// The outline.
    pub outline: Option<CourseOutline>,
    /// The quiz.
    pub quiz: Option<CourseQuiz>,
    /// The landing page.
    pub landing_page: Option<CourseLandingPage>,
    /// Whether it is deployed (always false here: the deploy follows `distribution.created`, CF-C1).
    pub deployed: bool,
    /// The staging URL once deployed.
    pub staging_url: Option<String>,
    /// Where the evidence pack is (`sql://course_factory_evidence/{course_id}`; null on dry runs).
    pub evidence_pack_path: Option<String>,
    /// The hash of the course's IR (CF-B9).
    pub ir_hash: Option<String>,
    /// The approval the generation used (ESCALATE only).
    pub approval_id: Option<String>,
    /// Modules.
    pub total_modules: u32,
    /// Lessons.
    pub total_lessons: u32,
    /// Lessons whose content was generated.
    pub full_lessons_generated: u32,
    /// Quiz questions (0 without a quiz).
    pub quiz_questions_count: u32,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// RFC 3339.
    pub generated_at: String,
    /// Seconds.
    pub execution_time_seconds: f64,
    /// What failed.
    pub errors: Vec<String>,
    /// Notes.
    pub warnings: Vec<String>,
}

/// `WorkflowTransition` (CF-B7), with `approval_id` in place of the raw token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowTransition {
    /// Its id (for a rollback).
    pub transition_id: String,
    /// The course.
    pub course_id: String,
    /// The state before.
    pub from_state: WorkflowState,
    /// The state after.
    pub to_state: WorkflowState,
    /// Whether an approval gated it.
    pub requires_approval: bool,
    /// The approval that gated it.
    pub approval_id: Option<String>,
    /// Who approved (= `transitioned_by` for gated transitions).
    pub approved_by: Option<String>,
    /// Always true for a stored transition (refused ones are errors).
    pub validation_passed: bool,
    /// Always empty for a stored transition.
    pub validation_errors: Vec<String>,
    /// RFC 3339.
    pub transitioned_at: String,
    /// Who.
    pub transitioned_by: String,
    /// Why.
    pub reason: Option<String>,
    /// False when the target is `published`.
    pub can_rollback: bool,
    /// Where a rollback goes (`from_state`, none when the target is `archived`).
    pub rollback_state: Option<WorkflowState>,
    /// The transition this one rolled back.
    pub rollback_of: Option<String>,
}

/// Query of `POST /workflow/transition`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionQuery {
    /// The course.
    pub course_id: String,
    /// The state the caller believes the course is in (409 `state_mismatch` otherwise).
    pub from_state: WorkflowState,
    /// The target.
    pub to_state: WorkflowState,
    /// Who.
    pub actor: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// The original's flag; accepted, but the gate needs a consumed approval (`approval_id`).
    #[serde(default)]
    pub hitl_approval: Option<bool>,
    /// A consumed ir_governance approval of the gate IR (review → publish_ready).
    #[serde(default)]
    pub approval_id: Option<String>,
}

/// Query of `POST /workflow/rollback`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackQuery {
    /// The course.
    pub course_id: String,
    /// The transition to undo (the course must still be in its target state).
    pub transition_id: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// A consumed approval, when the rollback re-enters `publish_ready` (D-7).
    #[serde(default)]
    pub approval_id: Option<String>,
}

/// Query of `POST /generate` and `/dry-run`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateQuery {
    /// A consumed approval of the course IR's hash, for an IR that ESCALATEs (default: any unused one).
    #[serde(default)]
    pub approval_id: Option<String>,
}

/// A workflow state's wire spelling.
pub fn state_str(s: WorkflowState) -> &'static str {
    match s {
        WorkflowState::Draft => "draft",
        WorkflowState::Review => "review",
        WorkflowState::PublishReady => "publish_ready",
        WorkflowState::Published => "published",
        WorkflowState::Archived => "archived",
    }
}

/// The state of a wire spelling.
pub fn parse_state(s: &str) -> Option<WorkflowState> {
    [WorkflowState::Draft, WorkflowState::Review, WorkflowState::PublishReady, WorkflowState::Published, WorkflowState::Archived]
        .into_iter()
        .find(|w| state_str(*w) == s)
}

/// Whether the state machine allows `from` → `to` (CF-B11).
pub fn allowed(from: WorkflowState, to: WorkflowState) -> bool {
    use WorkflowState as W;
    matches!(
        (from, to),
        (W::Draft, W::Review | W::Archived)
            | (W::Review, W::Draft | W::PublishReady | W::Archived)
            | (W::PublishReady, W::Review | W::Published | W::Archived)
            | (W::Published, W::Archived)
    )
}

/// Whether `from` → `to` is the gated edge (review → publish_ready, CF-B12). A rollback that re-enters
/// publish_ready goes publish_ready → review → (rollback) publish_ready, so it takes the same edge and
/// the same gate (D-7).
pub fn gated(from: WorkflowState, to: WorkflowState) -> bool {
    from == WorkflowState::Review && to == WorkflowState::PublishReady
}

#[cfg(test)]
mod tests {
    use super::*;
    use WorkflowState as W;

    #[test]
    fn the_state_machine_has_the_original_edges() {
        let all = [W::Draft, W::Review, W::PublishReady, W::Published, W::Archived];
        let edges: usize = all.iter().map(|f| all.iter().filter(|t| allowed(*f, **t)).count()).sum();
        assert_eq!(edges, 9);
        assert!(allowed(W::Review, W::PublishReady) && gated(W::Review, W::PublishReady));
        assert!(!allowed(W::Archived, W::Draft) && !allowed(W::Draft, W::Published));
        for s in all {
            assert_eq!(parse_state(state_str(s)), Some(s));
        }
    }

    #[test]
    fn domains_are_host_names() {
        assert!(valid_domain("staging.example.com"));
        assert!(!valid_domain("bad domain"));
        assert!(!valid_domain("-a.com"));
        assert!(!valid_domain("a..com"));
    }
}
