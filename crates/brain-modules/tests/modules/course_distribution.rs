//! course_distribution: every route and its event read back from the log (CD-T1), the subscriber on
//! injected course events (CD-T2), tenant isolation, the escaped HTML page, and PostgreSQL with
//! concurrent view counting. Each test has its own store (CD-T3).

use std::time::{Duration, Instant};

use brain_events::EventPayload;
use brain_events::course::{CourseDeployedStaging, CourseGenerationCompleted};
use brain_events::distribution::{
    DistributionCreated, DistributionDeleted, DistributionEnrollmentClicked, DistributionMicroNicheCreated, DistributionPublished,
    DistributionUnpublished, DistributionUpdated, DistributionVersionBumped, DistributionViewed,
};
use eventstream::store::{DeadLetterFilter, DeadLetterKind};
use eventstream_core::{Event, GroupName};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

const SOURCE: &str = "course_distribution";
const DESCRIPTION: &str = "A practical course about personal finance, budgets and saving for everyone.";

fn seo() -> Value {
    json!({"meta_title": "Finance for everyone", "meta_description": "Learn budgets, saving and investing in clear steps, with examples.", "keywords": ["finance", "budget"]})
}

fn create_body(slug: &str, title: &str) -> Value {
    json!({
        "course_id": "course_fin_1",
        "slug": slug,
        "language": "de",
        "title": title,
        "description": DESCRIPTION,
        "target_group": ["students", "families"],
        "seo": seo(),
        "cta": {"label": "Jetzt starten", "action": "open_course", "url": "https://courses.example/fin"},
    })
}

/// Creates a distribution as `tenant`; returns its id.
async fn create(app: &App, tenant: &str, slug: &str, title: &str) -> String {
    let (status, v) = app.call(Method::POST, "/api/courses/distribution/create", tenant, None, Some(create_body(slug, title))).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["slug"], slug);
    v["distribution_id"].as_str().expect("id").to_owned()
}

/// Events of type `t` whose payload field `k` is `v`.
fn with<'a>(events: &'a [Event], t: &str, k: &str, v: &str) -> Vec<&'a Event> {
    of_type(events, t).into_iter().filter(|e| field(e, k) == v).collect()
}

/// A `course.generation.completed` of `tenant` for `course_id`, as course_factory produces it.
fn completed(tenant: &str, course_id: &str, title: Option<&str>, description: &str, dry_run: Option<bool>) -> Event {
    let p = CourseGenerationCompleted {
        course_id: course_id.into(),
        total_modules: 3,
        total_lessons: 9,
        full_lessons_generated: 9,
        quiz_questions_count: 5,
        evidence_pack_path: Some(format!("/data/{course_id}")),
        execution_time_seconds: 1.5,
        deployed: false,
        staging_url: None,
        title: title.map(str::to_owned),
        description: title.map(|_| description.to_owned()),
        language: title.map(|_| "de".to_owned()),
        target_audiences: title.map(|_| vec!["Studierende".to_owned(), "Familien".to_owned()]),
        dry_run,
    };
    let mut e = p.to_event();
    e.tenant_id = tenant.parse().ok();
    e.correlation_id = Some(format!("corr-{course_id}"));
    e
}

fn deployed(tenant: &str, course_id: &str, url: &str) -> Event {
    let mut e = CourseDeployedStaging {
        course_id: course_id.into(),
        staging_url: url.into(),
        staging_domain: "staging.example".into(),
        deployed_at: "2026-03-01T10:00:00Z".into(),
    }
    .to_event();
    e.tenant_id = tenant.parse().ok();
    e
}

/// Waits for the `distribution.created` the subscriber writes for `course_id` (caused by `cause`).
async fn wait_created(app: &App, course_id: &str) -> Event {
    let events =
        app.wait_events("distribution.created", |ev| !with(ev, DistributionCreated::TYPE, "course_id", course_id).is_empty()).await;
    with(&events, DistributionCreated::TYPE, "course_id", course_id)[0].clone()
}

#[tokio::test]
async fn every_route_writes_its_event_to_the_log() {
    let app = App::start(fast_config()).await;
    let corr = Some("req-cd-1");

    // create (private), read back
    let (status, v) = app
        .call(
            Method::POST,
            "/api/courses/distribution/create",
            TENANT,
            corr,
            Some(create_body("finanzen-fuer-alle", "Finanzen für alle Menschen")),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["distribution_id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("dist_") && id.len() == 21 && id[5..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let (status, d) = app.get(&format!("/api/courses/distribution/{id}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!((d["visibility"].as_str(), d["version"].as_str(), d["view_count"].as_u64()), (Some("private"), Some("v1"), Some(0)));
    assert_eq!(d["seo"]["keywords"], json!(["finance", "budget"]));
    // A duplicate slug in the same tenant is 409.
    let (status, v) = app.post("/api/courses/distribution/create", create_body("finanzen-fuer-alle", "Another title here")).await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (409, Some("slug_taken"), Some("slug")), "{v}");
    // Private: not public, not enrollable (D-9).
    assert_eq!(app.get("/api/courses/public/finanzen-fuer-alle").await.0, 404);
    assert_eq!(app.post("/api/courses/public/finanzen-fuer-alle/track-enrollment", json!({})).await.0, 404);

    // publish
    let (status, v) = app.call(Method::POST, &format!("/api/courses/distribution/{id}/publish"), TENANT, corr, None).await;
    assert_eq!((status, &v["published"]), (200, &json!(true)), "{v}");
    let (_, d) = app.get(&format!("/api/courses/distribution/{id}")).await;
    assert_eq!(d["visibility"], "public");
    assert!(d["published_at"].as_f64().is_some());
    let (status, list) = app.get("/api/courses/public?language=de").await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)), "{list}");
    assert_eq!(list[0]["slug"], "finanzen-fuer-alle");
    assert_eq!(app.get("/api/courses/public?language=en").await.1, json!([]));

    // viewed twice: 1 then 2
    let (status, v) = app.get("/api/courses/public/finanzen-fuer-alle").await;
    assert_eq!((status, v["view_count"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(v["derived_from_slug"], Value::Null);
    assert_eq!(v["cta"]["label"], "Jetzt starten");
    assert_eq!(app.get("/api/courses/public/finanzen-fuer-alle").await.1["view_count"], 2);
    // the outline: the placeholder, no view
    let (status, o) = app.get("/api/courses/public/finanzen-fuer-alle/outline").await;
    assert_eq!((status, o["total_chapters"].as_u64(), o["placeholder"].as_bool()), (200, Some(8), Some(true)), "{o}");

    // enrollment
    let (status, v) = app.post("/api/courses/public/finanzen-fuer-alle/track-enrollment", json!({})).await;
    assert_eq!((status, &v["tracked"], v["enrollment_count"].as_u64()), (200, &json!(true), Some(1)), "{v}");

    // micro-niche, with the original's field name for the parent
    let body = json!({
        "parent_course_id": id,
        "new_slug": "finanzen-fuer-studierende",
        "language": "de",
        "derived_content": {"title_override": "Finanzen für Studierende", "target_group_override": ["students"]},
        "seo": seo(),
        "cta": {"label": "Jetzt starten", "action": "open_course"},
    });
    let (status, v) = app.call(Method::POST, "/api/courses/distribution/micro-niche", TENANT, corr, Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let child = v["distribution_id"].as_str().expect("child").to_owned();
    let (_, c) = app.get(&format!("/api/courses/distribution/{child}")).await;
    assert_eq!((c["derived_from"].as_str(), c["course_id"].as_str()), (Some(id.as_str()), Some("course_fin_1")));
    assert_eq!((c["title"].as_str(), c["description"].as_str()), (Some("Finanzen für Studierende"), Some(DESCRIPTION)));
    assert_eq!(c["target_group"], json!(["students"]));

    // version bump v1 -> v2
    let (status, v) = app.call(Method::POST, &format!("/api/courses/distribution/{id}/version-bump"), TENANT, corr, None).await;
    assert_eq!((status, v["old_version"].as_str(), v["new_version"].as_str()), (200, Some("v1"), Some("v2")), "{v}");

    // update: one changed field -> one event; the same values again -> none
    let patch = json!({"title": "Finanzen für alle, neu", "language": "de"});
    let (status, v) = app.call(Method::PATCH, &format!("/api/courses/distribution/{id}"), TENANT, corr, Some(patch.clone())).await;
    assert_eq!((status, v["title"].as_str()), (200, Some("Finanzen für alle, neu")), "{v}");
    assert_eq!(app.call(Method::PATCH, &format!("/api/courses/distribution/{id}"), TENANT, corr, Some(patch)).await.0, 200);
    // A slug change to a taken slug is 409.
    let (status, v) = app
        .call(Method::PATCH, &format!("/api/courses/distribution/{id}"), TENANT, None, Some(json!({"slug": "finanzen-fuer-studierende"})))
        .await;
    assert_eq!((status, v["code"].as_str()), (409, Some("slug_taken")), "{v}");

    // unpublish: 404 for an unknown id; the detail is gone; a second unpublish emits nothing
    assert_eq!(app.post("/api/courses/distribution/dist_0000000000000000/unpublish", json!({})).await.0, 404);
    assert_eq!(app.post("/api/courses/distribution/dist_0000000000000000/publish", json!({})).await.0, 404);
    let (status, v) = app.call(Method::POST, &format!("/api/courses/distribution/{id}/unpublish"), TENANT, corr, None).await;
    assert_eq!((status, &v["published"]), (200, &json!(false)), "{v}");
    assert_eq!(app.post(&format!("/api/courses/distribution/{id}/unpublish"), json!({})).await.0, 200);
    assert_eq!(app.get("/api/courses/public/finanzen-fuer-alle").await.0, 404);
    let (_, d) = app.get(&format!("/api/courses/distribution/{id}")).await;
    assert!(d["published_at"].as_f64().is_some(), "unpublish keeps published_at: {d}");

    // delete the child
    let (status, _) = app.call(Method::DELETE, &format!("/api/courses/distribution/{child}"), TENANT, corr, None).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&format!("/api/courses/distribution/{child}")).await.0, 404);
    assert_eq!(app.call(Method::DELETE, &format!("/api/courses/distribution/{child}"), TENANT, None, None).await.0, 404);

    // The log: every event once, in order, stamped with the tenant and the request's correlation id.
    let events = app
        .wait_events("the deleted event", |ev| {
            !of_type(ev, DistributionDeleted::TYPE).is_empty() && of_type(ev, DistributionUnpublished::TYPE).len() == 1
        })
        .await;
    let ours: Vec<&Event> = events.iter().filter(|e| e.event_type.as_str().starts_with("distribution.")).collect();
    let types: Vec<&str> = ours.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            DistributionCreated::TYPE,
            DistributionPublished::TYPE,
            DistributionViewed::TYPE,
            DistributionViewed::TYPE,
            DistributionEnrollmentClicked::TYPE,
            DistributionCreated::TYPE,
            DistributionMicroNicheCreated::TYPE,
            DistributionVersionBumped::TYPE,
            DistributionUpdated::TYPE,
            DistributionUnpublished::TYPE,
            DistributionDeleted::TYPE,
        ]
    );
    for e in &ours {
        assert_envelope(e, SOURCE, TENANT, None);
        assert_eq!(e.meta.schema_version, 1);
    }
    for t in [DistributionCreated::TYPE, DistributionPublished::TYPE, DistributionMicroNicheCreated::TYPE, DistributionVersionBumped::TYPE]
    {
        assert_envelope(of_type(&events, t)[0], SOURCE, TENANT, corr);
    }
    let created = of_type(&events, DistributionCreated::TYPE)[0];
    assert_eq!(
        (field(created, "distribution_id"), field(created, "visibility"), field(created, "derived_from")),
        (&json!(id), &json!("private"), &Value::Null)
    );
    assert!(field(created, "created_at").as_str().is_some_and(|t| t.ends_with('Z')), "{created:?}");
    let published = of_type(&events, DistributionPublished::TYPE)[0];
    assert_eq!(field(published, "seo")["meta_keywords"], json!(["finance", "budget"]));
    let views: Vec<&Value> = of_type(&events, DistributionViewed::TYPE).iter().map(|e| field(e, "view_count")).collect();
    assert_eq!(views, [&json!(1), &json!(2)]);
    assert_eq!(field(of_type(&events, DistributionEnrollmentClicked::TYPE)[0], "cta_type"), "primary_button");
    let child_created = of_type(&events, DistributionCreated::TYPE)[1];
    assert_eq!((field(child_created, "distribution_id"), field(child_created, "derived_from")), (&json!(child), &json!(id)));
    let niche = of_type(&events, DistributionMicroNicheCreated::TYPE)[0];
    assert_eq!(
        (field(niche, "parent_slug"), field(niche, "child_slug")),
        (&json!("finanzen-fuer-alle"), &json!("finanzen-fuer-studierende"))
    );
    assert_eq!(field(niche, "title_override"), "Finanzen für Studierende");
    let bumped = of_type(&events, DistributionVersionBumped::TYPE)[0];
    assert_eq!((field(bumped, "old_version"), field(bumped, "new_version")), (&json!("v1"), &json!("v2")));
    let updated = of_type(&events, DistributionUpdated::TYPE)[0];
    assert_eq!(field(updated, "updated_fields"), &json!(["title"]));
    assert_eq!(field(updated, "old_values"), &json!({"title": "Finanzen für alle Menschen"}));
    assert_eq!(field(updated, "new_values"), &json!({"title": "Finanzen für alle, neu"}));
    let deleted = of_type(&events, DistributionDeleted::TYPE)[0];
    assert_eq!((field(deleted, "distribution_id"), field(deleted, "deleted_by")), (&json!(child), &json!("test-key")));
    app.stop().await;
}

#[tokio::test]
async fn the_public_page_is_html_with_every_user_string_escaped_and_counts_a_view() {
    let app = App::start(fast_config()).await;
    let mut body = create_body("xss-kurs", "<script>alert('x')</script> Kurs");
    body["description"] = json!("<img src=x onerror=alert(1)> a description long enough to pass the fifty character minimum.");
    body["target_group"] = json!(["<b>bold</b>"]);
    body["cta"] = json!({"label": "Go \"now\" <i>", "action": "custom", "url": "https://example.com/?a=1&b=\"2\""});
    let (status, v) = app.post("/api/courses/distribution/create", body).await;
    assert_eq!(status, 201, "{v}");
    let id = v["distribution_id"].as_str().expect("id").to_owned();
    // A script URL never reaches the page: it is refused at the door.
    let (status, v) = app
        .call(
            Method::PATCH,
            &format!("/api/courses/distribution/{id}"),
            TENANT,
            None,
            Some(json!({"cta": {"label": "Click me", "action": "custom", "url": "javascript:alert(1)"}})),
        )
        .await;
    assert_eq!((status, v["field"].as_str()), (422, Some("cta.url")), "{v}");
    app.post(&format!("/api/courses/distribution/{id}/publish"), json!({})).await;

    let resp = app
        .client
        .get(format!("{}/api/courses/public/xss-kurs/page", app.base))
        .header("x-test-tenant", TENANT)
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(resp.headers().get("content-security-policy").is_some());
    let html = resp.text().await.expect("text");
    assert!(html.contains("<h1>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Kurs</h1>"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(html.contains("<li>&lt;b&gt;bold&lt;/b&gt;</li>"), "{html}");
    assert!(html.contains("href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\""), "{html}");
    assert!(html.contains(">Go &quot;now&quot; &lt;i&gt;</a>"), "{html}");
    for raw in ["<script", "<img", "<b>", "<i>"] {
        assert!(!html.contains(raw), "unescaped {raw} in {html}");
    }
    assert!(html.contains("1 views"), "{html}");
    let events = app.wait_events("the page view", |ev| !of_type(ev, DistributionViewed::TYPE).is_empty()).await;
    assert_eq!(field(of_type(&events, DistributionViewed::TYPE)[0], "view_count"), 1);
    // An unknown page is 404.
    let resp = app
        .client
        .get(format!("{}/api/courses/public/no-such-course/page", app.base))
        .header("x-test-tenant", TENANT)
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status().as_u16(), 404);
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_distribution_and_slug_answer_404() {
    let app = App::start(fast_config()).await;
    let id = create(&app, TENANT, "geteilter-kurs", "A course of tenant acme").await;
    app.post(&format!("/api/courses/distribution/{id}/publish"), json!({})).await;
    let other = "globex";
    let paths = [
        (Method::GET, format!("/api/courses/distribution/{id}")),
        (Method::PATCH, format!("/api/courses/distribution/{id}")),
        (Method::DELETE, format!("/api/courses/distribution/{id}")),
        (Method::POST, format!("/api/courses/distribution/{id}/publish")),
        (Method::POST, format!("/api/courses/distribution/{id}/unpublish")),
        (Method::POST, format!("/api/courses/distribution/{id}/version-bump")),
        (Method::GET, "/api/courses/public/geteilter-kurs".to_owned()),
        (Method::GET, "/api/courses/public/geteilter-kurs/outline".to_owned()),
        (Method::GET, "/api/courses/public/geteilter-kurs/page".to_owned()),
        (Method::POST, "/api/courses/public/geteilter-kurs/track-enrollment".to_owned()),
    ];
    for (method, path) in paths {
        let body = (method == Method::PATCH).then(|| json!({"title": "Taken over by globex"}));
        let (status, v) = app.call(method.clone(), &path, other, None, body).await;
        assert_eq!(status, 404, "{method} {path}: {v}");
    }
    let micro = json!({"parent_distribution_id": id, "new_slug": "globex-variante", "language": "de", "seo": seo(), "cta": {"label": "Start now", "action": "contact"}});
    let (status, v) = app.call(Method::POST, "/api/courses/distribution/micro-niche", other, None, Some(micro)).await;
    assert_eq!((status, v["field"].as_str()), (404, Some("parent_distribution_id")), "{v}");
    assert_eq!(app.call(Method::GET, "/api/courses/public", other, None, None).await.1, json!([]));
    let (_, h) = app.call(Method::GET, "/api/courses/distribution/health", other, None, None).await;
    assert_eq!((h["status"].as_str(), h["public_courses_count"].as_u64()), (Some("healthy"), Some(0)), "{h}");
    // Slugs are unique per tenant, not globally.
    create(&app, other, "geteilter-kurs", "A course of tenant globex").await;
    // Nothing of acme changed.
    let (_, d) = app.get(&format!("/api/courses/distribution/{id}")).await;
    assert_eq!(
        (d["title"].as_str(), d["visibility"].as_str(), d["version"].as_str()),
        (Some("A course of tenant acme"), Some("public"), Some("v1"))
    );
    // A reader of acme may read public courses but not change anything.
    let reader = |m: Method, p: String| app.client.request(m, format!("{}{p}", app.base)).header("x-test-role", "reader");
    assert_eq!(reader(Method::GET, "/api/courses/public/geteilter-kurs".into()).send().await.expect("get").status().as_u16(), 200);
    assert_eq!(
        reader(Method::POST, "/api/courses/public/geteilter-kurs/track-enrollment".into()).send().await.expect("post").status().as_u16(),
        200
    );
    assert_eq!(
        reader(Method::POST, format!("/api/courses/distribution/{id}/unpublish")).send().await.expect("post").status().as_u16(),
        403
    );
    app.stop().await;
}

#[tokio::test]
async fn version_bumps_follow_the_rules() {
    let app = App::start(fast_config()).await;
    let mut body = create_body("version-kurs", "A course with a dotted version");
    body["version"] = json!("v1.2");
    let (_, v) = app.post("/api/courses/distribution/create", body).await;
    let dotted = v["distribution_id"].as_str().expect("id").to_owned();
    let (status, v) = app.post(&format!("/api/courses/distribution/{dotted}/version-bump"), json!({})).await;
    assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (422, Some("invalid_version"), Some("version")), "{v}");
    let mut body = create_body("plain-version-kurs", "A course with a plain version");
    body["version"] = json!("1.0");
    let (_, v) = app.post("/api/courses/distribution/create", body).await;
    let plain = v["distribution_id"].as_str().expect("id").to_owned();
    let (_, v) = app.post(&format!("/api/courses/distribution/{plain}/version-bump"), json!({})).await;
    assert_eq!((v["old_version"].as_str(), v["new_version"].as_str()), (Some("1.0"), Some("v2")));
    let (_, v) = app.post(&format!("/api/courses/distribution/{plain}/version-bump"), json!({})).await;
    assert_eq!(v["new_version"], "v3");
    let events = app.wait_events("two bumps", |ev| of_type(ev, DistributionVersionBumped::TYPE).len() == 2).await;
    assert!(with(&events, DistributionVersionBumped::TYPE, "distribution_id", &dotted).is_empty(), "a refused bump emits nothing");
    app.stop().await;
}

/// Waits until the subscriber processed `sentinel` (a completion of another course): the subscriber
/// applies events in log order, so everything published before it was handled too.
async fn after_sentinel(app: &App, tenant: &str, sentinel: &str) -> Vec<Event> {
    app.events.publish(completed(tenant, sentinel, Some("Sentinel course of the test"), DESCRIPTION, None)).await.expect("publish");
    wait_created(app, sentinel).await;
    app.all_events().await
}

#[tokio::test]
async fn a_generated_course_gets_one_private_distribution_whatever_is_redelivered() {
    let app = App::start(fast_config()).await;
    let long = format!("{DESCRIPTION} {}", "Mehr Inhalt. ".repeat(120));
    assert!(long.chars().count() > 1500);
    let event = completed(TENANT, "course_chain_1", Some("Alternativen zu Banken & Sparkassen"), &long, None);
    app.events.publish(event.clone()).await.expect("publish");
    let created = wait_created(&app, "course_chain_1").await;
    assert_envelope(&created, SOURCE, TENANT, Some("corr-course_chain_1"));
    assert_eq!(created.causation_id.as_deref(), Some(event.id.as_str()));
    assert_eq!(field(&created, "slug"), "alternativen-zu-banken-sparkassen");
    assert_eq!(
        (field(&created, "visibility"), field(&created, "version"), field(&created, "derived_from")),
        (&json!("private"), &json!("v1"), &Value::Null)
    );
    assert_eq!(field(&created, "target_group"), &json!(["Studierende", "Familien"]));
    let id = field(&created, "distribution_id").as_str().expect("id").to_owned();
    let (_, d) = app.get(&format!("/api/courses/distribution/{id}")).await;
    assert_eq!(d["description"].as_str().map(|s| s.chars().count()), Some(1000), "cut to 1000");
    assert_eq!(d["language"], "de");
    assert_eq!(d["seo"]["meta_title"], "Alternativen zu Banken & Sparkassen");
    assert_eq!(d["seo"]["meta_description"].as_str().map(|s| s.chars().count()), Some(160));
    assert_eq!(d["cta"], json!({"label": "Jetzt starten", "action": "open_course", "url": null}));

    // The same event again (a redelivery), and a second completion of the same course: nothing.
    app.events.publish(event.clone()).await.expect("publish again");
    app.events
        .publish(completed(TENANT, "course_chain_1", Some("Alternativen zu Banken, zweiter Lauf"), DESCRIPTION, None))
        .await
        .expect("publish");
    let events = after_sentinel(&app, TENANT, "course_sentinel_1").await;
    assert_eq!(with(&events, DistributionCreated::TYPE, "course_id", "course_chain_1").len(), 1);
    // A course that already has a root distribution created over HTTP gets none either.
    create(&app, TENANT, "handmade-kurs", "A handmade course distribution").await;
    app.events.publish(completed(TENANT, "course_fin_1", Some("Finanzen automatisch erzeugt"), DESCRIPTION, None)).await.expect("publish");
    let events = after_sentinel(&app, TENANT, "course_sentinel_2").await;
    assert_eq!(with(&events, DistributionCreated::TYPE, "course_id", "course_fin_1").len(), 1, "only the handmade one");
    app.stop().await;
}

#[tokio::test]
async fn generated_slugs_are_valid_and_collisions_get_a_suffix() {
    let app = App::start(fast_config()).await;
    create(&app, TENANT, "kurs-finanzen", "A handmade finance course").await;
    let cases = [
        ("course_s1", "Kurs: Finanzen!"),
        ("course_s2", "Kurs Finanzen"),
        ("course_s3", "Курс по финансам для всех"),
        ("course_s4", &"Sehr langer Titel über Geldanlage ".repeat(6)),
        ("course_s5", "Ünïcödé_snake_case — Kurs"),
    ];
    for (course, title) in &cases {
        app.events.publish(completed(TENANT, course, Some(title), DESCRIPTION, None)).await.expect("publish");
    }
    let mut slugs = Vec::new();
    for (course, _) in &cases {
        let e = wait_created(&app, course).await;
        slugs.push(field(&e, "slug").as_str().expect("slug").to_owned());
    }
    assert_eq!(slugs[0], "kurs-finanzen-2");
    assert_eq!(slugs[1], "kurs-finanzen-3");
    assert_eq!(slugs[2], "course-course-s3", "a title in a non-Latin script falls back to the course id");
    assert!(slugs[3].len() <= 100 && slugs[3].starts_with("sehr-langer-titel-ueber-geldanlage-sehr"), "{}", slugs[3]);
    assert_eq!(slugs[4], "uenicoede-snake-case-kurs");
    for s in &slugs {
        let ok = (5..=100).contains(&s.len())
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--")
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        assert!(ok, "{s}");
    }
    // The long one collides too: its suffix keeps it within 100 characters.
    app.events.publish(completed(TENANT, "course_s6", Some(cases[3].1), DESCRIPTION, None)).await.expect("publish");
    let e = wait_created(&app, "course_s6").await;
    let s = field(&e, "slug").as_str().expect("slug");
    assert!(s.len() <= 100 && s.ends_with("-2"), "{s}");
    app.stop().await;
}

#[tokio::test]
async fn a_staging_deploy_updates_the_course_distributions_once() {
    let app = App::start(fast_config()).await;
    app.events.publish(completed(TENANT, "course_stage", Some("Staging course for the chain"), DESCRIPTION, None)).await.expect("publish");
    let root = field(&wait_created(&app, "course_stage").await, "distribution_id").as_str().expect("id").to_owned();
    let micro = json!({"parent_distribution_id": root, "new_slug": "staging-variante", "language": "en-US", "seo": seo(), "cta": {"label": "Start now", "action": "open_course"}});
    let (status, v) = app.post("/api/courses/distribution/micro-niche", micro).await;
    assert_eq!(status, 201, "{v}");
    let child = v["distribution_id"].as_str().expect("child").to_owned();

    let deploy = deployed(TENANT, "course_stage", "https://staging.example/course_stage");
    app.events.publish(deploy.clone()).await.expect("publish");
    let events = app.wait_events("two updates", |ev| of_type(ev, DistributionUpdated::TYPE).len() == 2).await;
    let updates = of_type(&events, DistributionUpdated::TYPE);
    let mut ids: Vec<&str> = updates.iter().filter_map(|e| field(e, "distribution_id").as_str()).collect();
    ids.sort_unstable();
    let mut want = [root.as_str(), child.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);
    for u in &updates {
        assert_envelope(u, SOURCE, TENANT, None);
        assert_eq!(u.causation_id.as_deref(), Some(deploy.id.as_str()));
        assert_eq!(field(u, "updated_fields"), &json!(["staging_url", "staging_deployed_at"]));
        assert_eq!(field(u, "old_values"), &json!({"staging_url": null, "staging_deployed_at": null}));
        assert_eq!(field(u, "new_values")["staging_url"], "https://staging.example/course_stage");
        assert!(
            field(u, "new_values")["staging_deployed_at"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-03-01T10:00:00") && t.ends_with('Z'))
        );
    }
    let (_, d) = app.get(&format!("/api/courses/distribution/{root}")).await;
    assert_eq!(d["staging_url"], "https://staging.example/course_stage");
    assert_eq!(d["staging_deployed_at"].as_f64(), Some(1_772_359_200.0));

    // A redelivery and a repeat with a new id: no change, no event. Another course's deploy touches
    // nothing of this one.
    app.events.publish(deploy.clone()).await.expect("redeliver");
    app.events.publish(deployed(TENANT, "course_stage", "https://staging.example/course_stage")).await.expect("repeat");
    app.events.publish(deployed(TENANT, "course_unknown", "https://staging.example/other")).await.expect("other");
    let events = after_sentinel(&app, TENANT, "course_stage_sentinel").await;
    assert_eq!(of_type(&events, DistributionUpdated::TYPE).len(), 2);
    // Another tenant's deploy of the same course id changes nothing here.
    app.events.publish(deployed("globex", "course_stage", "https://evil.example/")).await.expect("publish");
    let events = after_sentinel(&app, "globex", "course_stage_sentinel_2").await;
    assert_eq!(of_type(&events, DistributionUpdated::TYPE).len(), 2);
    assert_eq!(app.get(&format!("/api/courses/distribution/{root}")).await.1["staging_url"], "https://staging.example/course_stage");
    app.stop().await;
}

#[tokio::test]
async fn dry_runs_make_nothing_and_old_completions_are_dead_lettered() {
    let app = App::start(fast_config()).await;
    let dry = completed(TENANT, "course_dry", Some("A dry run course title"), DESCRIPTION, Some(true));
    let old = completed(TENANT, "course_old", None, DESCRIPTION, None);
    assert!(!old.payload.contains_key("title"), "the old event has no title");
    app.events.publish(dry).await.expect("publish");
    app.events.publish(old.clone()).await.expect("publish");
    let events = after_sentinel(&app, TENANT, "course_dry_sentinel").await;
    for course in ["course_dry", "course_old"] {
        assert!(with(&events, DistributionCreated::TYPE, "course_id", course).is_empty(), "{course}");
    }
    let filter = DeadLetterFilter { subscriber: "course_distribution".parse::<GroupName>().ok(), ..DeadLetterFilter::default() };
    let deadline = Instant::now() + Duration::from_secs(30);
    let letter = loop {
        let letters = app.events.store().list_dead_letters(&filter).await.expect("dead letters");
        if let Some(l) = letters.into_iter().find(|l| l.letter.event_id == old.id.as_str()) {
            break l;
        }
        assert!(Instant::now() < deadline, "the old completion was not dead-lettered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(letter.letter.kind, DeadLetterKind::Permanent);
    assert!(letter.letter.error.contains("title"), "{}", letter.letter.error);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_counts_fifty_concurrent_views_and_runs_the_subscriber() {
    let Some(app) = App::start_postgres(fast_config()).await else { return };
    let id = create(&app, TENANT, "pg-kurs-finanzen", "A PostgreSQL finance course").await;
    app.post(&format!("/api/courses/distribution/{id}/publish"), json!({})).await;
    let calls = (0..50).map(|_| app.get("/api/courses/public/pg-kurs-finanzen"));
    let mut counts: Vec<u64> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, v)| {
            assert_eq!(status, 200, "{v}");
            v["view_count"].as_u64().expect("count")
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u64>>(), "each view got its own count");
    assert_eq!(app.get(&format!("/api/courses/distribution/{id}")).await.1["view_count"], 50);
    let events = app.wait_events("50 views", |ev| of_type(ev, DistributionViewed::TYPE).len() == 50).await;
    let mut logged: Vec<u64> = of_type(&events, DistributionViewed::TYPE).iter().filter_map(|e| field(e, "view_count").as_u64()).collect();
    logged.sort_unstable();
    assert_eq!(logged, (1..=50).collect::<Vec<u64>>());

    // The subscriber on PostgreSQL: a taken slug gets its suffix inside the inbox transaction.
    create(&app, TENANT, "pg-kurs-auto", "A handmade PostgreSQL course").await;
    let event = completed(TENANT, "course_pg", Some("PG Kurs Auto"), DESCRIPTION, None);
    app.events.publish(event.clone()).await.expect("publish");
    app.events.publish(event).await.expect("redeliver");
    let created = wait_created(&app, "course_pg").await;
    assert_eq!(field(&created, "slug"), "pg-kurs-auto-2");
    let events = after_sentinel(&app, TENANT, "course_pg_sentinel").await;
    assert_eq!(with(&events, DistributionCreated::TYPE, "course_id", "course_pg").len(), 1);
    app.stop().await;
}
