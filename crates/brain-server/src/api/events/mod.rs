//! The event routes: `POST /api/events` and the publishing path shared with CloudEvents ([`publish`]),
//! `GET /api/events` and `GET /api/events/{id}` with the query, cursor and view shared with the SSE tail
//! ([`history`]).

mod history;
mod publish;

pub(super) use history::{EventQuery, Format, event_of, get_one, list, view};
pub(super) use publish::{Published, publish, publish_checked};
