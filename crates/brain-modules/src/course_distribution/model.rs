//! The course_distribution module's data: the distribution, its SEO and call to action, the request
//! bodies with their checks (CD-B1, CD-B2), and the pure rules: slugs from titles (CD-C1) and version bumps
//! (CD-B3).

use std::collections::BTreeMap;

use brain_http::ApiError;
use serde::{Deserialize, Serialize};

pub use brain_events::distribution::Visibility;

/// Longest URL accepted in an SEO or call-to-action field.
const MAX_URL_CHARS: usize = 2000;
/// Most target groups of a distribution, and the longest one.
const MAX_TARGET_GROUPS: usize = 50;
const MAX_TARGET_GROUP_CHARS: usize = 200;
/// Shortest and longest slug.
pub const SLUG_MIN: usize = 5;
/// See [`SLUG_MIN`].
pub const SLUG_MAX: usize = 100;
/// Bounds of a title (characters).
pub const TITLE_MIN: usize = 10;
/// See [`TITLE_MIN`].
pub const TITLE_MAX: usize = 200;
/// Bounds of a description (characters).
pub const DESCRIPTION_MIN: usize = 50;
/// See [`DESCRIPTION_MIN`].
pub const DESCRIPTION_MAX: usize = 1000;

/// A distribution's search-engine metadata (CD-B2; the field is `keywords`, not `meta_keywords`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seo {
    /// The page title (10 to 60 characters).
    pub meta_title: String,
    /// The page description (50 to 160 characters).
    pub meta_description: String,
    /// At most 10 keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The Open Graph image (an `http(s)` URL).
    #[serde(default)]
    pub og_image_url: Option<String>,
    /// The page in other languages: language -> URL.
    #[serde(default)]
    pub hreflang_alternates: BTreeMap<String, String>,
}

/// What the call to action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtaAction {
    /// Opens the course.
    OpenCourse,
    /// Downloads the outline.
    DownloadOutline,
    /// Opens a contact form.
    Contact,
    /// Anything else (with a URL).
    Custom,
}

/// A distribution's call to action (CD-B2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cta {
    /// The button label (5 to 50 characters).
    pub label: String,
    /// What it does.
    pub action: CtaAction,
    /// Where it leads: an `http(s)` URL or a path starting with `/`.
    #[serde(default)]
    pub url: Option<String>,
}

/// What a micro-niche variant changes of its parent (CD-B2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedContent {
    /// The variant's title (else the parent's).
    #[serde(default)]
    pub title_override: Option<String>,
    /// The variant's description (else the parent's).
    #[serde(default)]
    pub description_override: Option<String>,
    /// The variant's target groups (else the request's).
    #[serde(default)]
    pub target_group_override: Option<Vec<String>>,
    /// Example replacements for the variant's content (term -> replacement).
    #[serde(default)]
    pub example_replacements: BTreeMap<String, String>,
    /// The modules the variant keeps.
    #[serde(default)]
    pub module_filters: Option<Vec<String>>,
    /// Extra context for the variant.
    #[serde(default)]
    pub additional_context: Option<String>,
}

/// A distribution: how a course is published (CD-B1). Times are epoch seconds, as the original's model;
/// `staging_url` and `staging_deployed_at` come from the course's staging deploy (CD-C2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// `dist_` + 16 hex characters.
    pub distribution_id: String,
    /// The course it distributes.
    pub course_id: String,
    /// The URL slug, unique in the tenant.
    pub slug: String,
    /// The language (`de`, `en-US`).
    pub language: String,
    /// The public title.
    pub title: String,
    /// The public description.
    pub description: String,
    /// The target groups.
    pub target_group: Vec<String>,
    /// The version (`v1`, `v2`, ...).
    pub version: String,
    /// The parent distribution of a micro-niche variant.
    pub derived_from: Option<String>,
    /// The SEO metadata.
    pub seo: Seo,
    /// The call to action.
    pub cta: Cta,
    /// Who can see it.
    pub visibility: Visibility,
    /// When it was last published (epoch seconds).
    pub published_at: Option<f64>,
    /// When it was created (epoch seconds).
    pub created_at: f64,
    /// When it last changed (epoch seconds).
    pub updated_at: f64,
    /// Views of its public page.
    pub view_count: u64,
    /// Clicks on its enrollment call to action.
    pub enrollment_count: u64,
    /// Where the course's staging copy lives.
    pub staging_url: Option<String>,
    /// When the course was deployed to staging (epoch seconds).
    pub staging_deployed_at: Option<f64>,
}

impl Distribution {
    /// Public and published (the original's `is_public()`).
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public && self.published_at.is_some()
    }
}

/// An item of `GET /api/courses/public`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicListItem {
    /// The slug.
    pub slug: String,
    /// The language.
    pub language: String,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// The target groups.
    pub target_group: Vec<String>,
    /// The version.
    pub version: String,
    /// Views.
    pub view_count: u64,
    /// Enrollment clicks.
    pub enrollment_count: u64,
    /// When it was published (epoch seconds).
    pub published_at: Option<f64>,
}

/// `GET /api/courses/public/{slug}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicDetail {
    /// The slug.
    pub slug: String,
    /// The language.
    pub language: String,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// The target groups.
    pub target_group: Vec<String>,
    /// The version.
    pub version: String,
    /// The parent's slug, for a micro-niche variant whose parent still exists.
    pub derived_from_slug: Option<String>,
    /// The SEO metadata.
    pub seo: Seo,
    /// The call to action.
    pub cta: Cta,
    /// Views, this one included.
    pub view_count: u64,
    /// Enrollment clicks.
    pub enrollment_count: u64,
    /// When it was published (epoch seconds).
    pub published_at: Option<f64>,
    /// When it last changed (epoch seconds).
    pub updated_at: f64,
}

impl PublicDetail {
    /// The public view of `d`.
    pub fn of(d: &Distribution, derived_from_slug: Option<String>) -> Self {
        Self {
            slug: d.slug.clone(),
            language: d.language.clone(),
            title: d.title.clone(),
            description: d.description.clone(),
            target_group: d.target_group.clone(),
            version: d.version.clone(),
            derived_from_slug,
            seo: d.seo.clone(),
            cta: d.cta.clone(),
            view_count: d.view_count,
            enrollment_count: d.enrollment_count,
            published_at: d.published_at,
            updated_at: d.updated_at,
        }
    }
}

fn default_version() -> String {
    "v1".into()
}

/// `POST /api/courses/distribution/create`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The course.
    pub course_id: String,
    /// The slug (unique in the tenant).
    pub slug: String,
    /// The language.
    pub language: String,
    /// The title (10 to 200 characters).
    pub title: String,
    /// The description (50 to 1000 characters).
    pub description: String,
    /// The target groups.
    #[serde(default)]
    pub target_group: Vec<String>,
    /// The SEO metadata.
    pub seo: Seo,
    /// The call to action.
    pub cta: Cta,
    /// The version (default `v1`).
    #[serde(default = "default_version")]
    pub version: String,
}

/// `POST /api/courses/distribution/micro-niche`. The parent is a distribution: the original named the
/// field `parent_course_id`, which is still accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicroNicheRequest {
    /// The parent distribution.
    #[serde(alias = "parent_course_id")]
    pub parent_distribution_id: String,
    /// The variant's slug.
    pub new_slug: String,
    /// The variant's language.
    pub language: String,
    /// What the variant changes.
    #[serde(default)]
    pub derived_content: DerivedContent,
    /// The variant's SEO metadata.
    pub seo: Seo,
    /// The variant's call to action.
    pub cta: Cta,
    /// The variant's target groups (unless `derived_content.target_group_override` is given).
    #[serde(default)]
    pub target_group: Vec<String>,
}

/// `PATCH /api/courses/distribution/{id}`: the fields to change; absent ones stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// A new slug (unique in the tenant).
    #[serde(default)]
    pub slug: Option<String>,
    /// A new language.
    #[serde(default)]
    pub language: Option<String>,
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// New target groups.
    #[serde(default)]
    pub target_group: Option<Vec<String>>,
    /// New SEO metadata.
    #[serde(default)]
    pub seo: Option<Seo>,
    /// A new call to action.
    #[serde(default)]
    pub cta: Option<Cta>,
}

/// The query of `GET /api/courses/public`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    /// Only this language (exact match).
    #[serde(default)]
    pub language: Option<String>,
    /// At most this many (1 to 100, default 50).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a length-bounded text without control characters (newlines and tabs allowed when `multiline`).
fn check_len(field: &str, value: &str, min: usize, max: usize, multiline: bool) -> Result<(), ApiError> {
    let n = chars(value);
    if n < min || n > max || value.trim().is_empty() {
        return Err(ApiError::invalid(field, format!("`{field}` must be {min} to {max} characters, got {n}")));
    }
    let bad = if multiline { value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) } else { has_control(value) };
    if bad {
        return Err(ApiError::invalid(field, format!("`{field}` must not contain control characters")));
    }
    Ok(())
}

/// Whether `s` matches `^[a-z0-9]+(?:-[a-z0-9]+)*$`.
pub fn is_slug_shape(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks a slug: 5 to 100 characters matching `^[a-z0-9]+(?:-[a-z0-9]+)*$`.
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_slug(field: &str, slug: &str) -> Result<(), ApiError> {
    if (SLUG_MIN..=SLUG_MAX).contains(&slug.len()) && is_slug_shape(slug) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("`{field}` must be {SLUG_MIN} to {SLUG_MAX} characters of lower-case letters and digits joined by single `-`"),
        ))
    }
}

/// Whether `s` matches `^[a-z]{2}(-[A-Z]{2})?$`.
pub fn is_language(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        2 => b.iter().all(u8::is_ascii_lowercase),
        5 => b[..2].iter().all(u8::is_ascii_lowercase) && b[2] == b'-' && b[3..].iter().all(u8::is_ascii_uppercase),
        _ => false,
    }
}

/// Checks a language code (`de`, `en-US`).
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_language(field: &str, s: &str) -> Result<(), ApiError> {
    if is_language(s) { Ok(()) } else { Err(ApiError::invalid(field, format!("`{field}` must look like `de` or `en-US`"))) }
}

/// Checks a URL a page links to: `http(s)://...` or a path starting with a single `/`, at most 2000
/// characters, no control characters or spaces (so no `javascript:` link can reach the page).
fn check_url(field: &str, url: &str) -> Result<(), ApiError> {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://") || (url.starts_with('/') && !url.starts_with("//"));
    if !scheme_ok || chars(url) > MAX_URL_CHARS || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be an http(s) URL or a path starting with `/` (at most {MAX_URL_CHARS} characters)"),
        ));
    }
    Ok(())
}

/// Checks target groups: at most 50, each 1 to 200 characters.
fn check_target_group(field: &str, groups: &[String]) -> Result<(), ApiError> {
    if groups.len() > MAX_TARGET_GROUPS {
        return Err(ApiError::invalid(field, format!("`{field}` holds at most {MAX_TARGET_GROUPS} groups")));
    }
    for (i, g) in groups.iter().enumerate() {
        check_len(&format!("{field}[{i}]"), g, 1, MAX_TARGET_GROUP_CHARS, false)?;
    }
    Ok(())
}

/// Checks a course id: 1 to 128 characters of letters, digits, `_`, `.`, `:` or `-`.
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_course_id(field: &str, id: &str) -> Result<(), ApiError> {
    crate::web::check_id(field, id)
}

/// Checks a title (10 to 200 characters).
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_title(field: &str, t: &str) -> Result<(), ApiError> {
    check_len(field, t, TITLE_MIN, TITLE_MAX, false)
}

/// Checks a description (50 to 1000 characters).
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_description(field: &str, d: &str) -> Result<(), ApiError> {
    check_len(field, d, DESCRIPTION_MIN, DESCRIPTION_MAX, true)
}

impl Seo {
    /// Checks the bounds of CD-B2.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field under `prefix` (`seo.meta_title`).
    pub fn check(&self, prefix: &str) -> Result<(), ApiError> {
        check_len(&format!("{prefix}.meta_title"), &self.meta_title, 10, 60, false)?;
        check_len(&format!("{prefix}.meta_description"), &self.meta_description, 50, 160, false)?;
        let keywords = format!("{prefix}.keywords");
        if self.keywords.len() > 10 {
            return Err(ApiError::invalid(keywords, "`keywords` holds at most 10 keywords"));
        }
        for (i, k) in self.keywords.iter().enumerate() {
            check_len(&format!("{keywords}[{i}]"), k, 1, 100, false)?;
        }
        if let Some(u) = &self.og_image_url {
            check_url(&format!("{prefix}.og_image_url"), u)?;
        }
        if self.hreflang_alternates.len() > 50 {
            return Err(ApiError::invalid(format!("{prefix}.hreflang_alternates"), "at most 50 alternates"));
        }
        for (lang, url) in &self.hreflang_alternates {
            let field = format!("{prefix}.hreflang_alternates.{lang}");
            if !is_language(lang) {
                return Err(ApiError::invalid(field, "hreflang keys must look like `de` or `en-US`"));
            }
            check_url(&field, url)?;
        }
        Ok(())
    }

    /// The default SEO of a distribution created from a generated course (CD-C1): the title padded with
    /// " - Comprehensive Course" when shorter than 10 and cut to 60; the description padded with " This
    /// comprehensive course provides detailed insights." when shorter than 50 and cut to 160; no keywords.
    pub fn default_for(title: &str, description: &str) -> Seo {
        let mut meta_title = title.to_owned();
        if chars(&meta_title) < 10 {
            meta_title.push_str(" - Comprehensive Course");
        }
        let mut meta_description = description.to_owned();
        if chars(&meta_description) < 50 {
            meta_description.push_str(" This comprehensive course provides detailed insights.");
        }
        Seo {
            meta_title: cut(&meta_title, 60),
            meta_description: cut(&meta_description, 160),
            keywords: Vec::new(),
            og_image_url: None,
            hreflang_alternates: BTreeMap::new(),
        }
    }
}

impl Cta {
    /// Checks the bounds of CD-B2.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the field under `prefix` (`cta.label`).
    pub fn check(&self, prefix: &str) -> Result<(), ApiError> {
        check_len(&format!("{prefix}.label"), &self.label, 5, 50, false)?;
        if let Some(u) = &self.url {
            check_url(&format!("{prefix}.url"), u)?;
        }
        Ok(())
    }

    /// The default call to action of a distribution created from a generated course (CD-C1).
    pub fn default_open_course() -> Cta {
        Cta { label: "Jetzt starten".into(), action: CtaAction::OpenCourse, url: None }
    }
}

impl CreateRequest {
    /// Checks every field (CD-B1, CD-B2).
    ///
    /// # Errors
    /// 422 `validation_failed` naming the first bad field.
    pub fn check(&self) -> Result<(), ApiError> {
        check_course_id("course_id", &self.course_id)?;
        check_slug("slug", &self.slug)?;
        check_language("language", &self.language)?;
        check_title("title", &self.title)?;
        check_description("description", &self.description)?;
        check_target_group("target_group", &self.target_group)?;
        self.seo.check("seo")?;
        self.cta.check("cta")?;
        check_version("version", &self.version)
    }
}

impl MicroNicheRequest {
    /// Checks the fields that do not depend on the parent.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the first bad field.
    pub fn check(&self) -> Result<(), ApiError> {
        crate::web::check_id("parent_distribution_id", &self.parent_distribution_id)?;
        check_slug("new_slug", &self.new_slug)?;
        check_language("language", &self.language)?;
        let d = &self.derived_content;
        if let Some(t) = &d.title_override {
            check_title("derived_content.title_override", t)?;
        }
        if let Some(t) = &d.description_override {
            check_description("derived_content.description_override", t)?;
        }
        if let Some(g) = &d.target_group_override {
            check_target_group("derived_content.target_group_override", g)?;
        }
        if d.example_replacements.len() > 100 {
            return Err(ApiError::invalid("derived_content.example_replacements", "at most 100 replacements"));
        }
        for (k, v) in &d.example_replacements {
            check_len("derived_content.example_replacements", k, 1, 200, false)?;
            crate::web::check_text("derived_content.example_replacements", v, 1000, false)?;
        }
        if let Some(m) = &d.module_filters {
            check_target_group("derived_content.module_filters", m)?;
        }
        if let Some(c) = &d.additional_context
            && chars(c) > 5000
        {
            return Err(ApiError::invalid("derived_content.additional_context", "at most 5000 characters"));
        }
        check_target_group("target_group", &self.target_group)?;
        self.seo.check("seo")?;
        self.cta.check("cta")
    }
}

impl UpdateRequest {
    /// Checks the given fields.
    ///
    /// # Errors
    /// 422 `validation_failed` naming the first bad field.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(s) = &self.slug {
            check_slug("slug", s)?;
        }
        if let Some(l) = &self.language {
            check_language("language", l)?;
        }
        if let Some(t) = &self.title {
            check_title("title", t)?;
        }
        if let Some(d) = &self.description {
            check_description("description", d)?;
        }
        if let Some(g) = &self.target_group {
            check_target_group("target_group", g)?;
        }
        if let Some(s) = &self.seo {
            s.check("seo")?;
        }
        if let Some(c) = &self.cta {
            c.check("cta")?;
        }
        Ok(())
    }
}

/// Checks a version string: 1 to 32 characters of letters, digits, `.`, `_` or `-`.
///
/// # Errors
/// 422 `validation_failed` naming `field`.
pub fn check_version(field: &str, v: &str) -> Result<(), ApiError> {
    let ok = (1..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, format!("`{field}` must be 1 to 32 characters of letters, digits, `.`, `_` or `-`")))
    }
}

/// The version after `v` (CD-B3): `vN` becomes `v(N+1)`, a version without a leading `v` becomes `v2`;
/// `None` for a `v` version that is not a whole number (`v1.2`, `vx`) or would overflow.
pub fn bump_version(v: &str) -> Option<String> {
    match v.strip_prefix('v') {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            n.parse::<u64>().ok().and_then(|n| n.checked_add(1)).map(|n| format!("v{n}"))
        }
        Some(_) => None,
        None => Some("v2".into()),
    }
}

/// The first `max` characters of `s`.
pub fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The German and French letters the original transliterated (CD-C1), plus the other common Latin
/// letters with diacritics, so that a title in any Latin-script language keeps its words.
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'ä' => "ae",
        'ö' => "oe",
        'ü' => "ue",
        'ß' => "ss",
        'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'à' | 'â' | 'á' | 'ã' | 'å' | 'ā' | 'ą' => "a",
        'ô' | 'ó' | 'ò' | 'õ' | 'ø' | 'ō' | 'ő' => "o",
        'û' | 'ú' | 'ù' | 'ū' | 'ů' | 'ű' => "u",
        'î' | 'ï' | 'í' | 'ì' | 'ī' | 'į' => "i",
        'ç' | 'ć' | 'č' => "c",
        'ñ' | 'ń' | 'ň' => "n",
        'ś' | 'š' | 'ş' => "s",
        'ź' | 'ż' | 'ž' => "z",
        'ł' => "l",
        'ř' => "r",
        'ť' => "t",
        'ď' => "d",
        'ý' | 'ÿ' => "y",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

/// The slug of a title (CD-C1), always valid: lower-case; ä→ae, ö→oe, ü→ue, ß→ss, é/è/ê→e, à/â→a,
/// ô→o, û→u (and the other common Latin diacritics); whitespace, `_` and `-` separate words; every other
/// character is dropped (the original kept `_` and non-Latin letters, which the slug rule forbids); words
/// joined by single `-` and cut to 100 characters at most. `None` when fewer than 5 characters remain (a
/// title in a non-Latin script, say).
pub fn slugify(title: &str) -> Option<String> {
    let mut out = String::new();
    let mut pending_dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        let piece: Option<std::borrow::Cow<'static, str>> =
            if c.is_ascii_lowercase() || c.is_ascii_digit() { Some(c.to_string().into()) } else { transliterate(c).map(Into::into) };
        match piece {
            Some(p) => {
                if pending_dash && !out.is_empty() {
                    out.push('-');
                }
                pending_dash = false;
                out.push_str(&p);
            }
            None if c.is_whitespace() || c == '-' || c == '_' => pending_dash = true,
            None => {}
        }
        if out.len() > SLUG_MAX {
            break;
        }
    }
    let slug = fit(&out, SLUG_MAX);
    (slug.len() >= SLUG_MIN).then_some(slug)
}

/// `slug` cut to at most `max` bytes (it is ASCII) without a trailing `-`.
pub fn fit(slug: &str, max: usize) -> String {
    let cut = &slug[..slug.len().min(max)];
    cut.trim_end_matches('-').to_owned()
}

/// The slug with collision suffix `n` (1: none; then `-2`, `-3`, ...), within 100 characters.
pub fn with_suffix(base: &str, n: u32) -> String {
    if n <= 1 {
        return fit(base, SLUG_MAX);
    }
    let suffix = format!("-{n}");
    format!("{}{suffix}", fit(base, SLUG_MAX - suffix.len()))
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_rules_and_are_always_valid() {
        assert_eq!(slugify("Alternativen zu Banken & Sparkassen").as_deref(), Some("alternativen-zu-banken-sparkassen"));
        assert_eq!(slugify("Über Größe: Straße, Café & Crème").as_deref(), Some("ueber-groesse-strasse-cafe-creme"));
        assert_eq!(slugify("snake_case -- and   spaces").as_deref(), Some("snake-case-and-spaces"));
        assert_eq!(slugify("Курс по финансам"), None, "a title in a non-Latin script leaves nothing");
        assert_eq!(slugify("a!"), None);
        let long = slugify(&"Finanzplanung ".repeat(20)).expect("slug");
        assert!(long.len() <= SLUG_MAX && is_slug_shape(&long), "{long}");
        for title in ["Ünïcödé 日本 Kurs — 2024!", "-_- Hello -_- World -_-", "Mix日本語and English words"] {
            let s = slugify(title).expect("slug");
            assert!(check_slug("slug", &s).is_ok(), "{title} -> {s}");
        }
    }

    #[test]
    fn suffixes_stay_within_the_limit() {
        let base = "a".repeat(100);
        assert_eq!(with_suffix(&base, 1).len(), 100);
        let s = with_suffix(&base, 12);
        assert_eq!(s.len(), 100);
        assert!(s.ends_with("-12"));
        assert_eq!(with_suffix("kurs-abc", 2), "kurs-abc-2");
        // A cut that would end in `-` drops it.
        let s = with_suffix(&format!("{}-bb", "a".repeat(97)), 2);
        assert!(is_slug_shape(&s), "{s}");
    }

    #[test]
    fn versions_bump_or_are_refused() {
        assert_eq!(bump_version("v1").as_deref(), Some("v2"));
        assert_eq!(bump_version("v41").as_deref(), Some("v42"));
        assert_eq!(bump_version("1.0").as_deref(), Some("v2"));
        assert_eq!(bump_version("v1.2"), None);
        assert_eq!(bump_version("v"), None);
        assert_eq!(bump_version("v+1"), None);
        assert_eq!(bump_version(&format!("v{}", u64::MAX)), None);
    }

    #[test]
    fn languages_and_slugs_are_checked() {
        assert!(is_language("de") && is_language("en-US"));
        assert!(!is_language("DE") && !is_language("en-us") && !is_language("eng") && !is_language("en_US"));
        assert!(check_slug("slug", "kurs-1").is_ok());
        for bad in ["kurs", "Kurs-1", "kurs--1", "-kurs1", "kurs1-", "kurs_1"] {
            assert!(check_slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_seo_is_padded_and_cut() {
        let s = Seo::default_for("Short", "Tiny.");
        assert_eq!(s.meta_title, "Short - Comprehensive Course");
        assert_eq!(s.meta_description, "Tiny. This comprehensive course provides detailed insights.");
        assert!(s.check("seo").is_ok());
        let s = Seo::default_for(&"T".repeat(100), &"D".repeat(500));
        assert_eq!((s.meta_title.chars().count(), s.meta_description.chars().count()), (60, 160));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn urls_must_be_http_or_paths() {
        assert!(check_url("u", "https://example.com/x").is_ok());
        assert!(check_url("u", "/courses/x").is_ok());
        for bad in ["javascript:alert(1)", "//evil.example", "data:text/html,x", "https://a b"] {
            assert!(check_url("u", bad).is_err(), "{bad}");
        }
    }
}
