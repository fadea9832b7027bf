//! Hiding secrets in text meant for people: error messages and log lines that may quote a connection
//! URL (`postgres://user:pw@host/db`, `redis://:pw@host`, `nats://user:pw@host`,
//! `postgres://host/db?password=pw`).

/// The query parameters (and libpq `key=value` words) whose value is a secret.
const SECRET_PARAMS: &[&str] =
    &["password", "pass", "pwd", "passwd", "token", "access_token", "secret", "api_key", "apikey", "sslpassword"];

/// The text that replaces a secret.
pub const MASK: &str = "***";

/// `url` with the password of its user info and the values of its secret query parameters replaced
/// by `***`. A string that is not a URL comes back unchanged.
#[must_use]
pub fn redact_url(url: &str) -> String {
    redact_text(url)
}

/// `text` with every secret a URL inside it carries (user-info password, `password=`/`token=` … query
/// parameters, libpq `password=` words) replaced by `***`. Everything else is kept, so the message still
/// names the host and database.
#[must_use]
pub fn redact_text(text: &str) -> String {
    redact_params(&redact_userinfo(text))
}

/// Whether `c` ends a URL's authority (or a parameter value) inside free text.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | ')' | ']' | '>' | ',' | ';')
}

fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority: up to the first path, query or delimiter character. Its user info ends at the
        // last '@' (a password may contain '@' unescaped).
        let end = tail.find(ends_token).unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn redact_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let boundary = i == 0 || matches!(bytes[i - 1], b'?' | b'&' | b' ' | b'\t' | b'\n' | b'"' | b'\'' | b';');
        if boundary {
            let found = SECRET_PARAMS.iter().find(|p| {
                let end = i + p.len();
                text.get(i..end).is_some_and(|w| w.eq_ignore_ascii_case(p)) && bytes.get(end) == Some(&b'=')
            });
            if let Some(p) = found {
                let value_start = i + p.len() + 1;
                out.push_str(&text[i..value_start]);
                let len = text[value_start..].find(|c: char| c == '&' || (ends_token(c) && c != '/')).unwrap_or(text.len() - value_start);
                if len > 0 {
                    out.push_str(MASK);
                }
                i = value_start + len;
                continue;
            }
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{redact_text, redact_url};

    #[test]
    fn user_info_passwords_are_masked() {
        assert_eq!(redact_url("postgres://brain:S3cret@db:5432/brain"), "postgres://brain:***@db:5432/brain");
        assert_eq!(redact_url("redis://:S3cret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
        assert_eq!(redact_url("nats://u:p@ss@h:4222"), "nats://u:***@h:4222");
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_url("nats://token@h:4222"), "nats://token@h:4222");
    }

    #[test]
    fn secret_query_parameters_are_masked() {
        assert_eq!(
            redact_url("postgres://h/db?sslmode=require&password=PgQueryPass&x=1"),
            "postgres://h/db?sslmode=require&password=***&x=1"
        );
        assert_eq!(redact_url("postgres://h/db?Password=p%40ss"), "postgres://h/db?Password=***");
        assert_eq!(redact_text("host=h password=xyz dbname=d"), "host=h password=*** dbname=d");
        assert_eq!(redact_text("my passwords=are fine"), "my passwords=are fine");
    }

    #[test]
    fn urls_inside_messages_are_masked() {
        let msg = "cannot reach Redis at redis://admin:S3cretPass@127.0.0.1:1: Connection refused (os error 111)";
        let got = redact_text(msg);
        assert!(!got.contains("S3cretPass"), "{got}");
        assert_eq!(got, "cannot reach Redis at redis://admin:***@127.0.0.1:1: Connection refused (os error 111)");
        assert_eq!(redact_text("\"postgres://a:b@h/d\", ünïcode"), "\"postgres://a:***@h/d\", ünïcode");
    }
}
