//! The server-rendered public course page (`GET /api/courses/public/{slug}/page`, the original's Jinja2
//! `course_page.html`). Every user string is HTML-escaped; links are only the `http(s)` URLs and
//! absolute paths the model accepts, escaped as attribute values.

use std::fmt::Write as _;

use super::model::{Distribution, html_escape as esc};

/// The page of a public distribution (with the view count including the view that rendered it).
pub(super) fn course_page(d: &Distribution, derived_from_slug: Option<&str>) -> String {
    let mut groups = String::new();
    for g in &d.target_group {
        let _ = write!(groups, "<li>{}</li>", esc(g));
    }
    let keywords = d.seo.keywords.iter().map(|k| esc(k)).collect::<Vec<_>>().join(", ");
    let mut alternates = String::new();
    for (lang, url) in &d.seo.hreflang_alternates {
        let _ = write!(alternates, "\n<link rel=\"alternate\" hreflang=\"{}\" href=\"{}\">", esc(lang), esc(url));
    }
    let og_image =
        d.seo.og_image_url.as_deref().map(|u| format!("\n<meta property=\"og:image\" content=\"{}\">", esc(u))).unwrap_or_default();
    let cta = match &d.cta.url {
        Some(url) => format!("<a class=\"cta\" href=\"{}\">{}</a>", esc(url), esc(&d.cta.label)),
        None => format!("<button class=\"cta\" type=\"button\">{}</button>", esc(&d.cta.label)),
    };
    let parent = derived_from_slug
        .map(|s| format!("<p class=\"derived\">Variant of <a href=\"../{0}/page\">{0}</a></p>", esc(s)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>
<html lang=\"{lang}\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>{meta_title}</title>
<meta name=\"description\" content=\"{meta_description}\">
<meta name=\"keywords\" content=\"{keywords}\">
<meta property=\"og:title\" content=\"{meta_title}\">
<meta property=\"og:description\" content=\"{meta_description}\">{og_image}{alternates}
</head>
<body>
<main>
<h1>{title}</h1>
<p class=\"meta\">{lang} &middot; {version} &middot; {views} views &middot; {enrollments} enrollments</p>
{parent}<p class=\"description\">{description}</p>
<h2>For whom</h2>
<ul class=\"target-group\">{groups}</ul>
{cta}
</main>
</body>
</html>
",
        lang = esc(&d.language),
        meta_title = esc(&d.seo.meta_title),
        meta_description = esc(&d.seo.meta_description),
        title = esc(&d.title),
        version = esc(&d.version),
        views = d.view_count,
        enrollments = d.enrollment_count,
        description = esc(&d.description),
    )
}
