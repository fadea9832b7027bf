//! course_factory over HTTP: the generation sequences read back from the log in order (non-dry, dry,
//! failed), determinism, the workflow state machine with its approval gate fed by real ir_governance
//! approvals (chain B), the escalated `/generate`, the `distribution.created` staging deploy (chain A hop
//! A3) with its edge cases, tenant isolation, and the main flow on PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use brain_events::EventPayload;
use brain_events::course::{
    CourseDeployedStaging, CourseGenerationCompleted, CourseGenerationFailed, CourseGenerationRequested, CourseLandingPageCreated,
    CourseLessonGenerated, CourseOutlineCreated, CourseQuizCreated, CourseWorkflowTransitioned,
};
use brain_events::distribution::{DistributionCreated, Visibility};
use brain_events::ir::IrApprovalConsumed;
use brain_modules::course_factory::model::{CourseLandingPage, CourseLesson, CourseMetadata, CourseModule, CourseOutline, CourseQuiz};
use brain_modules::course_factory::{CourseGenerator, GeneratorError, TemplateGenerator};
use eventstream_core::{Event, Severity};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

const SOURCE: &str = CourseGenerationRequested::SOURCE;
const DOMAIN: &str = "staging.example.com";

fn request(title: &str, dry_run: bool, deploy: bool) -> Value {
    let mut body = json!({
        "tenant_id": TENANT,
        "title": title,
        "description": "Learn to plan a monthly household budget, track spending and build savings step by step.",
        "language": "en",
        "target_audiences": ["employees", "parents"],
        "full_lessons_count": 3,
        "dry_run": dry_run,
    });
    if deploy {
        body["deploy_to_staging"] = json!(true);
        body["staging_domain"] = json!(DOMAIN);
    }
    body
}

async fn generate(app: &App, corr: &str, body: Value) -> Value {
    let (status, r) = app.call(Method::POST, "/api/course-factory/generate", TENANT, Some(corr), Some(body)).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["success"], true, "{r}");
    r
}

/// The types of course_factory's own events (`course.*`) with correlation id `corr`, in log order; the
/// course_distribution subscriber's `distribution.created` carries the same correlation id and is left out.
fn types_with_corr(events: &[Event], corr: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.correlation_id.as_deref() == Some(corr) && e.event_type.as_str().starts_with("course."))
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

fn with_corr<'a>(events: &'a [Event], t: &str, corr: &str) -> Vec<&'a Event> {
    of_type(events, t).into_iter().filter(|e| e.correlation_id.as_deref() == Some(corr)).collect()
}

async fn wait_completed(app: &App, corr: &str) -> Vec<Event> {
    app.wait_events("course.generation.completed or failed", |evs| {
        evs.iter().any(|e| {
            e.correlation_id.as_deref() == Some(corr)
                && (e.event_type.as_str() == CourseGenerationCompleted::TYPE || e.event_type.as_str() == CourseGenerationFailed::TYPE)
        })
    })
    .await
}

/// Issues and consumes an ir_governance approval of `hash` through its routes; returns the approval id.
async fn approve(app: &App, hash: &str) -> String {
    let (status, b) = app.call(Method::POST, &format!("/api/ir/approvals?ir_hash={hash}"), TENANT, Some("corr-approve"), None).await;
    assert_eq!(status, 201, "{b}");
    let (id, token) = (b["approval_id"].as_str().unwrap_or_default().to_owned(), b["token"].as_str().unwrap_or_default().to_owned());
    let body = json!({"tenant_id": TENANT, "ir_hash": hash, "token": token});
    let (status, c) =
        app.call(Method::POST, "/api/ir/approvals/consume?consumed_by=reviewer", TENANT, Some("corr-approve"), Some(body)).await;
    assert_eq!((status, c["success"].as_bool()), (200, Some(true)), "{c}");
    // B2: the consume event is in the log before course_factory's projection (B3) can see it.
    app.wait_events("ir.approval_consumed", |evs| {
        of_type(evs, IrApprovalConsumed::TYPE).iter().any(|e| field(e, "approval_id") == &json!(id))
    })
    .await;
    id
}

/// Calls `POST path` until it answers something else than `retry_code` (the projection lags the consume
/// by one consumer hop, D-15), at most 30 s.
async fn post_until_visible(app: &App, path: &str, body: Option<Value>, retry_code: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, b) = app.call(Method::POST, path, TENANT, Some("corr-gate"), body.clone()).await;
        if b["code"] != retry_code {
            return (status, b);
        }
        assert!(Instant::now() < deadline, "still {retry_code}: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn transition_path(course: &str, from: &str, to: &str, approval: Option<&str>) -> String {
    let mut p =
        format!("/api/course-factory/workflow/transition?course_id={course}&from_state={from}&to_state={to}&actor=ann&reason=check");
    if let Some(a) = approval {
        p.push_str(&format!("&approval_id={a}"));
    }
    p
}

async fn transition(app: &App, course: &str, from: &str, to: &str) -> (u16, Value) {
    app.call(Method::POST, &transition_path(course, from, to, None), TENANT, Some("corr-wf"), None).await
}

#[tokio::test]
async fn non_dry_generation_writes_every_event_in_order_with_its_evidence_pack() {
    let app = App::start(fast_config()).await;
    let corr = "corr-cf-full";
    let r = generate(&app, corr, request("Household budgeting for beginners", false, false)).await;
    let course_id = r["course_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(course_id.len(), 36);
    let (modules, lessons) = (r["total_modules"].as_u64().unwrap_or(0), r["total_lessons"].as_u64().unwrap_or(0));
    assert!((4..=6).contains(&modules) && (12..=30).contains(&lessons), "{r}");
    assert_eq!((r["full_lessons_generated"].as_u64(), r["quiz_questions_count"].as_u64()), (Some(3), Some(15)));
    let minutes = r["outline"]["total_estimated_duration_minutes"].as_u64().unwrap_or(0);
    assert!((60..=3600).contains(&minutes), "{minutes}");
    let ir_hash = r["ir_hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(ir_hash.len(), 64);

    let events = wait_completed(&app, corr).await;
    let mut want = vec![CourseGenerationRequested::TYPE, CourseOutlineCreated::TYPE];
    want.extend([CourseLessonGenerated::TYPE; 3]);
    want.extend([CourseQuizCreated::TYPE, CourseLandingPageCreated::TYPE, CourseGenerationCompleted::TYPE]);
    assert_eq!(types_with_corr(&events, corr), want);
    for e in events.iter().filter(|e| e.correlation_id.as_deref() == Some(corr) && e.event_type.as_str().starts_with("course.")) {
        assert_envelope(e, SOURCE, TENANT, Some(corr));
        assert_eq!(field(e, "course_id"), &json!(course_id), "{}", e.event_type);
    }
    let requested = with_corr(&events, CourseGenerationRequested::TYPE, corr)[0];
    assert_eq!((field(requested, "tenant_id"), field(requested, "dry_run")), (&json!(TENANT), &json!(false)));
    assert_eq!(field(requested, "target_audiences"), &json!(["employees", "parents"]));
    let outline = with_corr(&events, CourseOutlineCreated::TYPE, corr)[0];
    assert_eq!((field(outline, "modules_count").as_u64(), field(outline, "total_lessons").as_u64()), (Some(modules), Some(lessons)));
    let lesson_events = with_corr(&events, CourseLessonGenerated::TYPE, corr);
    let first_module = &r["outline"]["modules"][0];
    for (i, e) in lesson_events.iter().enumerate() {
        assert_eq!(field(e, "lesson_index").as_u64(), Some(i as u64 + 1));
        assert!(field(e, "content_length").as_u64().unwrap_or(0) > 200);
        // The template's first module has at least three lessons: the three full ones are its.
        assert_eq!(field(e, "module_id"), &first_module["module_id"]);
        assert_eq!(field(e, "lesson_id"), &first_module["lessons"][i]["lesson_id"]);
    }
    let quiz = with_corr(&events, CourseQuizCreated::TYPE, corr)[0];
    assert_eq!((field(quiz, "question_count").as_u64(), field(quiz, "question_ids").as_array().map(Vec::len)), (Some(15), Some(15)));
    let landing = with_corr(&events, CourseLandingPageCreated::TYPE, corr)[0];
    assert_eq!(
        (field(landing, "sections_count").as_u64(), field(landing, "has_hero"), field(landing, "has_pricing")),
        (Some(7), &json!(true), &json!(false))
    );
    assert_eq!(field(landing, "landing_page_id"), &r["landing_page"]["landing_page_id"]);
    let done = with_corr(&events, CourseGenerationCompleted::TYPE, corr)[0];
    assert_eq!((field(done, "total_lessons").as_u64(), field(done, "full_lessons_generated").as_u64()), (Some(lessons), Some(3)));
    assert_eq!((field(done, "dry_run"), field(done, "deployed"), field(done, "language")), (&json!(false), &json!(false), &json!("en")));
    assert_eq!(field(done, "evidence_pack_path"), &json!(format!("sql://course_factory_evidence/{course_id}")));
    assert!(field(done, "execution_time_seconds").is_f64());

    // The course record and its evidence pack.
    let (status, c) = app.get(&format!("/api/course-factory/courses/{course_id}")).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        (c["workflow_state"].as_str(), c["deployed"].as_bool(), c["ir_hash"].as_str()),
        (Some("draft"), Some(false), Some(ir_hash.as_str()))
    );
    let files: Vec<&str> =
        c["evidence_files"].as_array().map(|a| a.iter().filter_map(|f| f["path"].as_str()).collect()).unwrap_or_default();
    assert_eq!(files.len(), 6, "{files:?}");
    for f in ["landing.json", "outline.json", "quiz.json"] {
        assert!(files.contains(&f), "{files:?}");
    }
    assert_eq!(files.iter().filter(|f| f.starts_with("lessons/") && f.ends_with(".md")).count(), 3);

    // Another tenant sees nothing of it.
    let (status, b) = app.call(Method::GET, &format!("/api/course-factory/courses/{course_id}"), "other", None, None).await;
    assert_eq!((status, b["code"].as_str()), (404, Some("course_not_found")));
    let path = transition_path(&course_id, "draft", "review", None);
    let (status, b) = app.call(Method::POST, &path, "other", None, None).await;
    assert_eq!((status, b["code"].as_str()), (404, Some("course_not_found")));

    // The same request gives the same content and IR hash; only the ids differ.
    let again = generate(&app, "corr-cf-again", request("Household budgeting for beginners", false, false)).await;
    assert_ne!(again["course_id"], r["course_id"]);
    assert_eq!(again["ir_hash"], r["ir_hash"]);
    let titles = |v: &Value| -> Vec<Value> {
        v["outline"]["modules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m["lessons"].as_array().cloned().unwrap_or_default())
            .map(|l| json!([l["title"], l["estimated_duration_minutes"], l["content_markdown"]]))
            .collect()
    };
    assert_eq!(titles(&again), titles(&r));
    assert_eq!(again["quiz"]["questions"][3]["question_text"], r["quiz"]["questions"][3]["question_text"]);
    app.stop().await;
}

#[tokio::test]
async fn dry_run_has_no_lessons_and_no_evidence() {
    let app = App::start(fast_config()).await;
    let corr = "corr-cf-dry";
    // /dry-run forces dry_run whatever the body says.
    let (status, r) = app
        .call(
            Method::POST,
            "/api/course-factory/dry-run",
            TENANT,
            Some(corr),
            Some(request("Household budgeting for beginners", false, true)),
        )
        .await;
    assert_eq!((status, r["success"].as_bool(), r["dry_run"].as_bool()), (200, Some(true), Some(true)), "{r}");
    assert_eq!((r["full_lessons_generated"].as_u64(), r["evidence_pack_path"].is_null()), (Some(0), true));
    let events = wait_completed(&app, corr).await;
    assert_eq!(
        types_with_corr(&events, corr),
        [
            CourseGenerationRequested::TYPE,
            CourseOutlineCreated::TYPE,
            CourseQuizCreated::TYPE,
            CourseLandingPageCreated::TYPE,
            CourseGenerationCompleted::TYPE
        ]
    );
    let done = with_corr(&events, CourseGenerationCompleted::TYPE, corr)[0];
    assert_eq!(
        (field(done, "dry_run"), field(done, "evidence_pack_path"), field(done, "full_lessons_generated").as_u64()),
        (&json!(true), &Value::Null, Some(0))
    );
    assert_eq!(field(with_corr(&events, CourseGenerationRequested::TYPE, corr)[0], "dry_run"), &json!(true));
    let (status, c) = app.get(&format!("/api/course-factory/courses/{}", r["course_id"].as_str().unwrap_or_default())).await;
    assert_eq!((status, c["evidence_files"].as_array().map(Vec::len), c["dry_run"].as_bool()), (200, Some(0), Some(true)), "{c}");

    // Without quiz and landing page: requested, outline, completed.
    let mut body = request("Household budgeting for beginners", true, false);
    body["generate_quiz"] = json!(false);
    body["generate_landing_page"] = json!(false);
    let r = generate(&app, "corr-cf-bare", body).await;
    assert_eq!(r["quiz_questions_count"], 0);
    let events = wait_completed(&app, "corr-cf-bare").await;
    assert_eq!(
        types_with_corr(&events, "corr-cf-bare"),
        [CourseGenerationRequested::TYPE, CourseOutlineCreated::TYPE, CourseGenerationCompleted::TYPE]
    );
    app.stop().await;
}

/// The original's outline generator (F1): totals left at 0, which the model forbids.
#[derive(Debug)]
struct ZeroTotals;

#[async_trait]
impl CourseGenerator for ZeroTotals {
    fn name(&self) -> &'static str {
        "zero-totals"
    }
    async fn outline(&self, meta: &CourseMetadata) -> Result<CourseOutline, GeneratorError> {
        let mut o = TemplateGenerator.outline(meta).await?;
        o.total_lessons = 0;
        o.total_estimated_duration_minutes = 0;
        Ok(o)
    }
    async fn lesson_content(&self, o: &CourseOutline, m: &CourseModule, l: &CourseLesson) -> Result<String, GeneratorError> {
        TemplateGenerator.lesson_content(o, m, l).await
    }
    async fn quiz(&self, o: &CourseOutline) -> Result<CourseQuiz, GeneratorError> {
        TemplateGenerator.quiz(o).await
    }
    async fn landing_page(&self, o: &CourseOutline, q: Option<&CourseQuiz>) -> Result<CourseLandingPage, GeneratorError> {
        TemplateGenerator.landing_page(o, q).await
    }
}

#[tokio::test]
async fn a_generation_that_breaks_the_model_fails_with_severity_error_and_its_course_id() {
    let app = App::start(brain_modules::ModulesConfig { course_generator: Arc::new(ZeroTotals), ..fast_config() }).await;
    let corr = "corr-cf-fail";
    let (status, r) = app
        .call(
            Method::POST,
            "/api/course-factory/generate",
            TENANT,
            Some(corr),
            Some(request("Household budgeting for beginners", false, false)),
        )
        .await;
    assert_eq!((status, r["success"].as_bool()), (200, Some(false)), "{r}");
    let course_id = r["course_id"].as_str().unwrap_or_default().to_owned();
    assert!(!course_id.is_empty());
    assert!(r["errors"][0].as_str().unwrap_or_default().contains("total_lessons"), "{r}");
    let events = wait_completed(&app, corr).await;
    assert_eq!(types_with_corr(&events, corr), [CourseGenerationRequested::TYPE, CourseGenerationFailed::TYPE]);
    let failed = with_corr(&events, CourseGenerationFailed::TYPE, corr)[0];
    assert_envelope(failed, SOURCE, TENANT, Some(corr));
    assert_eq!(failed.severity, Some(Severity::Error));
    assert_eq!((field(failed, "course_id"), field(failed, "error_type")), (&json!(course_id), &json!("ValidationError")));
    let (status, c) = app.get(&format!("/api/course-factory/courses/{course_id}")).await;
    assert_eq!((status, c["generation_status"].as_str()), (200, Some("failed")), "{c}");
    let (status, b) = transition(&app, &course_id, "draft", "review").await;
    assert_eq!((status, b["code"].as_str()), (409, Some("course_not_ready")));
    app.stop().await;
}

#[tokio::test]
async fn the_workflow_takes_every_allowed_edge_and_gates_publish_ready_on_a_consumed_approval() {
    let app = App::start(fast_config()).await;
    let course = |r: Value| r["course_id"].as_str().unwrap_or_default().to_owned();
    let a = course(generate(&app, "corr-wf-a", request("Household budgeting for beginners", true, false)).await);

    // Refusals: unknown course, stale from_state, illegal edge.
    let (status, b) = transition(&app, "nope", "draft", "review").await;
    assert_eq!((status, b["code"].as_str()), (404, Some("course_not_found")));
    let (status, b) = transition(&app, &a, "review", "draft").await;
    assert_eq!((status, b["code"].as_str(), b["field"].as_str()), (409, Some("state_mismatch"), Some("from_state")));
    let (status, b) = transition(&app, &a, "draft", "published").await;
    assert_eq!((status, b["code"].as_str()), (409, Some("invalid_transition")));

    let ok = |(status, b): (u16, Value)| -> Value {
        assert_eq!(status, 200, "{b}");
        b
    };
    ok(transition(&app, &a, "draft", "review").await);
    let back = ok(transition(&app, &a, "review", "draft").await);
    assert_eq!((back["rollback_state"].as_str(), back["can_rollback"].as_bool()), (Some("review"), Some(true)));
    ok(transition(&app, &a, "draft", "review").await);

    // The gate: no approval, an approval not (yet) consumed, then a consumed one of the gate IR's hash.
    let (status, b) = transition(&app, &a, "review", "publish_ready").await;
    assert_eq!((status, b["code"].as_str(), b["field"].as_str()), (403, Some("approval_required"), Some("approval_id")), "{b}");
    let gate_hash = b["ir_hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!((gate_hash.len(), b["validation_result"]["status"].as_str()), (64, Some("PASS")));
    let (status, b) =
        app.call(Method::POST, &transition_path(&a, "review", "publish_ready", Some("not-consumed")), TENANT, None, None).await;
    assert_eq!((status, b["code"].as_str()), (409, Some("approval_not_yet_visible")));
    let other = approve(&app, &"a".repeat(64)).await;
    let (status, b) =
        post_until_visible(&app, &transition_path(&a, "review", "publish_ready", Some(&other)), None, "approval_not_yet_visible").await;
    assert_eq!((status, b["code"].as_str()), (403, Some("approval_invalid")), "an approval of another IR");
    let approval = approve(&app, &gate_hash).await;
    let (status, t) =
        post_until_visible(&app, &transition_path(&a, "review", "publish_ready", Some(&approval)), None, "approval_not_yet_visible").await;
    assert_eq!((status, t["approval_id"].as_str(), t["requires_approval"].as_bool()), (200, Some(approval.as_str()), Some(true)), "{t}");
    assert_eq!(t["approved_by"], "ann");

    // publish_ready -> review, then the same approval cannot gate again.
    let down = ok(transition(&app, &a, "publish_ready", "review").await);
    let (status, b) = app.call(Method::POST, &transition_path(&a, "review", "publish_ready", Some(&approval)), TENANT, None, None).await;
    assert_eq!((status, b["code"].as_str()), (409, Some("approval_already_used")));

    // Rolling back publish_ready -> review re-enters publish_ready: a new approval is needed (D-7).
    let down_id = down["transition_id"].as_str().unwrap_or_default().to_owned();
    let rollback = |approval: Option<&str>| {
        let mut p = format!("/api/course-factory/workflow/rollback?course_id={a}&transition_id={down_id}&actor=ann&reason=undo");
        if let Some(x) = approval {
            p.push_str(&format!("&approval_id={x}"));
        }
        p
    };
    let (status, b) = app.call(Method::POST, &rollback(None), TENANT, None, None).await;
    assert_eq!((status, b["code"].as_str()), (403, Some("approval_required")), "{b}");
    let second = approve(&app, &gate_hash).await;
    let (status, r) = post_until_visible(&app, &rollback(Some(&second)), None, "approval_not_yet_visible").await;
    assert_eq!((status, r["to_state"].as_str(), r["rollback_of"].as_str()), (200, Some("publish_ready"), Some(down_id.as_str())), "{r}");

    let published = ok(transition(&app, &a, "publish_ready", "published").await);
    assert_eq!(published["can_rollback"], false);
    let p = format!(
        "/api/course-factory/workflow/rollback?course_id={a}&transition_id={}&actor=ann&reason=undo",
        published["transition_id"].as_str().unwrap_or_default()
    );
    let (status, b) = app.call(Method::POST, &p, TENANT, None, None).await;
    assert_eq!((status, b["code"].as_str()), (409, Some("rollback_not_allowed")));
    let archived = ok(transition(&app, &a, "published", "archived").await);
    assert!(archived["rollback_state"].is_null());
    let (status, b) = transition(&app, &a, "archived", "draft").await;
    assert_eq!((status, b["code"].as_str()), (409, Some("invalid_transition")), "archived is terminal");
    let p = format!("/api/course-factory/workflow/rollback?course_id={a}&transition_id=nope&actor=ann&reason=undo");
    let (status, b) = app.call(Method::POST, &p, TENANT, None, None).await;
    assert_eq!((status, b["code"].as_str()), (404, Some("transition_not_found")));

    // The other edges into archived.
    let b_course = course(generate(&app, "corr-wf-b", request("Household budgeting for beginners", true, false)).await);
    ok(transition(&app, &b_course, "draft", "archived").await);
    let c_course = course(generate(&app, "corr-wf-c", request("Household budgeting for beginners", true, false)).await);
    ok(transition(&app, &c_course, "draft", "review").await);
    ok(transition(&app, &c_course, "review", "archived").await);
    let d_course = course(generate(&app, "corr-wf-d", request("Household budgeting for beginners", true, false)).await);
    ok(transition(&app, &d_course, "draft", "review").await);
    let (_, b) = transition(&app, &d_course, "review", "publish_ready").await;
    let d_hash = b["ir_hash"].as_str().unwrap_or_default().to_owned();
    assert_ne!(d_hash, gate_hash, "the gate IR names the course");
    let d_approval = approve(&app, &d_hash).await;
    let (status, _) = post_until_visible(
        &app,
        &transition_path(&d_course, "review", "publish_ready", Some(&d_approval)),
        None,
        "approval_not_yet_visible",
    )
    .await;
    assert_eq!(status, 200);
    ok(transition(&app, &d_course, "publish_ready", "archived").await);

    // One event per stored transition, from the state machine, with the approval on gated ones.
    let (_, rec) = app.get(&format!("/api/course-factory/courses/{a}")).await;
    assert_eq!((rec["workflow_state"].as_str(), rec["transitions"].as_array().map(Vec::len)), (Some("archived"), Some(8)), "{rec}");
    let events = app.wait_events("14 workflow events", |evs| of_type(evs, CourseWorkflowTransitioned::TYPE).len() >= 14).await;
    let moves = of_type(&events, CourseWorkflowTransitioned::TYPE);
    assert_eq!(moves.len(), 14);
    for e in &moves {
        assert_envelope(e, CourseWorkflowTransitioned::SOURCE, TENANT, None);
        assert_eq!(e.source.as_str(), "workflow_state_machine");
    }
    let gated: Vec<&&Event> = moves.iter().filter(|e| field(e, "requires_approval") == &json!(true)).collect();
    assert_eq!(gated.len(), 3);
    let ids: Vec<&Value> = gated.iter().map(|e| field(e, "approval_id")).collect();
    assert_eq!(ids, [&json!(approval), &json!(second), &json!(d_approval)]);
    app.stop().await;
}

#[tokio::test]
async fn an_escalating_course_ir_needs_one_consumed_approval_of_its_hash_per_generation() {
    let app = App::start(fast_config()).await;
    let body = request("Going live with your household budget", true, false);
    let (status, b) = app.call(Method::POST, "/api/course-factory/generate", TENANT, Some("corr-esc"), Some(body.clone())).await;
    assert_eq!((status, b["code"].as_str(), b["error"].as_str()), (403, Some("approval_required"), Some("IR requires approval")), "{b}");
    let hash = b["ir_hash"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        (b["validation_result"]["status"].as_str(), b["validation_result"]["ir_hash"].as_str()),
        (Some("ESCALATE"), Some(hash.as_str()))
    );
    // /generate-ir gives the same hash to approve.
    let (status, ir) = app.post("/api/course-factory/generate-ir", body.clone()).await;
    assert_eq!((status, ir["steps"].as_array().map(Vec::len)), (200, Some(5)), "{ir}");
    let (status, v) = app.post("/api/course-factory/validate-ir", ir).await;
    assert_eq!((status, v["status"].as_str(), v["ir_hash"].as_str()), (200, Some("ESCALATE"), Some(hash.as_str())), "{v}");

    let approval = approve(&app, &hash).await;
    let (status, r) = post_until_visible(&app, "/api/course-factory/generate", Some(body.clone()), "approval_required").await;
    assert_eq!((status, r["success"].as_bool(), r["approval_id"].as_str()), (200, Some(true), Some(approval.as_str())), "{r}");
    assert_eq!(r["ir_hash"], json!(hash));
    // The approval is used up.
    let (status, b) = app.call(Method::POST, "/api/course-factory/generate", TENANT, Some("corr-esc-2"), Some(body.clone())).await;
    assert_eq!((status, b["code"].as_str()), (403, Some("approval_required")));
    let path = format!("/api/course-factory/generate?approval_id={approval}");
    let (status, b) = app.call(Method::POST, &path, TENANT, Some("corr-esc-3"), Some(body)).await;
    assert_eq!((status, b["code"].as_str()), (409, Some("approval_already_used")));
    // Refused generations wrote nothing.
    let events = app.all_events().await;
    for corr in ["corr-esc", "corr-esc-2", "corr-esc-3"] {
        assert!(types_with_corr(&events, corr).is_empty(), "{corr}");
    }
    app.stop().await;
}

fn distribution(course_id: &str, tenant: &str, derived_from: Option<&str>) -> Event {
    let mut e = DistributionCreated {
        distribution_id: format!("dist_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
        course_id: course_id.to_owned(),
        slug: "household-budgeting".into(),
        language: "en".into(),
        title: "Household budgeting".into(),
        target_group: vec!["employees".into()],
        visibility: Visibility::Private,
        version: "v1".into(),
        derived_from: derived_from.map(str::to_owned),
        created_at: "2026-01-01T00:00:00Z".into(),
    }
    .to_event();
    e.tenant_id = tenant.parse().ok();
    e.correlation_id = Some(format!("corr-dist-{course_id}"));
    e
}

async fn deploys_only_root_distributions_of_deployable_courses_once(app: &App) {
    let id = |r: Value| r["course_id"].as_str().unwrap_or_default().to_owned();
    let deployable = id(generate(app, "corr-d1", request("Household budgeting for beginners", false, true)).await);
    let dry = id(generate(app, "corr-d2", request("Household budgeting for beginners", true, true)).await);
    let no_deploy = id(generate(app, "corr-d3", request("Household budgeting for beginners", false, false)).await);
    let sentinel = id(generate(app, "corr-d4", request("Household budgeting for beginners", false, true)).await);

    // Events that must not deploy, then the root of the deployable course, published twice (a
    // redelivery: same event id), then a second root for it, then another tenant's event.
    for e in [
        distribution(&deployable, TENANT, Some("dist_parent")),
        distribution(&dry, TENANT, None),
        distribution(&no_deploy, TENANT, None),
        distribution("unknown-course", TENANT, None),
    ] {
        app.events.publish(e).await.expect("publish");
    }
    let root = distribution(&deployable, TENANT, None);
    app.events.publish(root.clone()).await.expect("publish");
    app.events.publish(root.clone()).await.expect("publish again");
    app.events.publish(distribution(&deployable, TENANT, None)).await.expect("publish");
    app.events.publish(distribution(&sentinel, "other", None)).await.expect("publish");
    let sentinel_root = distribution(&sentinel, TENANT, None);
    app.events.publish(sentinel_root.clone()).await.expect("publish");

    // The subscriber handles events in log order: once the sentinel is deployed, all the rest was seen.
    let events = app
        .wait_events("the sentinel's deploy", |evs| {
            of_type(evs, CourseDeployedStaging::TYPE).iter().any(|e| field(e, "course_id") == &json!(sentinel))
        })
        .await;
    let deploys = of_type(&events, CourseDeployedStaging::TYPE);
    assert_eq!(deploys.len(), 2, "one deploy each for the deployable course and the sentinel");
    let d = deploys.iter().find(|e| field(e, "course_id") == &json!(deployable)).expect("the deployable course's deploy");
    // The cause is a root `distribution.created` of the course: the one published here, or the one the
    // course_distribution subscriber created from the generation, whichever came first in the log.
    let cause = |d: &Event, course: &str| {
        let created = of_type(&events, DistributionCreated::TYPE);
        let c = created.iter().find(|e| Some(e.id.as_str()) == d.causation_id.as_deref()).copied().expect("the cause is in the log");
        assert_eq!((field(c, "course_id"), field(c, "derived_from")), (&json!(course), &Value::Null), "a root distribution of the course");
        c.clone()
    };
    let c = cause(d, &deployable);
    assert_envelope(d, CourseDeployedStaging::SOURCE, TENANT, c.correlation_id.as_deref());
    let url = format!("https://{DOMAIN}/courses/{deployable}");
    assert_eq!((field(d, "staging_url"), field(d, "staging_domain")), (&json!(url), &json!(DOMAIN)));
    let s = deploys.iter().find(|e| field(e, "course_id") == &json!(sentinel)).expect("the sentinel's deploy");
    cause(s, &sentinel);

    let (_, c) = app.get(&format!("/api/course-factory/courses/{deployable}")).await;
    assert_eq!((c["deployed"].as_bool(), c["staging_url"].as_str()), (Some(true), Some(url.as_str())), "{c}");
    assert!(c["deployed_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    for other in [&dry, &no_deploy] {
        let (_, c) = app.get(&format!("/api/course-factory/courses/{other}")).await;
        assert_eq!(c["deployed"], false, "{c}");
    }
}

#[tokio::test]
async fn distribution_created_deploys_a_root_distribution_of_a_deployable_course_exactly_once() {
    let app = App::start(fast_config()).await;
    deploys_only_root_distributions_of_deployable_courses_once(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn course_factory_main_flow_on_postgres() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    deploys_only_root_distributions_of_deployable_courses_once(&app).await;
    let corr = "corr-pg";
    let r = generate(&app, corr, request("Household budgeting for beginners", false, false)).await;
    let events = wait_completed(&app, corr).await;
    assert_eq!(types_with_corr(&events, corr).len(), 8);
    let course = r["course_id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = transition(&app, &course, "draft", "review").await;
    assert_eq!(status, 200);
    let (_, b) = transition(&app, &course, "review", "publish_ready").await;
    let approval = approve(&app, b["ir_hash"].as_str().unwrap_or_default()).await;
    let (status, t) =
        post_until_visible(&app, &transition_path(&course, "review", "publish_ready", Some(&approval)), None, "approval_not_yet_visible")
            .await;
    assert_eq!((status, t["approval_id"].as_str()), (200, Some(approval.as_str())), "{t}");
    app.stop().await;
}
