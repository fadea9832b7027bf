//! The course_factory service: generation (IR gate, generator, one transaction with every event), the
//! course record, the workflow state machine with its approval gate, and the approval claims.

use std::sync::Arc;
use std::time::Instant;

use brain_events::EventPayload;
use brain_events::course::{
    CourseGenerationCompleted, CourseGenerationFailed, CourseGenerationRequested, CourseLandingPageCreated, CourseLessonGenerated,
    CourseOutlineCreated, CourseQuizCreated, CourseWorkflowTransitioned, WorkflowState,
};
use chrono::{DateTime, Utc};
use eventstream::EventStream;
use eventstream::store::sqlx::{self, Row, any::AnyRow};
use eventstream::store::{StoreError, Tx};
use eventstream_core::Event;
use serde::Serialize;
use serde_json::Value;

use super::error::CourseFactoryError;
use super::generator::{CourseGenerator, GeneratorError, template_for};
use super::ir_plan::{self, ValidationResult};
use super::model::{
    CourseGenerationRequest, CourseGenerationResult, CourseLandingPage, CourseMetadata, CourseOutline, CourseQuiz, LessonStatus,
    ModelViolation, RollbackQuery, Tone, TransitionQuery, WorkflowTransition, allowed, gated, parse_state, state_str,
};
use crate::ir::{Verdict, truncate_hash};
use crate::sql::{db, is_unique_violation};
use crate::web::{Origin, now_ms};

/// The logical location of a course's evidence pack: the files live in the state store's
/// `course_factory_evidence` table (one row per file), so every replica sees them.
pub fn evidence_path(course_id: &str) -> String {
    format!("sql://course_factory_evidence/{course_id}")
}

/// The staging URL of a course deployed to `domain`.
pub fn staging_url(domain: &str, course_id: &str) -> String {
    format!("https://{domain}/courses/{course_id}")
}

/// Epoch milliseconds as RFC 3339 with `Z`.
pub(crate) fn iso(ms: i64) -> String {
    eventstream_core::format_timestamp(&DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default())
}

/// The course_factory service.
#[derive(Debug)]
pub struct CourseFactoryService {
    events: EventStream,
    generator: Arc<dyn CourseGenerator>,
}

/// Why a generation failed (reported by `course.generation.failed`).
struct Failure {
    error_type: &'static str,
    message: String,
}

impl From<GeneratorError> for Failure {
    fn from(e: GeneratorError) -> Self {
        Failure { error_type: "GeneratorError", message: eventstream_core::error::Chain(&e).to_string() }
    }
}

impl From<ModelViolation> for Failure {
    fn from(e: ModelViolation) -> Self {
        Failure { error_type: "ValidationError", message: format!("the generated {e}") }
    }
}

/// What a successful generation produced.
struct Produced {
    outline: CourseOutline,
    quiz: Option<CourseQuiz>,
    landing: Option<CourseLandingPage>,
    full_lessons_generated: u32,
}

/// One file of an evidence pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceFile {
    /// `outline.json`, `quiz.json`, `landing.json`, `lessons/{lesson_id}.md`.
    pub path: String,
    /// `application/json` or `text/markdown`.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A course as `GET /api/course-factory/courses/{course_id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CourseRecord {
    /// The course.
    pub course_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Its title.
    pub title: String,
    /// Its language.
    pub language: String,
    /// `completed` or `failed`.
    pub generation_status: String,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Whether a staging deploy was asked for.
    pub deploy_to_staging: bool,
    /// The staging host.
    pub staging_domain: Option<String>,
    /// The hash of its IR.
    pub ir_hash: String,
    /// The outline template.
    pub template_id: Option<String>,
    /// Its workflow state.
    pub workflow_state: WorkflowState,
    /// Modules.
    pub total_modules: u32,
    /// Lessons.
    pub total_lessons: u32,
    /// Lessons with content.
    pub full_lessons_generated: u32,
    /// Quiz questions.
    pub quiz_questions_count: u32,
    /// Where the evidence pack is.
    pub evidence_pack_path: Option<String>,
    /// Its files.
    pub evidence_files: Vec<EvidenceFile>,
    /// Whether it is deployed to staging.
    pub deployed: bool,
    /// Where.
    pub staging_url: Option<String>,
    /// When (RFC 3339).
    pub deployed_at: Option<String>,
    /// The request it was generated from.
    pub request: Value,
    /// Its workflow history, oldest first.
    pub transitions: Vec<WorkflowTransition>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

const COURSE_COLUMNS: &str = "course_id, title, language, request, dry_run, deploy_to_staging, staging_domain, ir_hash, template_id, \
     generation_status, error_message, workflow_state, total_modules, total_lessons, full_lessons_generated, quiz_questions_count, \
     evidence_pack_path, deployed, staging_url, deployed_at, created_at, updated_at";

const TRANSITION_COLUMNS: &str = "transition_id, course_id, from_state, to_state, requires_approval, approval_id, approved_by, \
     transitioned_by, reason, can_rollback, rollback_state, rollback_of, transitioned_at";

fn corrupt(table: &'static str, column: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table, row_id: -1, column, reason: reason.into() }
}

fn state_col(r: &AnyRow, i: usize, table: &'static str, column: &'static str) -> Result<WorkflowState, StoreError> {
    let s: String = r.try_get(i).map_err(db("reading a course_factory row"))?;
    parse_state(&s).ok_or_else(|| corrupt(table, column, format!("unknown workflow state `{s}`")))
}

fn count(r: &AnyRow, i: usize) -> Result<u32, StoreError> {
    let v: i64 = r.try_get(i).map_err(db("reading a course"))?;
    Ok(u32::try_from(v).unwrap_or(0))
}

fn transition_from_row(r: &AnyRow) -> Result<WorkflowTransition, StoreError> {
    let e = || db("reading a course transition");
    let rollback: Option<String> = r.try_get(10).map_err(e())?;
    let rollback_state = match rollback {
        None => None,
        Some(s) => Some(parse_state(&s).ok_or_else(|| corrupt("course_factory_transitions", "rollback_state", s.clone()))?),
    };
    Ok(WorkflowTransition {
        transition_id: r.try_get(0).map_err(e())?,
        course_id: r.try_get(1).map_err(e())?,
        from_state: state_col(r, 2, "course_factory_transitions", "from_state")?,
        to_state: state_col(r, 3, "course_factory_transitions", "to_state")?,
        requires_approval: r.try_get::<i64, _>(4).map_err(e())? != 0,
        approval_id: r.try_get(5).map_err(e())?,
        approved_by: r.try_get(6).map_err(e())?,
        validation_passed: true,
        validation_errors: Vec::new(),
        transitioned_by: r.try_get(7).map_err(e())?,
        reason: r.try_get(8).map_err(e())?,
        can_rollback: r.try_get::<i64, _>(9).map_err(e())? != 0,
        rollback_state,
        rollback_of: r.try_get(11).map_err(e())?,
        transitioned_at: iso(r.try_get(12).map_err(e())?),
    })
}

/// The stored state and generation status of a course, read in `tx`.
async fn course_state(tx: &mut Tx, tenant: &str, course_id: &str) -> Result<(WorkflowState, String), CourseFactoryError> {
    let row = sqlx::query("SELECT workflow_state, generation_status FROM course_factory_courses WHERE tenant = $1 AND course_id = $2")
        .bind(tenant.to_owned())
        .bind(course_id.to_owned())
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Err(CourseFactoryError::CourseNotFound(course_id.to_owned())) };
    let state = state_col(&row, 0, "course_factory_courses", "workflow_state")?;
    let status: String = row.try_get(1)?;
    Ok((state, status))
}

/// Finds the consumed approval a gate may use, in `tx`: the named one (which must approve `ir_hash` and be
/// unused), or else the oldest unused one of `ir_hash`. `Ok(None)` when there is none.
async fn resolve_approval(
    tx: &mut Tx,
    tenant: &str,
    ir_hash: &str,
    approval_id: Option<&str>,
) -> Result<Option<String>, CourseFactoryError> {
    if let Some(id) = approval_id {
        let row = sqlx::query("SELECT ir_hash FROM course_factory_approvals WHERE tenant = $1 AND approval_id = $2")
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await?;
        let Some(row) = row else { return Err(CourseFactoryError::ApprovalNotYetVisible(id.to_owned())) };
        let approved: String = row.try_get(0)?;
        if approved != ir_hash {
            return Err(CourseFactoryError::ApprovalMismatch {
                approval_id: id.to_owned(),
                approved: truncate_hash(&approved),
                expected: truncate_hash(ir_hash),
            });
        }
        let used = sqlx::query("SELECT 1 FROM course_factory_approval_uses WHERE tenant = $1 AND approval_id = $2")
            .bind(tenant.to_owned())
            .bind(id.to_owned())
            .fetch_optional(tx.conn())
            .await?;
        if used.is_some() {
            return Err(CourseFactoryError::ApprovalAlreadyUsed(id.to_owned()));
        }
        return Ok(Some(id.to_owned()));
    }
    let row = sqlx::query(
        "SELECT a.approval_id FROM course_factory_approvals a WHERE a.tenant = $1 AND a.ir_hash = $2 AND NOT EXISTS \
         (SELECT 1 FROM course_factory_approval_uses u WHERE u.tenant = a.tenant AND u.approval_id = a.approval_id) \
         ORDER BY a.recorded_at, a.approval_id LIMIT 1",
    )
    .bind(tenant.to_owned())
    .bind(ir_hash.to_owned())
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// Records that `approval_id` was used (the table's key makes every approval single use).
async fn claim_approval(tx: &mut Tx, tenant: &str, approval_id: &str, course_id: &str, used_for: &str) -> Result<(), CourseFactoryError> {
    let r = sqlx::query(
        "INSERT INTO course_factory_approval_uses (tenant, approval_id, course_id, used_for, used_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.to_owned())
    .bind(approval_id.to_owned())
    .bind(course_id.to_owned())
    .bind(used_for.to_owned())
    .bind(now_ms())
    .execute(tx.conn())
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(CourseFactoryError::ApprovalAlreadyUsed(approval_id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// A workflow move to store: the checked edge and who asks.
struct Move<'a> {
    course_id: &'a str,
    from: WorkflowState,
    to: WorkflowState,
    actor: &'a str,
    reason: Option<&'a str>,
    approval_id: Option<&'a str>,
    rollback_of: Option<&'a str>,
}

impl CourseFactoryService {
    /// The service over `events`, generating with `generator`.
    pub fn new(events: EventStream, generator: Arc<dyn CourseGenerator>) -> Self {
        Self { events, generator }
    }

    /// The generator's name.
    pub fn generator_name(&self) -> &'static str {
        self.generator.name()
    }

    /// Writes `events` in `tx` through the outbox, commits and wakes the relay.
    async fn commit(&self, mut tx: Tx, events: &[Event]) -> Result<(), CourseFactoryError> {
        self.events.outbox_in_tx(&mut tx, events).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(())
    }

    /// The course IR of `req` for the caller's tenant, with its verdict (no events: D-4).
    ///
    /// # Errors
    /// [`CourseFactoryError::TenantMismatch`], [`CourseFactoryError::Field`], [`CourseFactoryError::Canonical`].
    pub fn plan(&self, origin: &Origin, req: &CourseGenerationRequest) -> Result<(crate::ir::Ir, ValidationResult), CourseFactoryError> {
        let tenant = origin.tenant();
        if let Some(t) = &req.tenant_id
            && t.trim() != tenant
        {
            return Err(CourseFactoryError::TenantMismatch(tenant.to_owned()));
        }
        let ir = ir_plan::course_ir(tenant, req).normalized()?;
        let validation = ir_plan::validate(&ir)?;
        Ok((ir, validation))
    }

    /// Runs the generation flow (CF-B8) for `req` and stores the course, its evidence pack (non-dry runs)
    /// and every event in one transaction: requested, outline, one lesson event per full lesson (non-dry
    /// runs), quiz, landing page, completed; or requested, the events of the steps that succeeded, and
    /// `course.generation.failed` (severity ERROR, with the course id) when the generator fails or breaks
    /// a bound. A course IR that ESCALATEs needs a consumed approval of its hash (`approval_id`, or any
    /// unused one), which the generation then uses up.
    ///
    /// # Errors
    /// [`CourseFactoryError::TenantMismatch`], [`CourseFactoryError::IrRejected`],
    /// [`CourseFactoryError::ApprovalRequired`] and the other approval errors, [`CourseFactoryError::Store`].
    /// A failed generation is not an error: it answers `success: false`.
    pub async fn generate(
        &self,
        origin: &Origin,
        req: &CourseGenerationRequest,
        approval_id: Option<&str>,
    ) -> Result<CourseGenerationResult, CourseFactoryError> {
        let (_, validation) = self.plan(origin, req)?;
        let tenant = origin.tenant().to_owned();
        let ir_hash = validation.ir_hash.clone();
        let needs_approval = match validation.status {
            Verdict::Reject => return Err(CourseFactoryError::IrRejected { validation: Box::new(validation) }),
            Verdict::Escalate => true,
            Verdict::Pass => false,
        };
        let approval_required = |validation: ValidationResult| CourseFactoryError::ApprovalRequired {
            reason: format!(
                "the course IR escalates (risk tier {}): consume an ir_governance approval of ir_hash {} and retry",
                validation.risk_tier, validation.ir_hash
            ),
            ir_hash: validation.ir_hash.clone(),
            validation: Box::new(validation),
        };
        if needs_approval {
            // Checked before generating (nothing is generated for a request that cannot be stored), and
            // again in the transaction that uses the approval.
            let mut tx = self.events.store().begin().await?;
            let found = resolve_approval(&mut tx, &tenant, &ir_hash, approval_id).await?;
            tx.rollback().await?;
            if found.is_none() {
                return Err(approval_required(validation));
            }
        }

        let started = Instant::now();
        let course_id = uuid::Uuid::new_v4().to_string();
        let created = iso(now_ms());
        let meta = CourseMetadata {
            course_id: course_id.clone(),
            title: req.title.clone(),
            description: req.description.clone(),
            language: req.language,
            target_audiences: req.target_audiences.clone(),
            full_lessons_count: req.full_lessons_count,
            tone: Tone::Sachlich,
            avoid_ideology: true,
            avoid_product_sales: true,
            version: "1.0.0".into(),
            template_id: template_for(&req.title).map(str::to_owned),
            created_at: created.clone(),
            updated_at: created,
        };
        let mut events = vec![
            CourseGenerationRequested {
                course_id: course_id.clone(),
                title: req.title.clone(),
                description: req.description.clone(),
                language: req.language.as_str().into(),
                target_audiences: req.audience_names(),
                tenant_id: tenant.clone(),
                dry_run: req.dry_run,
                full_lessons_count: req.full_lessons_count,
            }
            .to_event(),
        ];
        let produced = self.produce(&meta, req, &mut events).await;
        let elapsed = started.elapsed().as_secs_f64();
        let mut tx = self.events.store().begin().await?;
        let mut used_approval = None;
        let result = match produced {
            Ok(p) => {
                if needs_approval {
                    let Some(id) = resolve_approval(&mut tx, &tenant, &ir_hash, approval_id).await? else {
                        return Err(approval_required(validation));
                    };
                    claim_approval(&mut tx, &tenant, &id, &course_id, "generate").await?;
                    used_approval = Some(id);
                }
                let evidence = (!req.dry_run).then(|| evidence_path(&course_id));
                let quiz_count = p.quiz.as_ref().map_or(0, |q| u32::try_from(q.questions.len()).unwrap_or(0));
                let total_modules = u32::try_from(p.outline.modules.len()).unwrap_or(0);
                events.push(
                    CourseGenerationCompleted {
                        course_id: course_id.clone(),
                        total_modules,
                        total_lessons: p.outline.total_lessons,
                        full_lessons_generated: p.full_lessons_generated,
                        quiz_questions_count: quiz_count,
                        evidence_pack_path: evidence.clone(),
                        execution_time_seconds: elapsed,
                        deployed: false,
                        staging_url: None,
                        title: Some(req.title.clone()),
                        description: Some(req.description.clone()),
                        language: Some(req.language.as_str().into()),
                        target_audiences: Some(req.audience_names()),
                        dry_run: Some(req.dry_run),
                    }
                    .to_event(),
                );
                let mut warnings = Vec::new();
                if req.deploy_to_staging && req.dry_run {
                    warnings.push("deploy_to_staging is ignored on a dry run".to_owned());
                } else if req.deploy_to_staging {
                    warnings.push("the staging deploy follows once the course's distribution exists (distribution.created)".to_owned());
                }
                let result = CourseGenerationResult {
                    success: true,
                    course_id: course_id.clone(),
                    total_modules,
                    total_lessons: p.outline.total_lessons,
                    full_lessons_generated: p.full_lessons_generated,
                    quiz_questions_count: quiz_count,
                    outline: Some(p.outline),
                    quiz: p.quiz,
                    landing_page: p.landing,
                    deployed: false,
                    staging_url: None,
                    evidence_pack_path: evidence,
                    ir_hash: Some(ir_hash.clone()),
                    approval_id: used_approval.clone(),
                    dry_run: req.dry_run,
                    generated_at: iso(now_ms()),
                    execution_time_seconds: elapsed,
                    errors: Vec::new(),
                    warnings,
                };
                if !req.dry_run {
                    self.store_evidence(&mut tx, &tenant, &result).await?;
                }
                result
            }
            Err(f) => {
                let failed = CourseGenerationFailed {
                    course_id: course_id.clone(),
                    title: req.title.clone(),
                    error_message: f.message.clone(),
                    error_type: f.error_type.into(),
                    execution_time_seconds: elapsed,
                }
                .to_event();
                // The catalog gives this type severity ERROR.
                events.push(failed);
                CourseGenerationResult {
                    success: false,
                    course_id: course_id.clone(),
                    outline: None,
                    quiz: None,
                    landing_page: None,
                    deployed: false,
                    staging_url: None,
                    evidence_pack_path: None,
                    ir_hash: Some(ir_hash.clone()),
                    approval_id: None,
                    total_modules: 0,
                    total_lessons: 0,
                    full_lessons_generated: 0,
                    quiz_questions_count: 0,
                    dry_run: req.dry_run,
                    generated_at: iso(now_ms()),
                    execution_time_seconds: elapsed,
                    errors: vec![f.message],
                    warnings: Vec::new(),
                }
            }
        };
        self.insert_course(&mut tx, origin, req, &result, meta.template_id.as_deref()).await?;
        let events: Vec<Event> = events.into_iter().map(|e| origin.stamp(e)).collect();
        self.commit(tx, &events).await?;
        Ok(result)
    }

    /// Asks the generator for every part, checks each against the model and appends its event.
    async fn produce(&self, meta: &CourseMetadata, req: &CourseGenerationRequest, events: &mut Vec<Event>) -> Result<Produced, Failure> {
        let course_id = &meta.course_id;
        let mut outline = self.generator.outline(meta).await?;
        outline.check()?;
        if outline.metadata.course_id != *course_id {
            return Err(ModelViolation { part: "outline".into(), problem: "metadata.course_id is not the course's".into() }.into());
        }
        events.push(
            CourseOutlineCreated {
                course_id: course_id.clone(),
                modules_count: u32::try_from(outline.modules.len()).unwrap_or(0),
                total_lessons: outline.total_lessons,
                template_id: meta.template_id.clone(),
            }
            .to_event(),
        );
        let mut generated = 0u32;
        if !req.dry_run {
            let full: Vec<(usize, usize)> = outline
                .modules
                .iter()
                .enumerate()
                .flat_map(|(mi, m)| {
                    m.lessons.iter().enumerate().filter(|(_, l)| l.status == LessonStatus::Full).map(move |(li, _)| (mi, li))
                })
                .collect();
            for (mi, li) in full {
                let content = {
                    let module = &outline.modules[mi];
                    self.generator.lesson_content(&outline, module, &module.lessons[li]).await?
                };
                if content.trim().is_empty() {
                    return Err(ModelViolation { part: format!("modules[{mi}].lessons[{li}]"), problem: "content is empty".into() }.into());
                }
                generated += 1;
                let module = &mut outline.modules[mi];
                let lesson = &mut module.lessons[li];
                events.push(
                    CourseLessonGenerated {
                        course_id: course_id.clone(),
                        lesson_id: lesson.lesson_id.clone(),
                        lesson_title: lesson.title.clone(),
                        module_id: module.module_id.clone(),
                        content_length: u64::try_from(content.chars().count()).unwrap_or(0),
                        lesson_index: generated,
                    }
                    .to_event(),
                );
                lesson.content_markdown = Some(content);
            }
        }
        let quiz = if req.generate_quiz {
            let quiz = self.generator.quiz(&outline).await?;
            quiz.check()?;
            events.push(
                CourseQuizCreated {
                    course_id: course_id.clone(),
                    quiz_id: quiz.quiz_id.clone(),
                    question_count: u32::try_from(quiz.questions.len()).unwrap_or(0),
                    question_ids: quiz.questions.iter().map(|q| q.question_id.clone()).collect(),
                }
                .to_event(),
            );
            Some(quiz)
        } else {
            None
        };
        let landing = if req.generate_landing_page {
            let landing = self.generator.landing_page(&outline, quiz.as_ref()).await?;
            landing.check()?;
            events.push(
                CourseLandingPageCreated {
                    course_id: course_id.clone(),
                    landing_page_id: landing.landing_page_id.clone(),
                    sections_count: u32::try_from(landing.sections.len()).unwrap_or(0),
                    has_hero: !landing.hero_title.is_empty(),
                    has_pricing: landing.sections.iter().any(|s| s == "pricing"),
                }
                .to_event(),
            );
            Some(landing)
        } else {
            None
        };
        Ok(Produced { outline, quiz, landing, full_lessons_generated: generated })
    }

    /// Writes the evidence pack of `result` (CF-B8 step 8) into `course_factory_evidence`.
    async fn store_evidence(&self, tx: &mut Tx, tenant: &str, result: &CourseGenerationResult) -> Result<(), CourseFactoryError> {
        let mut files: Vec<(String, &'static str, String)> = Vec::new();
        if let Some(o) = &result.outline {
            files.push(("outline.json".into(), "application/json", to_json(o)));
            for (_, l) in o.lessons() {
                if let Some(c) = &l.content_markdown {
                    files.push((format!("lessons/{}.md", l.lesson_id), "text/markdown", c.clone()));
                }
            }
        }
        if let Some(q) = &result.quiz {
            files.push(("quiz.json".into(), "application/json", to_json(q)));
        }
        if let Some(l) = &result.landing_page {
            files.push(("landing.json".into(), "application/json", to_json(l)));
        }
        for (path, media, content) in files {
            sqlx::query("INSERT INTO course_factory_evidence (tenant, course_id, path, media_type, content) VALUES ($1, $2, $3, $4, $5)")
                .bind(tenant.to_owned())
                .bind(result.course_id.clone())
                .bind(path)
                .bind(media)
                .bind(content)
                .execute(tx.conn())
                .await?;
        }
        Ok(())
    }

    async fn insert_course(
        &self,
        tx: &mut Tx,
        origin: &Origin,
        req: &CourseGenerationRequest,
        r: &CourseGenerationResult,
        template_id: Option<&str>,
    ) -> Result<(), CourseFactoryError> {
        let now = now_ms();
        let mut request = serde_json::to_value(req).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut request {
            m.insert("tenant_id".into(), Value::String(origin.tenant().to_owned()));
        }
        sqlx::query(
            "INSERT INTO course_factory_courses (tenant, course_id, title, language, request, dry_run, deploy_to_staging, staging_domain, \
             ir_hash, template_id, generation_status, error_message, workflow_state, total_modules, total_lessons, full_lessons_generated, \
             quiz_questions_count, evidence_pack_path, deployed, staging_url, deployed_at, correlation_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 0, NULL, NULL, $19, $20, $20)",
        )
        .bind(origin.tenant().to_owned())
        .bind(r.course_id.clone())
        .bind(req.title.clone())
        .bind(req.language.as_str())
        .bind(request.to_string())
        .bind(i64::from(req.dry_run))
        .bind(i64::from(req.deploy_to_staging))
        .bind(req.staging_domain.clone())
        .bind(r.ir_hash.clone().unwrap_or_default())
        .bind(template_id.map(str::to_owned))
        .bind(if r.success { "completed" } else { "failed" })
        .bind(r.errors.first().cloned())
        .bind(state_str(WorkflowState::Draft))
        .bind(i64::from(r.total_modules))
        .bind(i64::from(r.total_lessons))
        .bind(i64::from(r.full_lessons_generated))
        .bind(i64::from(r.quiz_questions_count))
        .bind(r.evidence_pack_path.clone())
        .bind(origin.correlation_id.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
        Ok(())
    }

    /// The course `course_id` of `tenant`, with its evidence files and workflow history.
    ///
    /// # Errors
    /// [`CourseFactoryError::CourseNotFound`] (also for another tenant's course), [`CourseFactoryError::Store`].
    pub async fn course(&self, tenant: &str, course_id: &str) -> Result<CourseRecord, CourseFactoryError> {
        let pool = self.events.store().pool();
        let sql = format!("SELECT {COURSE_COLUMNS} FROM course_factory_courses WHERE tenant = $1 AND course_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_owned())
            .bind(course_id.to_owned())
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CourseFactoryError::CourseNotFound(course_id.to_owned()))?;
        let files =
            sqlx::query("SELECT path, media_type, content FROM course_factory_evidence WHERE tenant = $1 AND course_id = $2 ORDER BY path")
                .bind(tenant.to_owned())
                .bind(course_id.to_owned())
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let content: String = r.try_get(2)?;
                    Ok(EvidenceFile { path: r.try_get(0)?, media_type: r.try_get(1)?, size: content.len() as u64 })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let sql = format!("SELECT {TRANSITION_COLUMNS} FROM course_factory_transitions WHERE tenant = $1 AND course_id = $2 ORDER BY seq");
        let transitions = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.to_owned())
            .bind(course_id.to_owned())
            .fetch_all(pool)
            .await?
            .iter()
            .map(transition_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let e = || db("reading a course");
        let request: String = row.try_get(3).map_err(e())?;
        let deployed_at: Option<i64> = row.try_get(19).map_err(e())?;
        Ok(CourseRecord {
            course_id: row.try_get(0).map_err(e())?,
            tenant_id: tenant.to_owned(),
            title: row.try_get(1).map_err(e())?,
            language: row.try_get(2).map_err(e())?,
            request: serde_json::from_str(&request).unwrap_or(Value::Null),
            dry_run: row.try_get::<i64, _>(4).map_err(e())? != 0,
            deploy_to_staging: row.try_get::<i64, _>(5).map_err(e())? != 0,
            staging_domain: row.try_get(6).map_err(e())?,
            ir_hash: row.try_get(7).map_err(e())?,
            template_id: row.try_get(8).map_err(e())?,
            generation_status: row.try_get(9).map_err(e())?,
            error_message: row.try_get(10).map_err(e())?,
            workflow_state: state_col(&row, 11, "course_factory_courses", "workflow_state")?,
            total_modules: count(&row, 12)?,
            total_lessons: count(&row, 13)?,
            full_lessons_generated: count(&row, 14)?,
            quiz_questions_count: count(&row, 15)?,
            evidence_pack_path: row.try_get(16).map_err(e())?,
            evidence_files: files,
            deployed: row.try_get::<i64, _>(17).map_err(e())? != 0,
            staging_url: row.try_get(18).map_err(e())?,
            deployed_at: deployed_at.map(iso),
            transitions,
            created_at: iso(row.try_get(20).map_err(e())?),
            updated_at: iso(row.try_get(21).map_err(e())?),
        })
    }

    /// Moves a course along the state machine (CF-B11..B13, CF-F6): the stored state must be `from_state`
    /// (409 `state_mismatch`), the edge must exist (409 `invalid_transition`), and review → publish_ready
    /// needs a consumed approval of the gate IR's hash that no other transition used (chain B). Stores the
    /// transition and emits `course.workflow.transitioned` in one transaction.
    ///
    /// # Errors
    /// The [`CourseFactoryError`] named above, [`CourseFactoryError::CourseNotFound`],
    /// [`CourseFactoryError::Store`].
    pub async fn transition(&self, origin: &Origin, q: &TransitionQuery) -> Result<WorkflowTransition, CourseFactoryError> {
        let mut tx = self.events.store().begin().await?;
        let (state, status) = course_state(&mut tx, origin.tenant(), &q.course_id).await?;
        if status != "completed" {
            return Err(CourseFactoryError::CourseNotReady(q.course_id.clone()));
        }
        if state != q.from_state {
            return Err(CourseFactoryError::StateMismatch { expected: state_str(q.from_state), actual: state_str(state).into() });
        }
        let m = Move {
            course_id: &q.course_id,
            from: q.from_state,
            to: q.to_state,
            actor: &q.actor,
            reason: q.reason.as_deref(),
            approval_id: q.approval_id.as_deref(),
            rollback_of: None,
        };
        self.apply(tx, origin, &m).await
    }

    /// Rolls back transition `transition_id` (CF-B13): the course must still be in its target state, and
    /// moves back to its `rollback_state` through the same checks as a transition, so re-entering
    /// publish_ready needs a new approval (403 `approval_required`, D-7).
    ///
    /// # Errors
    /// [`CourseFactoryError::TransitionNotFound`], [`CourseFactoryError::RollbackNotAllowed`] and the
    /// errors of [`CourseFactoryService::transition`].
    pub async fn rollback(&self, origin: &Origin, q: &RollbackQuery) -> Result<WorkflowTransition, CourseFactoryError> {
        let mut tx = self.events.store().begin().await?;
        let (state, status) = course_state(&mut tx, origin.tenant(), &q.course_id).await?;
        if status != "completed" {
            return Err(CourseFactoryError::CourseNotReady(q.course_id.clone()));
        }
        let sql = format!(
            "SELECT {TRANSITION_COLUMNS} FROM course_factory_transitions WHERE tenant = $1 AND course_id = $2 AND transition_id = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(origin.tenant().to_owned())
            .bind(q.course_id.clone())
            .bind(q.transition_id.clone())
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(|| CourseFactoryError::TransitionNotFound(q.transition_id.clone()))?;
        let original = transition_from_row(&row)?;
        let Some(target) = original.rollback_state.filter(|_| original.can_rollback) else {
            return Err(CourseFactoryError::RollbackNotAllowed(q.transition_id.clone()));
        };
        if state != original.to_state {
            return Err(CourseFactoryError::StateMismatch { expected: state_str(original.to_state), actual: state_str(state).into() });
        }
        let m = Move {
            course_id: &q.course_id,
            from: state,
            to: target,
            actor: &q.actor,
            reason: Some(&q.reason),
            approval_id: q.approval_id.as_deref(),
            rollback_of: Some(&q.transition_id),
        };
        self.apply(tx, origin, &m).await
    }

    /// Checks the edge and the gate, stores the move and its event.
    async fn apply(&self, mut tx: Tx, origin: &Origin, m: &Move<'_>) -> Result<WorkflowTransition, CourseFactoryError> {
        let tenant = origin.tenant().to_owned();
        if !allowed(m.from, m.to) {
            return Err(CourseFactoryError::InvalidTransition { from: state_str(m.from), to: state_str(m.to) });
        }
        let transition_id = uuid::Uuid::new_v4().to_string();
        let requires_approval = gated(m.from, m.to);
        let approval_id = if requires_approval {
            let gate = ir_plan::gate_ir(&tenant, m.course_id, m.to).normalized()?;
            let validation = ir_plan::validate(&gate)?;
            let Some(id) = m.approval_id else {
                return Err(CourseFactoryError::ApprovalRequired {
                    reason: format!(
                        "`{}` -> `{}` needs `approval_id`: a consumed ir_governance approval of ir_hash {}",
                        state_str(m.from),
                        state_str(m.to),
                        validation.ir_hash
                    ),
                    ir_hash: validation.ir_hash.clone(),
                    validation: Box::new(validation),
                });
            };
            let id = resolve_approval(&mut tx, &tenant, &validation.ir_hash, Some(id)).await?.unwrap_or_else(|| id.to_owned());
            claim_approval(&mut tx, &tenant, &id, m.course_id, &transition_id).await?;
            Some(id)
        } else {
            None
        };
        let now = now_ms();
        let changed = sqlx::query(
            "UPDATE course_factory_courses SET workflow_state = $1, updated_at = $2 WHERE tenant = $3 AND course_id = $4 AND workflow_state = $5",
        )
        .bind(state_str(m.to))
        .bind(now)
        .bind(tenant.clone())
        .bind(m.course_id.to_owned())
        .bind(state_str(m.from))
        .execute(tx.conn())
        .await?;
        if changed.rows_affected() != 1 {
            let (state, _) = course_state(&mut tx, &tenant, m.course_id).await?;
            return Err(CourseFactoryError::StateMismatch { expected: state_str(m.from), actual: state_str(state).into() });
        }
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM course_factory_transitions WHERE tenant = $1 AND course_id = $2")
            .bind(tenant.clone())
            .bind(m.course_id.to_owned())
            .fetch_one(tx.conn())
            .await?
            .try_get(0)?;
        let t = WorkflowTransition {
            transition_id: transition_id.clone(),
            course_id: m.course_id.to_owned(),
            from_state: m.from,
            to_state: m.to,
            requires_approval,
            approval_id: approval_id.clone(),
            approved_by: requires_approval.then(|| m.actor.to_owned()),
            validation_passed: true,
            validation_errors: Vec::new(),
            transitioned_at: iso(now),
            transitioned_by: m.actor.to_owned(),
            reason: m.reason.map(str::to_owned),
            can_rollback: m.to != WorkflowState::Published,
            rollback_state: (m.to != WorkflowState::Archived).then_some(m.from),
            rollback_of: m.rollback_of.map(str::to_owned),
        };
        sqlx::query(
            "INSERT INTO course_factory_transitions (tenant, transition_id, course_id, seq, from_state, to_state, requires_approval, \
             approval_id, approved_by, transitioned_by, reason, can_rollback, rollback_state, rollback_of, transitioned_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(tenant.clone())
        .bind(t.transition_id.clone())
        .bind(t.course_id.clone())
        .bind(seq)
        .bind(state_str(t.from_state))
        .bind(state_str(t.to_state))
        .bind(i64::from(t.requires_approval))
        .bind(t.approval_id.clone())
        .bind(t.approved_by.clone())
        .bind(t.transitioned_by.clone())
        .bind(t.reason.clone())
        .bind(i64::from(t.can_rollback))
        .bind(t.rollback_state.map(state_str))
        .bind(t.rollback_of.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
        let event = CourseWorkflowTransitioned {
            course_id: t.course_id.clone(),
            transition_id: Some(t.transition_id.clone()),
            from_state: t.from_state,
            to_state: t.to_state,
            transitioned_by: t.transitioned_by.clone(),
            requires_approval,
            approval_id,
        };
        self.commit(tx, &[origin.stamp(event.to_event())]).await?;
        Ok(t)
    }
}

/// An evidence file's JSON (the model's plain data types always serialise).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned())
}
