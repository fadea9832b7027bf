//! Names on the server: subjects, the pending stream and consumer names derived from group names.
//!
//! A group name may contain `.`, which JetStream forbids in consumer names and which would split a subject
//! token, so group names are escaped injectively: `_` becomes `__` and `.` becomes `_d`.

use eventstream_core::GroupName;

/// The subject the events of `stream` are published on.
pub(crate) fn events_subject(stream: &str) -> String {
    format!("{stream}.events")
}

/// The name of the stream holding the pending-entry ownership table.
pub(crate) fn pending_stream(stream: &str) -> String {
    format!("{stream}_pending")
}

/// The subject of the pending record of entry `seq` in `group`.
pub(crate) fn pending_subject(stream: &str, group: &GroupName, seq: u64) -> String {
    format!("{stream}.pending.{}.{seq}", consumer_name(group))
}

/// The subject filter matching every pending record of `group`.
pub(crate) fn pending_filter(stream: &str, group: &GroupName) -> String {
    format!("{stream}.pending.{}.*", consumer_name(group))
}

/// The pending stream's subject filter.
pub(crate) fn pending_all(stream: &str) -> String {
    format!("{stream}.pending.>")
}

/// The entry sequence at the end of a pending record's subject.
pub(crate) fn seq_of_pending_subject(subject: &str) -> Option<u64> {
    subject.rsplit('.').next().and_then(|s| s.parse().ok())
}

/// The durable consumer name of a group.
pub(crate) fn consumer_name(group: &GroupName) -> String {
    let mut out = String::with_capacity(group.as_str().len());
    for c in group.as_str().chars() {
        match c {
            '_' => out.push_str("__"),
            '.' => out.push_str("_d"),
            c => out.push(c),
        }
    }
    out
}

/// The group of a durable consumer name, or `None` for a consumer this crate did not create.
pub(crate) fn group_of_consumer(name: &str) -> Option<GroupName> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '_' {
            match chars.next() {
                Some('_') => out.push('_'),
                Some('d') => out.push('.'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    out.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_round_trip_through_consumer_names_without_collisions() {
        let names = ["a.b", "a_b", "a_d", "a__b", "x-y.z_", "plain"];
        let mut seen = std::collections::HashSet::new();
        for n in names {
            let g: GroupName = n.parse().unwrap_or_else(|e| panic!("{e}"));
            let c = consumer_name(&g);
            assert!(!c.contains('.'), "{c}");
            assert!(seen.insert(c.clone()), "collision on {c}");
            assert_eq!(group_of_consumer(&c), Some(g));
        }
        assert_eq!(group_of_consumer("bad_x"), None);
        assert_eq!(seq_of_pending_subject("s.pending.g.42"), Some(42));
    }
}
