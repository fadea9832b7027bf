//! Pages of the modules' history and list routes: `?limit=N&cursor=C`. A page answer carries
//! `next_cursor`, the cursor of the next page (`null` on the last one). Cursors are opaque to clients:
//! each route's is a position in its own order (a version, a sequence number), as text.

use brain_http::ApiError;
use serde::Deserialize;

/// The query of a route that takes nothing but a page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// Items per page.
    #[serde(default)]
    pub(crate) limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub(crate) cursor: Option<String>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// Items on the page (1 to the route's maximum).
    pub(crate) limit: u32,
    /// The position after which the page starts (in the route's order); `None`: the first page.
    pub(crate) after: Option<i64>,
}

impl Page {
    /// Checks `limit` (default `default`, at most `max`) and `cursor` (a non-negative integer).
    ///
    /// # Errors
    /// 400 `invalid_query` naming `limit` or `cursor`.
    pub(crate) fn parse(limit: Option<u32>, cursor: Option<&str>, default: u32, max: u32) -> Result<Page, ApiError> {
        let limit = limit.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::invalid_query("limit", format!("limit must be 1 to {max}, got {limit}")));
        }
        let after = match cursor {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| ApiError::invalid_query("cursor", "cursor must be the next_cursor of a previous page"))?,
            ),
        };
        Ok(Page { limit, after })
    }

    /// The rows to fetch: one more than the page holds, to learn whether another page follows.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Cuts `items` (fetched with [`Page::fetch`]) to the page and returns the next page's cursor: the
    /// position of the page's last item, when more followed.
    pub(crate) fn finish<T>(&self, items: &mut Vec<T>, position: impl Fn(&T) -> i64) -> Option<String> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        if items.len() <= limit {
            return None;
        }
        items.truncate(limit);
        items.last().map(|last| position(last).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Page;

    #[test]
    fn limits_and_cursors_are_checked_and_pages_end() {
        assert_eq!(Page::parse(None, None, 100, 500).ok(), Some(Page { limit: 100, after: None }));
        assert_eq!(Page::parse(Some(2), Some("7"), 100, 500).ok(), Some(Page { limit: 2, after: Some(7) }));
        for (limit, cursor, field) in
            [(Some(0), None, "limit"), (Some(501), None, "limit"), (None, Some("x"), "cursor"), (None, Some("-1"), "cursor")]
        {
            let err = Page::parse(limit, cursor, 100, 500).expect_err("rejected");
            assert_eq!(err.field.as_deref(), Some(field));
        }
        let page = Page { limit: 2, after: None };
        let mut items = vec![1, 2, 3];
        assert_eq!(page.finish(&mut items, |i| i64::from(*i)), Some("2".to_owned()));
        assert_eq!(items, [1, 2]);
        let mut items = vec![1, 2];
        assert_eq!(page.finish(&mut items, |i| i64::from(*i)), None);
    }
}
