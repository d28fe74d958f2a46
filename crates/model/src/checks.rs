//! Checks on integration settings shared by the management API and OpenAPI import, so that both
//! refuse the same values with the same reasons.

/// Whether `uri` is an endpoint API Gateway accepts for an `HTTP`/`HTTP_PROXY` integration: an
/// absolute `http://` or `https://` URL with a host, an optional port in 1..=65535 and only
/// characters a URI may hold (`%` followed by two hex digits). `${stageVariables.name}` and
/// `{param}` / `{param+}` placeholders may stand anywhere, the host and port included; they are
/// checked as if replaced by a digit. AWS answers anything else with "Invalid HTTP endpoint
/// specified for URI".
///
/// ```
/// use portico_model::checks::is_http_endpoint;
/// assert!(is_http_endpoint("https://example.com:8443/pets/{id}?x=1"));
/// assert!(is_http_endpoint("http://${stageVariables.backend}/echo"));
/// assert!(!is_http_endpoint("http://exa mple.com/echo"));
/// assert!(!is_http_endpoint("http://example.com:99999/echo"));
/// ```
pub fn is_http_endpoint(uri: &str) -> bool {
    let Some(plain) = without_placeholders(uri) else {
        return false;
    };
    let lower = plain
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("http://") {
        &plain[7..]
    } else if lower.starts_with("https://") {
        &plain[8..]
    } else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    valid_authority(authority) && valid_uri_chars(tail)
}

/// `${stageVariables.name}` and `{name}` / `{name+}` replaced by `1` (a host, a port and a path
/// segment alike); `None` when a brace is
/// left open or a placeholder is empty.
fn without_placeholders(uri: &str) -> Option<String> {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(open) = rest.find('{') {
        let dollar = rest[..open].ends_with('$');
        out.push_str(&rest[..open - usize::from(dollar)]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        let name = if dollar {
            name.strip_prefix("stageVariables.")?
        } else {
            name.strip_suffix('+').unwrap_or(name)
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return None;
        }
        out.push('1');
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

fn valid_authority(authority: &str) -> bool {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return false;
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => (addr, None),
            p => match p.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return false,
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return false;
    }
    if !authority.starts_with('[') && !valid_reg_name(host) {
        return false;
    }
    match port {
        None => true,
        Some(p) => {
            (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| (1..=65_535).contains(&n))
        }
    }
}

/// RFC 3986 reg-name (no user info: `@` is refused).
fn valid_reg_name(host: &str) -> bool {
    valid_escapes(host)
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                )
        })
}

/// Path, query and fragment: URI characters (unreserved, reserved, `%XX`) and non-ASCII
/// characters other than spaces and controls.
fn valid_uri_chars(s: &str) -> bool {
    valid_escapes(s)
        && s.chars().all(|c| {
            if c.is_ascii() {
                c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
            } else {
                !c.is_whitespace() && !c.is_control()
            }
        })
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// Why `pattern` cannot be an integration response's `selectionPattern`, or `None` when it can.
///
/// Patterns are Java regular expressions on AWS. A pattern is refused only for mistakes Java
/// refuses too (an unclosed group or class, a quantifier with nothing to repeat, a bad range or
/// count, a trailing backslash, too deep a nesting); Java features the gateway's engine lacks
/// (look-around, back-references, possessive quantifiers, Java-only escapes) are accepted here and
/// reported when the API is deployed.
///
/// ```
/// use portico_model::checks::selection_pattern_error;
/// assert_eq!(selection_pattern_error("5\\d{2}"), None);
/// assert_eq!(selection_pattern_error(".*(?!retry).*"), None);
/// assert!(selection_pattern_error("5(\\d").is_some());
/// ```
pub fn selection_pattern_error(pattern: &str) -> Option<String> {
    use regex_syntax::ast::ErrorKind as K;
    let err = regex_syntax::ast::parse::ParserBuilder::new()
        .nest_limit(100)
        .build()
        .parse(pattern)
        .err()?;
    let refused = match err.kind() {
        K::GroupUnclosed
        | K::GroupUnopened
        | K::ClassUnclosed
        | K::RepetitionCountUnclosed
        | K::RepetitionCountInvalid
        | K::EscapeUnexpectedEof
        | K::ClassRangeInvalid
        | K::NestLimitExceeded(_) => true,
        // `a++`, `a*+`, `a?+`, `a{2}+` are Java's possessive quantifiers.
        K::RepetitionMissing => {
            let at = err.span().start.offset;
            let possessive = pattern.as_bytes().get(at) == Some(&b'+')
                && at > 0
                && matches!(pattern.as_bytes()[at - 1], b'*' | b'+' | b'?' | b'}');
            !possessive
        }
        _ => false,
    };
    refused.then(|| format!("{} at position {}", err.kind(), err.span().start.offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_aws_accepts() {
        for uri in [
            "http://example.com",
            "HTTPS://Example.COM/",
            "http://example.com:80/a/b?c=d&e=%2F#frag",
            "http://127.0.0.1:8080/",
            "http://[::1]:8080/x",
            "http://${stageVariables.host}:${stageVariables.port}/x",
            "https://${stageVariables.url}",
            "http://example.com/{proxy}",
            "http://example.com/{proxy+}/x/{id}",
            "http://example.com/pets/{petId}?q={q}",
            "http://my_host.internal/ünïcode",
        ] {
            assert!(is_http_endpoint(uri), "{uri}");
        }
    }

    #[test]
    fn http_endpoints_aws_refuses() {
        for uri in [
            "",
            "http://",
            "https://",
            "ftp://example.com/",
            "example.com/x",
            "http://exa mple.com/",
            "http://example.com:99999/",
            "http://example.com:0/",
            "http://example.com:/",
            "http://example.com:8o/",
            "http://user:pw@example.com/",
            "http://example.com/a b",
            "http://example.com/a\tb",
            "http://example.com/<script>",
            "http://example.com/%zz",
            "http://example.com/%4",
            "http://example.com/{",
            "http://example.com/{}",
            "http://example.com/}",
            "http://${stageVariables.}/",
            "http://${other.x}/",
            "http://[::1/",
            "http://[zz]/",
            "http:///path",
            "http://example.com\\path",
        ] {
            assert!(!is_http_endpoint(uri), "{uri}");
        }
    }

    #[test]
    fn selection_patterns() {
        for ok in [
            "",
            "2\\d{2}",
            ".*Not Found.*",
            "(?s).*error.*",
            "a++",
            "a{2}+",
            "(?=x).*",
            "(a)\\1",
            "\\p{javaLowerCase}",
        ] {
            assert_eq!(selection_pattern_error(ok), None, "{ok}");
        }
        for bad in [
            "5(\\d", "5\\d)", "[abc", "*x", "a{2", "a{3,1}", "x\\", "[z-a]",
        ] {
            assert!(selection_pattern_error(bad).is_some(), "{bad}");
        }
        let deep = "(".repeat(200) + &")".repeat(200);
        assert!(selection_pattern_error(&deep).is_some());
    }
}
