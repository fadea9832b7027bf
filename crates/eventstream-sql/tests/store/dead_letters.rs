//! Dead letters: upsert while open, listing with filters and pages, retry and discard.

use super::*;

on_both_databases!(
    dead_letter_upsert_accumulates_attempts_while_open,
    dead_letter_list_filters_and_pages,
    dead_letter_retry_and_discard_resolve_once,
);

async fn dead_letter_upsert_accumulates_attempts_while_open(db: TestDb) {
    let e = tenant_event("course.deployed.staging", "acme");
    let s = group("course_distribution");
    let mut first = NewDeadLetter::for_event(&s, "brain:events:stream", &pos("3-0"), &e, DeadLetterKind::TransientExhausted, "timeout", 5);
    first.first_failed_at = Utc::now() - TimeDelta::minutes(10);
    let id = db.store.add_dead_letter(&first).await.unwrap();

    let second = NewDeadLetter::for_event(&s, "brain:events:stream", &pos("4-0"), &e, DeadLetterKind::Permanent, "bad payload", 2);
    assert_eq!(db.store.add_dead_letter(&second).await.unwrap(), id, "same open row");

    let dl = db.store.get_dead_letter(id).await.unwrap().unwrap();
    assert_eq!(dl.letter.subscriber, s);
    assert_eq!(dl.letter.attempts, 7);
    assert_eq!(dl.letter.error, "bad payload");
    assert_eq!(dl.letter.kind, DeadLetterKind::Permanent);
    assert_eq!(dl.letter.stream_message_id, pos("4-0"));
    assert_eq!(dl.letter.event_id, e.id.as_str());
    assert_eq!(dl.letter.event_type.as_ref().map(|t| t.as_str()), Some("course.deployed.staging"));
    assert_eq!(dl.letter.tenant_id, Some(tenant("acme")));
    assert_eq!(dl.status, DeadLetterStatus::Open);
    assert_eq!(dl.resolved_at, None);
    assert_eq!(dl.letter.first_failed_at.timestamp_millis(), first.first_failed_at.timestamp_millis());
    assert_eq!(dl.letter.last_failed_at.timestamp_millis(), second.last_failed_at.timestamp_millis());
    assert_eq!(dl.decode_event().unwrap(), e);
    // The JSON shape (GET /api/dlq, `brain dlq --json`): the letter's fields flat beside id and status.
    let json = serde_json::to_value(&dl).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = [
        "id",
        "subscriber",
        "stream_name",
        "stream_message_id",
        "event_id",
        "event_type",
        "tenant_id",
        "event",
        "error",
        "kind",
        "attempts",
        "first_failed_at",
        "last_failed_at",
        "status",
        "resolved_at",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(
        (&json["attempts"], &json["kind"], &json["status"]),
        (&serde_json::json!(7), &serde_json::json!("permanent"), &serde_json::json!("open"))
    );

    // Another subscriber failing on the same event has its own row.
    let other = NewDeadLetter::for_event(&group("audit"), "s", &pos("3-0"), &e, DeadLetterKind::Permanent, "x", 1);
    assert_ne!(db.store.add_dead_letter(&other).await.unwrap(), id);

    // Undecodable entries are kept raw, keyed by position, and written inside a transaction too.
    let raw = r#"{"type": "???"}"#;
    let bad = NewDeadLetter::undecodable(&s, "brain:events:stream", &pos("5-0"), raw, &DecodeError::new("id", "is required"));
    let mut tx = db.store.begin().await.unwrap();
    let bad_id = tx.add_dead_letter(&bad).await.unwrap();
    tx.commit().await.unwrap();
    let dl = db.store.get_dead_letter(bad_id).await.unwrap().unwrap();
    assert_eq!((dl.letter.kind, dl.letter.event.as_str(), dl.letter.event_id.as_str()), (DeadLetterKind::Undecodable, raw, "position:5-0"));
    assert_eq!(dl.letter.error, "field `id` is required");
    assert!(dl.decode_event().is_err());
    assert_eq!(dl.letter.event_type, None);
}

async fn dead_letter_list_filters_and_pages(db: TestDb) {
    let add = |sub: &'static str, ty: &'static str, ten: &'static str| {
        let store = db.store.clone();
        async move {
            let e = tenant_event(ty, ten);
            let dl = NewDeadLetter::for_event(&group(sub), "st", &pos("1-0"), &e, DeadLetterKind::Permanent, "boom", 1);
            store.add_dead_letter(&dl).await.unwrap()
        }
    };
    let a1 = add("a", "task.created", "t1").await;
    let a2 = add("a", "task.failed", "t1").await;
    let a3 = add("a", "task.created", "t2").await;
    let b1 = add("b", "task.created", "t1").await;
    let b2 = add("b", "mission.created", "t2").await;
    assert!(db.store.discard_dead_letter(a2).await.unwrap().is_some());

    let ids = |list: Vec<eventstream_sql::DeadLetter>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let all = db.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(ids(all), vec![a1, a2, a3, b1, b2]);

    let f = DeadLetterFilter { subscriber: Some(group("a")), ..Default::default() };
    assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1, a2, a3]);
    let f = DeadLetterFilter { event_type: Some("task.created".parse().unwrap()), ..Default::default() };
    assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1, a3, b1]);
    let f = DeadLetterFilter { tenant: Some(tenant("t2")), ..Default::default() };
    assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a3, b2]);
    let f = DeadLetterFilter { status: Some(DeadLetterStatus::Discarded), ..Default::default() };
    assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a2]);
    let f = DeadLetterFilter {
        subscriber: Some(group("a")),
        event_type: Some("task.created".parse().unwrap()),
        tenant: Some(tenant("t1")),
        status: Some(DeadLetterStatus::Open),
        ..Default::default()
    };
    assert_eq!(ids(db.store.list_dead_letters(&f).await.unwrap()), vec![a1]);

    // Pages of two, following the cursor.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let f = DeadLetterFilter { limit: 2, after_id: after, ..Default::default() };
        let page = ids(db.store.list_dead_letters(&f).await.unwrap());
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().copied();
        seen.extend(page);
    }
    assert_eq!(seen, vec![a1, a2, a3, b1, b2]);

    let counts = db.store.dead_letter_counts(None).await.unwrap();
    assert_eq!(counts.len(), 2);
    assert_eq!((counts[0].subscriber.as_str(), counts[0].open, counts[0].retried, counts[0].discarded), ("a", 2, 0, 1));
    assert_eq!((counts[1].subscriber.as_str(), counts[1].open, counts[1].retried, counts[1].discarded), ("b", 2, 0, 0));
    let counts = db.store.dead_letter_counts(Some(&tenant("t2"))).await.unwrap();
    assert_eq!(counts.iter().map(|c| (c.subscriber.as_str(), c.open)).collect::<Vec<_>>(), vec![("a", 1), ("b", 1)]);
}

async fn dead_letter_retry_and_discard_resolve_once(db: TestDb) {
    let e = event("ir.approval_invalid");
    let s = group("security");
    let new = || NewDeadLetter::for_event(&s, "st", &pos("1-0"), &e, DeadLetterKind::Permanent, "boom", 1);
    let id = db.store.add_dead_letter(&new()).await.unwrap();

    let retried = db.store.mark_dead_letter_retried(id).await.unwrap().unwrap();
    assert_eq!(retried.status, DeadLetterStatus::Retried);
    assert!(retried.resolved_at.is_some());
    assert_eq!(retried.decode_event().unwrap(), e);
    assert!(db.store.mark_dead_letter_retried(id).await.unwrap().is_none(), "a retry happens once");
    assert!(db.store.discard_dead_letter(id).await.unwrap().is_none(), "only open ones are discarded");

    // The retried event fails again: a new open row, the old one stays as history.
    let id2 = db.store.add_dead_letter(&new()).await.unwrap();
    assert_ne!(id2, id);
    assert_eq!(db.store.get_dead_letter(id2).await.unwrap().unwrap().letter.attempts, 1);
    let discarded = db.store.discard_dead_letter(id2).await.unwrap().unwrap();
    assert_eq!(discarded.status, DeadLetterStatus::Discarded);
    assert_eq!(db.store.get_dead_letter(id).await.unwrap().unwrap().status, DeadLetterStatus::Retried);
    assert!(db.store.get_dead_letter(eventstream_sql::DeadLetterId(999_999)).await.unwrap().is_none());
    let counts = db.store.dead_letter_counts(None).await.unwrap();
    assert_eq!((counts[0].open, counts[0].retried, counts[0].discarded), (0, 1, 1));
}
