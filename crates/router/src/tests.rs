use super::*;
use proptest::prelude::*;

/// Routes given as `"METHOD /path"`; each value is that same string.
fn router(routes: &[&str]) -> Router<String> {
    let mut b = RouterBuilder::new();
    for route in routes {
        let (method, path) = route.split_once(' ').unwrap();
        b.add(path, method, route.to_string()).unwrap();
    }
    b.build()
}

/// Cases `("METHOD /request/path", "METHOD /resource k=v k2=v2")`, `"-"` meaning NotFound.
fn check(r: &Router<String>, cases: &[(&str, &str)]) {
    for (req, want) in cases {
        let (method, path) = req.split_once(' ').unwrap();
        let got = match r.find(method, path) {
            Lookup::Found(m) => {
                assert_eq!(Some(m.resource_path), m.value.split_once(' ').map(|x| x.1));
                let params = m.params.iter().map(|(k, v)| format!(" {k}={v}"));
                format!("{}{}", m.value, params.collect::<String>())
            }
            Lookup::NotFound => "-".into(),
        };
        assert_eq!(got, *want, "{req}");
    }
}

#[test]
fn aws_pets_example() {
    let r = router(&[
        "GET /",
        "GET /pets",
        "POST /pets",
        "GET /pets/{id}",
        "GET /pets/{id}/toys",
        "ANY /{proxy+}",
    ]);
    check(
        &r,
        &[
            ("GET /", "GET /"),
            ("GET /pets", "GET /pets"),
            ("GET /pets/", "GET /pets"),
            ("POST /pets", "POST /pets"),
            ("GET /pets/7", "GET /pets/{id} id=7"),
            ("GET /pets/7/", "GET /pets/{id} id=7"),
            ("GET /pets/7/toys", "GET /pets/{id}/toys id=7"),
            ("DELETE /pets", "ANY /{proxy+} proxy=pets"),
            ("PUT /pets/7", "ANY /{proxy+} proxy=pets/7"),
            ("GET /other/x", "ANY /{proxy+} proxy=other/x"),
            ("GET /pets/7/cats", "ANY /{proxy+} proxy=pets/7/cats"),
            // The greedy parameter never matches its parent (here: the root).
            ("POST /", "-"),
            // Case-sensitive literals and methods; HEAD does not fall back to GET.
            ("GET /PETS", "ANY /{proxy+} proxy=PETS"),
            ("HEAD /", "-"),
            ("get /", "-"),
            // Malformed request paths.
            ("GET ", "-"),
            ("GET pets", "-"),
        ],
    );
}

#[test]
fn backtracking_and_method_fallback() {
    let r = router(&[
        "GET /a/{b}/c",
        "POST /a/x/{d}",
        "GET /pets/dog",
        "POST /pets/{id}",
        "GET /files/{proxy+}",
        "PUT /files/{name}",
    ]);
    check(
        &r,
        &[
            // Literal branch `x` first; no GET below it, so backtrack to `{b}`.
            ("GET /a/x/c", "GET /a/{b}/c b=x"),
            ("POST /a/x/c", "POST /a/x/{d} d=c"),
            ("PUT /a/x/c", "-"),
            ("GET /pets/dog", "GET /pets/dog"),
            ("POST /pets/dog", "POST /pets/{id} id=dog"),
            ("GET /pets/cat", "-"),
            ("PUT /files/a", "PUT /files/{name} name=a"),
            ("GET /files/a", "GET /files/{proxy+} proxy=a"),
            ("GET /files/a/b/", "GET /files/{proxy+} proxy=a/b"),
            ("GET /files", "-"),
            ("GET /files/", "-"),
            ("GET /files//", "-"),
            // Greedy keeps empty interior segments raw; params never match them.
            ("GET /files//x", "GET /files/{proxy+} proxy=/x"),
            ("GET /files/a//b", "GET /files/{proxy+} proxy=a//b"),
            ("POST /pets//", "-"),
            ("GET /a//c", "-"),
        ],
    );
}

#[test]
fn any_vs_exact() {
    let r = router(&["ANY /x", "GET /x", "POST /{p}"]);
    check(
        &r,
        &[
            ("GET /x", "GET /x"),
            // ANY on the more specific resource beats an exact method on a less specific one.
            ("POST /x", "ANY /x"),
            ("HEAD /x", "ANY /x"),
            ("POST /y", "POST /{p} p=y"),
            ("GET /y", "-"),
        ],
    );
}

#[test]
fn percent_encoding() {
    let r = router(&[
        "GET /pets",
        "GET /pets/{id}",
        "GET /files/{path+}",
        "GET /caf\u{e9}",
    ]);
    check(
        &r,
        &[
            ("GET /p%65ts", "GET /pets"),
            ("GET /%70%65%74%73/", "GET /pets"),
            ("GET /pets/a%2Fb", "GET /pets/{id} id=a/b"),
            ("GET /pets/a%20b+c", "GET /pets/{id} id=a b+c"),
            ("GET /pets/%zz", "GET /pets/{id} id=%zz"),
            ("GET /pets/%FF", "GET /pets/{id} id=\u{fffd}"),
            ("GET /files/x/y%20z", "GET /files/{path+} path=x/y z"),
            ("GET /caf%C3%A9", "GET /caf\u{e9}"),
            ("GET /pets%2Fx", "-"),
        ],
    );
}

#[test]
fn root_only_and_empty() {
    let r = router(&["ANY /"]);
    check(
        &r,
        &[("GET /", "ANY /"), ("GET /a", "-"), ("GET //", "ANY /")],
    );
    let empty: Router<()> = RouterBuilder::new().build();
    assert!(empty.is_empty());
    assert!(matches!(empty.find("GET", "/"), Lookup::NotFound));
    assert_eq!(empty.explain(), "");
}

#[test]
fn add_errors() {
    let mut b = RouterBuilder::new();
    b.add("/pets/{id}", "GET", 1).unwrap();
    b.add("/pets/{id}", "ANY", 2).unwrap();
    b.add("/f/{proxy+}", "ANY", 3).unwrap();
    #[rustfmt::skip]
    let cases = [
        ("GET pets", r#"resource path "pets" must start with '/'"#),
        ("GET ", r#"resource path "" must start with '/'"#),
        ("GET //", r#"resource path "//" contains an empty segment"#),
        ("GET /a//b", r#"resource path "/a//b" contains an empty segment"#),
        ("GET /a/", r#"resource path "/a/" contains an empty segment"#),
        ("GET /{a", r#"resource path "/{a": malformed path part "{a""#),
        ("GET /a{b}", r#"resource path "/a{b}": malformed path part "a{b}""#),
        ("GET /{}", r#"resource path "/{}": malformed path part "{}""#),
        ("GET /{+}", r#"resource path "/{+}": malformed path part "{+}""#),
        ("GET /a}", r#"resource path "/a}": malformed path part "a}""#),
        ("GET /{a}b", r#"resource path "/{a}b": malformed path part "{a}b""#),
        ("GET /x/{{a}}", r#"resource path "/x/{{a}}": malformed path part "{{a}}""#),
        ("GET /{a b}", r#"resource path "/{a b}": malformed path part "{a b}""#),
        ("GET /a%20b", r#"resource path "/a%20b": malformed path part "a%20b""#),
        ("GET /{proxy+}/a", r#"resource path "/{proxy+}/a": greedy path part "{proxy+}" must be the last one"#),
        ("GET /{id}/x/{id}", r#"resource path "/{id}/x/{id}": parameter "id" is used more than once"#),
        ("get /", r#"invalid method "get": expected an uppercase HTTP method or ANY"#),
        ("G-ET /", r#"invalid method "G-ET": expected an uppercase HTTP method or ANY"#),
        ("GET /pets/{id}", "duplicate route: GET /pets/{id}"),
        ("ANY /pets/{id}", "duplicate route: ANY /pets/{id}"),
        ("GET /pets/{petId}/toys", r#"resource path "/pets/{petId}/toys": "{petId}" conflicts with sibling "{id}" (only one variable of each kind per level)"#),
        ("GET /f/{rest+}", r#"resource path "/f/{rest+}": "{rest+}" conflicts with sibling "{proxy+}" (only one variable of each kind per level)"#),
    ];
    for (route, want) in cases {
        let (method, path) = route.split_once(' ').unwrap();
        assert_eq!(b.add(path, method, 0).unwrap_err().to_string(), want);
    }
    assert_eq!(
        b.add("/f/{rest+}", "GET", 0),
        Err(RouteError::ConflictingVariable {
            path: "/f/{rest+}".into(),
            segment: "{rest+}".into(),
            existing: "{proxy+}".into()
        })
    );
    assert_eq!(
        b.add("", "", 0),
        Err(RouteError::InvalidMethod { method: "".into() })
    );
    // A parameter and a greedy sibling may coexist; failed adds left nothing behind.
    b.add("/f/{name}", "GET", 4).unwrap();
    let r = b.build();
    assert_eq!(r.len(), 4);
    assert!(matches!(r.find("GET", "/f/x"), Lookup::Found(m) if *m.value == 4));
}

#[test]
fn explain_lists_routes_in_match_order() {
    let r = router(&[
        "ANY /{proxy+}",
        "GET /pets/{id}",
        "POST /pets",
        "ANY /pets",
        "GET /pets",
        "GET /",
        "GET /apples",
    ]);
    let want = "   1  GET     /\n   2  GET     /apples\n   3  GET     /pets\n   4  POST    /pets\n   \
                5  ANY     /pets\n   6  GET     /pets/{id}\n   7  ANY     /{proxy+}\n";
    assert_eq!(r.explain(), want);
    assert_eq!(r.len(), 7);
}

#[test]
fn router_is_send_sync() {
    fn assert_send_sync<S: Send + Sync>() {}
    assert_send_sync::<Router<String>>();
    assert_send_sync::<Params>();
}

// ---------------------------------------------------------------------------------------
// Property test: the trie against a brute-force reference matcher.

// The reference (`ref_add`, `ref_find`) is the fuzz target's: brute force, written from the
// rules in the crate documentation.
use crate::fuzz::{ref_add, ref_find};

fn route_strategy() -> impl Strategy<Value = (String, String)> {
    let seg = prop::sample::select(vec!["a", "b", "c", "{p}", "{q}"]);
    let greedy = prop::sample::select(vec!["", "", "{proxy+}", "{rest+}"]);
    let method = prop::sample::select(vec!["GET", "POST", "ANY"]);
    (prop::collection::vec(seg, 0..4), greedy, method).prop_map(|(segs, g, m)| {
        let mut path: String = segs.iter().map(|s| format!("/{s}")).collect();
        if !g.is_empty() {
            path = format!("{path}/{g}");
        }
        if path.is_empty() {
            path.push('/');
        }
        (path, m.to_string())
    })
}

fn request_strategy() -> impl Strategy<Value = (String, String)> {
    let seg = prop::sample::select(vec![
        "a", "b", "c", "d", "a%62", "%61", "%62", "", "x%2Fy", "b%20c",
    ]);
    let method = prop::sample::select(vec!["GET", "POST", "PUT"]);
    let tail = prop::sample::select(vec!["", "", "/"]);
    (prop::collection::vec(seg, 0..5), tail, method).prop_map(|(segs, tail, m)| {
        let mut path: String = segs.iter().map(|s| format!("/{s}")).collect();
        path.push_str(tail);
        if path.is_empty() {
            path.push('/');
        }
        (m.to_string(), path)
    })
}

fn compare(
    routes: &[(String, String)],
    requests: &[(String, String)],
) -> Result<(), TestCaseError> {
    let mut b = RouterBuilder::new();
    let mut accepted: Vec<(String, String)> = Vec::new();
    for (path, method) in routes {
        let want = ref_add(&accepted, path, method);
        let got = b.add(path, method, (path.clone(), method.clone()));
        let got_kind = got.as_ref().err().map(|e| match e {
            RouteError::Duplicate { .. } => "duplicate",
            RouteError::ConflictingVariable { .. } => "conflict",
            RouteError::DuplicateParam { .. } => "dup-param",
            _ => "other",
        });
        prop_assert_eq!(got_kind, want, "add {} {}", method, path);
        if got.is_ok() {
            accepted.push((path.clone(), method.clone()));
        }
    }
    let r = b.build();
    prop_assert_eq!(r.len(), accepted.len());
    for (method, path) in requests {
        let got = r.find(method, path).found().map(|m| {
            prop_assert_eq!(m.resource_path, m.value.0.as_str());
            let params = m
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Ok((m.value.0.clone(), m.value.1.clone(), params))
        });
        let got = got.transpose()?;
        prop_assert_eq!(
            got,
            ref_find(&accepted, method, path),
            "{} {}",
            method,
            path
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn trie_matches_reference(
        routes in prop::collection::vec(route_strategy(), 0..12),
        requests in prop::collection::vec(request_strategy(), 1..16),
    ) {
        compare(&routes, &requests)?;
    }
}

/// A table holds a node per distinct path part: the resource (and its `ANY` value) is boxed so that
/// a node's size does not depend on the value type.
#[test]
fn node_size_does_not_depend_on_the_value() {
    assert_eq!(std::mem::size_of::<super::Node<[u8; 512]>>(), 80);
    assert_eq!(std::mem::size_of::<super::Node<()>>(), 80);
}
