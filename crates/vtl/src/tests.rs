use crate::{Context, Dialect, Limits, Object, RenderErrorKind, Value, parse};
use serde_json::json;
use std::sync::Arc;

fn ctx_from(j: serde_json::Value) -> Context {
    let mut c = Context::new();
    if let serde_json::Value::Object(m) = j {
        for (k, v) in m {
            c.insert(&k, Value::from(v));
        }
    }
    c
}

/// Renders with Velocity 1.7's rules: most tables pin the engine against 1.7; API Gateway's
/// differences are in `aws_nulls`.
fn render(t: &str, j: serde_json::Value) -> String {
    let tpl = parse(t).unwrap_or_else(|e| panic!("parse {t:?}: {e}"));
    tpl.render_as(&mut ctx_from(j), &Limits::default(), Dialect::Velocity17)
        .unwrap_or_else(|e| panic!("render {t:?}: {e}"))
}

fn render_err(t: &str, j: serde_json::Value, limits: &Limits) -> RenderErrorKind {
    let tpl = parse(t).unwrap_or_else(|e| panic!("parse {t:?}: {e}"));
    match tpl.render_as(&mut ctx_from(j), limits, Dialect::Velocity17) {
        Ok(s) => panic!("expected error for {t:?}, got {:?}", &s[..s.len().min(100)]),
        Err(e) => e.kind,
    }
}

fn render_aws(t: &str, j: serde_json::Value) -> String {
    let tpl = parse(t).unwrap_or_else(|e| panic!("parse {t:?}: {e}"));
    tpl.render(&mut ctx_from(j), &Limits::default())
        .unwrap_or_else(|e| panic!("render {t:?}: {e}"))
}

/// API Gateway's rules (recorded on AWS): a null renders as nothing and equals "".
#[test]
fn aws_nulls() {
    let cases: &[(&str, serde_json::Value, &str)] = &[
        ("[$missing]", json!({}), "[]"),
        ("[$missing.nested]", json!({}), "[]"),
        ("[${missing}]", json!({}), "[]"),
        ("[$!missing]", json!({}), "[]"),
        (
            "#set($r = $n)[$r][$r.nested][$r.foo()]",
            json!({"n": null}),
            "[][][]",
        ),
        ("#set($s = \"a$r\")[$s]", json!({}), "[a]"),
        ("[$s.nothing][$s.nope()]", json!({"s": "text"}), "[][]"),
        ("[$m.k9][$m.get('k9')]", json!({"m": {"k": 1}}), "[][]"),
        (
            "#if($r == $null)n#end#if($r == \"\")e#end#if(\"\" == $r)E#end#if($r != \"\")X#end",
            json!({}),
            "neE",
        ),
        (
            "#if($l == $null)n#end#if($l == \"\")e#end[$l]",
            json!({"l": []}),
            "[[]]",
        ),
        // The rule is symmetric: an empty string equals a null too.
        ("#if($e == $null)n#{else}notnull#end", json!({"e": ""}), "n"),
        (
            "#if($e == $null)n#{else}notnull#end",
            json!({"e": "x"}),
            "notnull",
        ),
        // A missing macro or an escaped null are unchanged.
        ("\\$missing", json!({}), "\\$missing"),
    ];
    for (t, j, want) in cases {
        assert_eq!(render_aws(t, j.clone()), *want, "template {t:?}");
    }
}

#[test]
fn table() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        // references
        ("hello $name", json!({"name": "world"}), "hello world"),
        ("${name}x", json!({"name": "a"}), "ax"),
        ("$missing stays", json!({}), "$missing stays"),
        ("[$!missing]", json!({}), "[]"),
        ("[$!{missing}]", json!({}), "[]"),
        ("${missing}", json!({}), "${missing}"),
        ("$a.b.c", json!({"a": {"b": {"c": 5}}}), "5"),
        ("$a.b.x", json!({"a": {"b": {"c": 5}}}), "$a.b.x"),
        ("$a[1]", json!({"a": [1, 2, 3]}), "2"),
        ("$a[\"k\"]", json!({"a": {"k": "v"}}), "v"),
        ("$a.b[1].c", json!({"a": {"b": [{"c": 1}, {"c": 2}]}}), "2"),
        ("$a.get(0)", json!({"a": ["z"]}), "z"),
        ("$email@x.com", json!({"email": "me"}), "me@x.com"),
        ("$5 and $", json!({}), "$5 and $"),
        ("$a-b", json!({"a-b": 1, "a": 2}), "1"),
        // rendering
        (
            "$l",
            json!({"l": [1, "a", true, null]}),
            "[1, a, true, null]",
        ),
        ("$m", json!({"m": {"k": "v", "a": [1]}}), "{k=v, a=[1]}"),
        ("$f $g", json!({"f": 1.0, "g": 0.5}), "1.0 0.5"),
        ("#set($x = 1e10)$x", json!({}), "1.0E10"),
        ("$b", json!({"b": false}), "false"),
        // literals & operators
        ("#set($x = 'a$b')$x", json!({"b": 1}), "a$b"),
        ("#set($x = \"a$b\")$x", json!({"b": 1}), "a1"),
        ("#set($x = [1, \"a\", $y])$x", json!({"y": 3}), "[1, a, 3]"),
        ("#set($x = [1..4])$x", json!({}), "[1, 2, 3, 4]"),
        ("#set($x = [3..1])$x", json!({}), "[3, 2, 1]"),
        (
            "#set($x = {\"k\": $v, \"j\": 2})$x $x.k",
            json!({"v": "q"}),
            "{k=q, j=2} q",
        ),
        ("#set($x = 7 / 2)$x", json!({}), "3"),
        ("#set($x = 7 % 3)$x", json!({}), "1"),
        ("#set($x = 7.0 / 2)$x", json!({}), "3.5"),
        ("#set($x = 2 + 3 * 4)$x", json!({}), "14"),
        ("#set($x = (2 + 3) * 4)$x", json!({}), "20"),
        ("#set($x = \"a\" + 1)$x", json!({}), "a1"),
        ("#set($x = -3 + 1)$x", json!({}), "-2"),
        ("#set($x = 1 - -1)$x", json!({}), "2"),
        ("#if(1 == 1.0)y#end", json!({}), "y"),
        ("#if($a == \"1\")y#{else}n#end", json!({"a": 1}), "y"),
        (
            "#if($a != 2 && $a < 2 and $a le 1)y#end",
            json!({"a": 1}),
            "y",
        ),
        ("#if($a > 2 || $a gt 0)y#end", json!({"a": 1}), "y"),
        ("#if(!$a)y#else n#end", json!({"a": false}), "y"),
        ("#if(not $a)y#{else}n#end", json!({"a": true}), "n"),
        ("#if($a eq 'x')y#end", json!({"a": "x"}), "y"),
        ("#if(\"b\" > \"a\")y#end", json!({}), "y"),
        // truthiness
        ("#if($e)t#{else}f#end", json!({"e": ""}), "t"),
        ("#if($e)t#{else}f#end", json!({"e": 0}), "t"),
        ("#if($e)t#{else}f#end", json!({}), "f"),
        ("#if($e)t#{else}f#end", json!({"e": null}), "f"),
        // if/elseif/else
        (
            "#if($a == 1)one#elseif($a == 2)two#{else}many#end",
            json!({"a": 2}),
            "two",
        ),
        (
            "#if($a == 1)one#elseif($a == 2)two#{else}many#end",
            json!({"a": 3}),
            "many",
        ),
        ("#{if}(true)x#{end}", json!({}), "x"),
        // set
        ("#set($x = 1)#set($x = $nothing)$x", json!({}), "1"),
        ("#set($m.k = 2)$m.k", json!({"m": {"k": 1}}), "2"),
        ("#set($l[0] = 9)$l", json!({"l": [1, 2]}), "[9, 2]"),
        ("#set($x = $x + 1)$x", json!({"x": 1}), "2"),
        // foreach
        (
            "[#foreach($e in $list)\"$e\"#if($foreach.hasNext),#end#end]",
            json!({"list": ["a", "b", "c"]}),
            "[\"a\",\"b\",\"c\"]",
        ),
        (
            "#foreach($i in $l)$foreach.index/$foreach.count/$velocityCount #end",
            json!({"l": ["a", "b"]}),
            "0/1/1 1/2/2 ",
        ),
        (
            "#foreach($v in $m)$v,#end",
            json!({"m": {"a": 1, "b": 2}}),
            "1,2,",
        ),
        (
            "#foreach($k in $m.keySet())$k=$m.get($k);#end",
            json!({"m": {"a": 1, "b": 2}}),
            "a=1;b=2;",
        ),
        (
            "#foreach($e in $m.entrySet())$e.key:$e.value #end",
            json!({"m": {"a": 1}}),
            "a:1 ",
        ),
        (
            "#foreach($i in [1..5])#if($i == 3)#break#end$i#end",
            json!({}),
            "12",
        ),
        ("#foreach($i in $nothing)x#end.", json!({}), "."),
        (
            "#foreach($i in [1, 2])$i#end$i",
            json!({"i": "old"}),
            "12old",
        ),
        ("a#stop b", json!({}), "a"),
        (
            "#foreach($i in [1..3])$i#if($i == 2)#stop#end#end after",
            json!({}),
            "12",
        ),
        // macros and define
        ("#macro(hi $n)Hi $n!#end#hi(\"Bob\")", json!({}), "Hi Bob!"),
        (
            "#macro(add $a $b)#set($r = $a + $b)$r#end#add(1 2)/#add(3, 4)",
            json!({}),
            "3/7",
        ),
        ("#unknown($x)", json!({"x": 1}), "#unknown($x)"),
        (
            "#define($blk)v=$v#end#set($v = 1)$blk #set($v = 2)$blk",
            json!({}),
            "v=1v=2",
        ),
        // comments and escapes
        ("a## comment\nb", json!({}), "ab"),
        ("a#* block\n comment *#b", json!({}), "ab"),
        ("\\$a", json!({"a": 1}), "$a"),
        ("\\$a", json!({}), "\\$a"),
        ("\\$!{a.b}", json!({"a": {"b": 1}}), "$!{a.b}"),
        ("\\\\$a", json!({"a": 1}), "\\1"),
        ("\\#if(true)", json!({}), "#if(true)"),
        ("a\\b", json!({}), "a\\b"),
        ("#[[#if($x) $y]]#", json!({}), "#if($x) $y"),
        ("# not a directive #", json!({}), "# not a directive #"),
        ("C# and #1", json!({}), "C# and #1"),
        // whitespace, as Velocity 1.7 prints it (checked against it)
        ("#set($x = 1)\nline", json!({}), "line"),
        ("  #set($x = 1)  \nline", json!({}), "line"),
        ("a\n#if(true)\n  b\n#end\nc", json!({}), "a\n  b\nc"),
        (
            "a\n  #if(false)\n  b\n  #else\n  c\n  #end\nd",
            json!({}),
            "a\n    c\n  d",
        ),
        ("#foreach($i in [1, 2])\n$i\n#end\n", json!({}), "1\n2\n"),
        ("x #set($a = 1)\ny", json!({}), "x y"),
        ("#if(true)a#end\nb", json!({}), "ab"),
        ("## c\n  ## d\nx", json!({}), "  x"),
        ("#set($a = 1)\r\nb", json!({}), "b"),
        // string methods
        ("$s.length()", json!({"s": "héllo"}), "5"),
        (
            "$s.substring(1, 3) $s.substring(2)",
            json!({"s": "hello"}),
            "el llo",
        ),
        (
            "$s.indexOf('l') $s.lastIndexOf('l') $s.indexOf('z')",
            json!({"s": "hello"}),
            "2 3 -1",
        ),
        ("$s.replace('l', 'L')", json!({"s": "hello"}), "heLLo"),
        (
            "$s.toUpperCase() $s.toLowerCase()",
            json!({"s": "HeLLo"}),
            "HELLO hello",
        ),
        ("[$s.trim()]", json!({"s": "  x \n"}), "[x]"),
        (
            "$s.contains('ell') $s.startsWith('he') $s.endsWith('x')",
            json!({"s": "hello"}),
            "true true false",
        ),
        (
            "$s.isEmpty() $s.equals('hello') $s.equalsIgnoreCase('HELLO')",
            json!({"s": "hello"}),
            "false true true",
        ),
        (
            "$s.charAt(1)$s.concat('!')",
            json!({"s": "hello"}),
            "ehello!",
        ),
        ("$s.empty", json!({"s": ""}), "true"),
        // regex methods
        ("$s.matches('[a-z]+')", json!({"s": "abc"}), "true"),
        ("$s.matches('b')", json!({"s": "abc"}), "false"),
        ("$s.matches('a(?=b)bc')", json!({"s": "abc"}), "true"),
        (
            "$s.replaceAll('(\\w+)@(\\w+)', '$2 at $1')",
            json!({"s": "me@host"}),
            "host at me",
        ),
        ("$s.replaceFirst('o', '0')", json!({"s": "foo"}), "f0o"),
        ("$s.replaceAll('(a)\\1', 'X')", json!({"s": "aab"}), "Xb"),
        ("$s.split(',')", json!({"s": "a,b,,c,,"}), "[a, b, , c]"),
        ("$s.split(',').size()", json!({"s": "a,b"}), "2"),
        // list / map methods
        (
            "$l.size() $l.isEmpty() $l.contains(2) $l.indexOf(3)",
            json!({"l": [1, 2, 3]}),
            "3 false true 2",
        ),
        (
            "#set($ok = $l.add(4))$ok $l",
            json!({"l": [1]}),
            "true [1, 4]",
        ),
        ("#set($d = $l.add(4))$l.size()", json!({"l": []}), "1"),
        (
            "$m.size() $m.get('a') $m.containsKey('a') $m.containsKey('z')",
            json!({"m": {"a": 1}}),
            "1 1 true false",
        ),
        (
            "$m.keySet() $m.values()",
            json!({"m": {"a": 1, "b": 2}}),
            "[a, b] [1, 2]",
        ),
        (
            "#set($d = $m.put('c', 3))$m #set($d = $m.remove('a'))$m",
            json!({"m": {"a": 1}}),
            "{a=1, c=3}{c=3}",
        ),
        ("$m.isEmpty()", json!({"m": {}}), "true"),
        (
            "$m.entrySet() #foreach($e in $m.entrySet())$e.getKey()$e.getValue()#end",
            json!({"m": {"a": 1, "b": [2]}}),
            "[a=1, b=[2]] a1b[2]",
        ),
        (
            "#set($m = {})#set($d = $m.put('k', [1]))$m.k.get(0)",
            json!({}),
            "1",
        ),
        // numbers
        (
            "$n.toString() $n.intValue() $n.doubleValue()",
            json!({"n": 3}),
            "3 3 3.0",
        ),
        ("$f.intValue()", json!({"f": 3.7}), "3"),
        (
            "#set($x = 9223372036854775807 + 1)$x",
            json!({}),
            "9.223372036854776E18",
        ),
        ("#set($x = 1 / 0)$x", json!({"x": 5}), "5"),
        // string interpolation with directives
        ("#set($x = \"#if($a)yes#end\")$x", json!({"a": true}), "yes"),
        ("#set($x = \"$missing\")$x", json!({}), "$missing"),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for (t, j, want) in cases {
        assert_eq!(render(t, j), want, "template {t:?}");
    }
}

#[test]
fn parse_errors_have_positions() {
    let e = parse("ok\n  #if($a)\nx").unwrap_err();
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    let e = parse("line1\n#set($x = )").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    let e = parse("#end").unwrap_err();
    assert_eq!(e.line, 1);
    let e = parse("#foreach($x on $y)#end").unwrap_err();
    assert!(e.message.contains("in"), "{e}");
    assert!(parse("#* never closed").is_err());
    assert!(parse("#set($x = \"unterminated)").is_err());
    assert!(parse("#if(true)#else#else#end").is_err());
}

#[test]
fn template_size_limit() {
    let limits = Limits {
        max_template_bytes: 10,
        ..Limits::default()
    };
    assert!(crate::parse_with_limits("01234567890", &limits).is_err());
    let t = parse("01234567890").unwrap();
    let e = t.render(&mut Context::new(), &limits).unwrap_err();
    assert_eq!(e.kind, RenderErrorKind::TemplateTooLarge);
}

#[test]
fn loop_limit() {
    let list: Vec<i32> = (0..2000).collect();
    let k = render_err(
        "#foreach($i in $l)$i#end",
        json!({ "l": list }),
        &Limits::default(),
    );
    assert_eq!(k, RenderErrorKind::LoopLimit);
    // exactly the limit is fine
    let list: Vec<i32> = (0..1000).collect();
    render("#foreach($i in $l)#end", json!({ "l": list }));
}

#[test]
fn recursion_limit() {
    let k = render_err("#macro(r)#r()#end#r()", json!({}), &Limits::default());
    assert_eq!(k, RenderErrorKind::DepthLimit);
    let k = render_err("#define($a)$a#end$a", json!({}), &Limits::default());
    assert_eq!(k, RenderErrorKind::DepthLimit);
    // huge user max_depth is still capped
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let k = render_err("#macro(r)#r()#end#r()", json!({}), &limits);
    assert_eq!(k, RenderErrorKind::DepthLimit);
}

#[test]
fn output_limit() {
    let t = "#set($s = 'ab')#foreach($i in [1..60])#set($s = \"$s$s\")#end$s";
    let k = render_err(t, json!({}), &Limits::default());
    assert!(
        matches!(k, RenderErrorKind::OutputLimit | RenderErrorKind::LoopLimit),
        "{k:?}"
    );
    let t = "#set($s = 'ab')#foreach($i in [1..60])#set($s = $s.concat($s))#end";
    let k = render_err(t, json!({}), &Limits::default());
    assert_eq!(k, RenderErrorKind::OutputLimit);
    let t = "#set($l = [1])#foreach($i in [1..200])#set($l = [$l, $l])#end";
    let k = render_err(t, json!({}), &Limits::default());
    assert!(
        matches!(
            k,
            RenderErrorKind::OutputLimit | RenderErrorKind::DepthLimit
        ),
        "{k:?}"
    );
    let small = Limits {
        max_output_bytes: 10,
        ..Limits::default()
    };
    let k = render_err("0123456789abc", json!({}), &small);
    assert_eq!(k, RenderErrorKind::OutputLimit);
}

#[test]
fn step_limit() {
    let limits = Limits {
        max_steps: 1000,
        ..Limits::default()
    };
    let k = render_err(
        "#foreach($i in [1..1000])#foreach($j in [1..1000])x#end#end",
        json!({}),
        &limits,
    );
    assert_eq!(k, RenderErrorKind::StepLimit);
    let k = render_err("#set($x = [1..999999999])", json!({}), &Limits::default());
    assert_eq!(k, RenderErrorKind::LoopLimit);
}

#[test]
fn time_limit() {
    // A step budget too large to matter: the clock stops it.
    let limits = Limits {
        max_steps: u64::MAX,
        max_duration: Some(std::time::Duration::from_millis(50)),
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let k = render_err(
        "#foreach($i in [1..1000])#foreach($j in [1..1000])#foreach($k in [1..1000])x#end#end#end",
        json!({}),
        &Limits {
            max_output_bytes: usize::MAX,
            ..limits
        },
    );
    assert_eq!(k, RenderErrorKind::TimeLimit);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn deep_nesting_is_parse_error() {
    let src = "#if(true)".repeat(10_000) + &"#end".repeat(10_000);
    assert!(parse(&src).is_err());
    let src = "(".repeat(10_000);
    assert!(parse(&format!("#set($x = {src})")).is_err());
    let src = "[".repeat(10_000);
    assert!(parse(&format!("#set($x = {src})")).is_err());
    let src = "$a[".repeat(5_000);
    let _ = parse(&src);
    let src = "\"#set($x = ".repeat(3_000);
    let _ = parse(&format!("#set($x = {src})"));
}

#[test]
fn method_errors() {
    let k = render_err("$s.substring(5)", json!({"s": "ab"}), &Limits::default());
    assert!(matches!(k, RenderErrorKind::Method(_)));
    let k = render_err("$s.matches('(')", json!({"s": "ab"}), &Limits::default());
    assert!(matches!(k, RenderErrorKind::Method(_)));
    let k = render_err("$l.get(3)", json!({"l": [1]}), &Limits::default());
    assert!(matches!(k, RenderErrorKind::Method(_)));
}

#[test]
fn catastrophic_regex_is_bounded() {
    let s = "a".repeat(40) + "!";
    let t = parse("$s.matches('(a+)+\\1b')").unwrap();
    let mut c = ctx_from(json!({ "s": s }));
    // either an error (backtrack limit) or a quick answer; never hangs
    let _ = t.render(&mut c, &Limits::default());
}

#[derive(Debug)]
struct Obj;

impl Object for Obj {
    fn get(&self, name: &str) -> Option<Value> {
        (name == "stage").then(|| Value::from("prod"))
    }
    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, String> {
        match method {
            "echo" => Ok(args.first().cloned()),
            "fail" => Err("boom".into()),
            _ => Ok(None),
        }
    }
    fn render(&self) -> String {
        "<obj>".into()
    }
}

#[test]
fn host_objects() {
    let mut ctx = Context::new();
    ctx.insert("o", Value::Object(Arc::new(Obj)));
    let t = parse("$o $o.stage $o.echo('hi') $o.nope() $!o.nope()|").unwrap();
    assert_eq!(
        t.render_as(&mut ctx, &Limits::default(), Dialect::Velocity17)
            .unwrap(),
        "<obj> prod hi $o.nope() |"
    );
    assert_eq!(
        t.render(&mut ctx, &Limits::default()).unwrap(),
        "<obj> prod hi  |"
    );
    let t = parse("$o.toString()|$o.equals($o)|$n.compareTo(1)").unwrap();
    ctx.insert("n", Value::Int(1));
    assert_eq!(
        t.render_as(&mut ctx, &Limits::default(), Dialect::Velocity17)
            .unwrap(),
        "<obj>|$o.equals($o)|$n.compareTo(1)"
    );
    let t = parse("$o.fail()").unwrap();
    let e = t.render(&mut ctx, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, RenderErrorKind::Method("boom".into()));
    assert_eq!((e.line, e.column), (1, 1));
}

#[test]
fn set_is_visible_in_context() {
    let t = parse("#set($x = 5)").unwrap();
    let mut ctx = Context::new();
    t.render(&mut ctx, &Limits::default()).unwrap();
    assert_eq!(ctx.get("x"), Some(&Value::Int(5)));
}

#[test]
fn from_json_keeps_order_and_number_kinds() {
    let v = Value::from(json!({"z": 1, "a": 1.5, "m": 18446744073709551615u64}));
    assert_eq!(v.render(), "{z=1, a=1.5, m=1.8446744073709552E19}");
}

const FRAGMENTS: &[&str] = &[
    "#if(",
    "$a",
    ")",
    "#end",
    "#foreach($i in $a)",
    "#foreach($i in [1..3])",
    "#set($x = ",
    "$x",
    "\"",
    "'",
    "[",
    "]",
    "..",
    "{",
    "}",
    ":",
    ",",
    "#macro(m $p)",
    "#m(",
    "$p",
    "#break",
    "#stop",
    "#define($d)",
    "$d",
    "#else",
    "#elseif(",
    "\\",
    "$!",
    "${",
    "text",
    "\n",
    " ",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "&&",
    "!",
    ".size()",
    ".get(0)",
    "[0]",
    ".b",
    ".add($x)",
    ".put('k', $x)",
    "1",
    "2.5",
    "##",
    "#*",
    "*#",
    "$foreach.hasNext",
    "#{end}",
    "$b.c",
    ".split(',')",
    ".matches('a*')",
    ".replaceAll('(.)', '$1$1')",
    "$x.substring(1)",
    "#m()",
    "$velocityCount",
    "[$x, $x]",
    "\"$x$x\"",
    "$a[$x]",
    ")\n",
    "  ",
];

#[test]
fn fuzz_no_panics() {
    // xorshift, deterministic
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "#$!{}()[]\"'.,=+-*/%<>&|\\ \nabcxyz019_-*@:if end set else foreach in macro define break stop elseif ..".chars().collect();
    let limits = Limits {
        max_steps: 10_000,
        ..Limits::default()
    };
    let start = std::time::Instant::now();
    let mut parsed = 0usize;
    let max_len: u64 = std::env::var("VTL_FUZZ_LEN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let iters: usize = std::env::var("VTL_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for i in 0..iters {
        let len = (next() % max_len) as usize;
        let src: String = if i % 4 == 1 {
            (0..len / 3)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect()
        } else if i % 4 == 0 {
            let bytes: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        };
        if let Ok(t) = parse(&src) {
            parsed += 1;
            let mut ctx = ctx_from(json!({"a": [1, 2], "b": {"c": "d"}, "x": "str"}));
            let _ = t.render(&mut ctx, &limits);
        }
    }
    eprintln!("fuzz: {parsed}/{iters} parsed");
    assert!(parsed > iters / 10);
    if iters == 4000 {
        assert!(start.elapsed().as_secs() < 10);
    }
}

#[test]
fn deep_if() {
    let src = "#if(true)".repeat(10_000) + &"#end".repeat(10_000);
    assert!(parse(&src).is_err());
}
#[test]
fn deep_render_nesting_does_not_overflow() {
    // Run on a 1 MiB stack (half the default test/tokio thread stack) to keep a margin.
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(deep_render_nesting)
        .unwrap()
        .join()
        .unwrap();
}

fn deep_render_nesting() {
    let body = "#if(true)".repeat(40) + "#r()" + &"#end".repeat(40);
    let src = format!("#macro(r){body}#end#r()");
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let k = render_err(&src, json!({}), &limits);
    assert_eq!(k, RenderErrorKind::DepthLimit);
    let deep = "#if(true)".repeat(90) + "x" + &"#end".repeat(90);
    assert_eq!(render(&deep, json!({})), "x");
    let deep = "(".repeat(45) + "1" + &")".repeat(45);
    assert_eq!(render(&format!("#set($x = {deep})$x"), json!({})), "1");
}

#[test]
fn deep_paren() {
    let src = "(".repeat(10_000);
    assert!(parse(&format!("#set($x = {src})")).is_err());
}
#[test]
fn deep_str() {
    let src = "\"#set($x = ".repeat(3_000);
    let _ = parse(&format!("#set($x = {src})"));
}
#[test]
fn deep_idx() {
    let src = "$a[".repeat(5_000);
    let _ = parse(&src);
}

#[test]
fn table_more() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "#foreach($a in [1, 2])#foreach($b in ['x'])$foreach.parent.count$b#end#end",
            json!({}),
            "1x2x",
        ),
        (
            "#foreach($i in [1, 2, 3])#if($foreach.first)F#end#if($foreach.last)L#end$i#end",
            json!({}),
            "F12L3",
        ),
        (
            "#macro(m $x)#foreach($i in $x)($i)#end#end#m([1, 2])",
            json!({}),
            "(1)(2)",
        ),
        (
            "#macro(b)#break#end#foreach($i in [1, 2, 3])$i#b()#end",
            json!({}),
            "1",
        ),
        ("#macro(m $x)$x#end#m($undefined)", json!({}), "$x"),
        (
            "#macro(m $x)$x#end#set($x = 'outer')#m('in') $x",
            json!({}),
            "in outer",
        ),
        ("#set($f = 0.1 + 0.2)$f", json!({}), "0.30000000000000004"),
        ("#set($f = 1.5e-5)$f", json!({}), "1.5E-5"),
        ("#set($f = 100.0 * 3)$f", json!({}), "300.0"),
        ("#set($x = 10 - 2 - 3)$x", json!({}), "5"),
        ("#set($x = 2 * 3 % 4)$x", json!({}), "2"),
        ("#if($a ne $b)y#end", json!({"a": 1, "b": 2}), "y"),
        (
            "#if($a >= 1 && $a ge 1 && $a <= 1 && $a lt 2)y#end",
            json!({"a": 1}),
            "y",
        ),
        (
            "#if($a == $b)y#{else}n#end",
            json!({"a": [1, 2], "b": [1, 2]}),
            "y",
        ),
        ("#if($a == $b)y#{else}n#end", json!({"a": null}), "y"),
        ("#if($a || $b)y#{else}n#end", json!({"b": true}), "y"),
        ("#if($a && $b)y#{else}n#end", json!({"a": true}), "n"),
        (
            "$m",
            json!({"m": {"a": {"b": [1, {"c": null}]}}}),
            "{a={b=[1, {c=null}]}}",
        ),
        ("#set($s = \"a${x}b\")$s", json!({"x": 1}), "a1b"),
        ("#set($s = \"say \"\"hi\"\"\")$s", json!({}), "say \"hi\""),
        ("#set($s = 'it''s')$s", json!({}), "it's"),
        (
            "{\n  \"ids\": [\n#foreach($id in $ids)\n    \"$id\"#if($foreach.hasNext),#end\n#end\n  ]\n}",
            json!({"ids": ["a", "b"]}),
            // Velocity 1.7: `#end` swallows its newline even after other text.
            "{\n  \"ids\": [\n    \"a\",    \"b\"  ]\n}",
        ),
        (
            "#set($inputRoot = $body)\n{\n#foreach($k in $inputRoot.keySet())\n  \"$k\": \"$inputRoot.get($k)\"#if($foreach.hasNext),#end\n\n#end\n}",
            json!({"body": {"a": 1, "b": 2}}),
            "{\n  \"a\": \"1\",\n  \"b\": \"2\"\n}",
        ),
        ("  #if(true)\n  x\n  #end\n", json!({}), "    x\n  "),
        ("#if(true) #* c *#\nx#end", json!({}), " \nx"),
        ("a #* c *# b", json!({}), "a  b"),
        ("#set($a = 1) #set($b = 2)\nx$a$b", json!({}), "x12"),
        ("#set($a = 1)\n#set($b = 2)\nx$a$b", json!({}), "x12"),
        (
            "#foreach($c in $s.split(''))$c.#end",
            json!({"s": "abc"}),
            "a.b.c.",
        ),
        (
            "$s.split('\\s*,\\s*')",
            json!({"s": "a , b,c"}),
            "[a, b, c]",
        ),
        (
            "$s.replaceAll('[aeiou]', '')",
            json!({"s": "education"}),
            "dctn",
        ),
        (
            "$s.replaceAll('(?<y>\\d{4})-(\\d\\d)', '$2/${y}')",
            json!({"s": "2024-05"}),
            "05/2024",
        ),
        ("$s.replaceAll('x', '\\$')", json!({"s": "axb"}), "a$b"),
        ("$s.matches('\\d+')", json!({"s": "123\n"}), "false"),
        ("$s.matches('(\\w)\\1')", json!({"s": "aa"}), "true"),
        ("$l.get(0).k", json!({"l": [{"k": "v"}]}), "v"),
        ("$l[0][1]", json!({"l": [[1, 2]]}), "2"),
        ("#set($i = 1)$l[$i]", json!({"l": ["a", "b"]}), "b"),
        ("$m.get('missing')", json!({"m": {}}), "$m.get('missing')"),
        (
            "#set($l = [])#foreach($i in [1..3])#set($d = $l.add($i))#end$l",
            json!({}),
            "[1, 2, 3]",
        ),
        (
            "#set($m = {})#set($m.a = 1)#set($m['b'] = 2)$m",
            json!({}),
            "{a=1, b=2}",
        ),
        ("$x.class", json!({"x": 1}), "$x.class"),
        ("$s.toString().length()", json!({"s": 12345}), "5"),
        ("#set($n = $s.length() + 1)$n", json!({"s": "abc"}), "4"),
        ("$!s.nothing()x", json!({"s": {}}), "x"),
        ("#break after", json!({}), ""),
        ("#foreach($c in $s)x#end.", json!({"s": "abc"}), "."),
        ("#foreach($c in $n)x#end.", json!({"n": 3}), "."),
        ("#foreach( $i in $l )$i#end", json!({"l": [1]}), "1"),
        ("#if ($a)y#end", json!({"a": 1}), "y"),
        ("${a}.b", json!({"a": 1}), "1.b"),
        ("$a.b(", json!({"a": 1}), "1.b("),
        ("#{if}($a)y#{else}n#{end}", json!({"a": false}), "n"),
        ("#set($x = \"$a.size()\")$x", json!({"a": [1, 2]}), "2"),
        ("#set($x = $x.nope())$x", json!({"x": 1}), "1"),
        ("$!a$!b", json!({"a": "A"}), "A"),
        ("color: #fff;", json!({}), "color: #fff;"),
        ("#set($x = [])$x.isEmpty() $x.size()", json!({}), "true 0"),
    ];
    for (t, j, want) in cases {
        assert_eq!(render(t, j), want, "template {t:?}");
    }
}

#[test]
fn template_is_reusable_and_context_isolated() {
    let t = parse("#set($n = $n + 1)$n").unwrap();
    let mut a = ctx_from(json!({"n": 1}));
    assert_eq!(t.render(&mut a, &Limits::default()).unwrap(), "2");
    assert_eq!(t.render(&mut a, &Limits::default()).unwrap(), "3");
    let mut b = ctx_from(json!({"n": 10}));
    assert_eq!(t.render(&mut b, &Limits::default()).unwrap(), "11");
}

fn on_small_stack(f: fn()) {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn max_parse_depth_fits_small_stack() {
    on_small_stack(|| {
        let n = crate::parser::MAX_PARSE_DEPTH - 2;
        let deep = "#if(true)".repeat(n) + "x" + &"#end".repeat(n);
        assert_eq!(render(&deep, json!({})), "x");
        let deep = "#foreach($i in [1])".repeat(n / 3) + "x" + &"#end".repeat(n / 3);
        assert_eq!(render(&deep, json!({})), "x");
        let deep = "(".repeat(n / 2 - 1) + "1" + &")".repeat(n / 2 - 1);
        assert_eq!(render(&format!("#set($x = {deep})$x"), json!({})), "1");
    });
}

/// Whitespace exactly as Apache Velocity 1.7 prints it: every expectation here was produced by
/// Velocity 1.7 (see `tests/differential.rs` for the ones run against it on every test run).
#[test]
fn whitespace_like_velocity_1_7() {
    let cases: Vec<(&str, &str)> = vec![
        // `#set` swallows the blanks before it unless they follow literal text
        ("a #set($x = 1)b", "a b"),
        ("$name  #set($a = 1)y", "Worldy"),
        ("$name.length()\t#set($a = 1)y", "5y"),
        ("\\$nope  #set($a = 1)y", "\\$nopey"),
        ("x\n  #set($a = 1)\ny", "x\n  y"),
        ("#if(true)\n  #set($a = 1)\ny#end", "y"),
        ("## c\n  #set($a = 1)\ny", "y"),
        ("#[[raw]]#  #set($a = 1)y", "rawy"),
        ("#_  #set($a = 1)y", "#_y"),
        ("#1  #set($a = 1)y", "#1y"),
        ("${  #set($a = 1)y", "${y"),
        ("#{x  #set($a = 1)y", "#{x  y"),
        ("\\#if  #set($a = 1)y", "#ify"),
        // a directive's `)`, `#else` and `#end` swallow a blank rest of line, newline included
        ("#set($a = 1)  ", "  "),
        ("#if(true)\nx\n#end  ", "x\n  "),
        ("a #if(true)  \nx#end b", "a x b"),
        ("#if(true)\r\nx#end\r\ny", "xy"),
        ("#set($a = 1)\rx", "x"),
        ("#if(false)x#{else}\ny#end", "y"),
        ("#if(false)x#elseif(true)  \ny\n#end", "y\n"),
        ("#if(true)\nx#end\n\n\ny", "x\n\ny"),
        // comments
        ("x ## c\ry", "x y"),
        ("  ## c\nx", "  x"),
        ("#* c *#\nx", "\nx"),
        ("  #* a *#\n  #set($a = 1)\nx", "  \n  x"),
        // macros: calls swallow their line end too; bare `#m` calls a macro defined earlier
        ("#macro(mq)\nq\n#end#mq\ny", "q\n\ny"),
        ("#macro(mr)\nr\n#end#mr()  \ny", "r\ny"),
        ("#fwd(1)\n#macro(fwd $a)[$a]#end", "[1]"),
        ("#undef(1)  \nx", "#undef(1)  \nx"),
        ("#undef  \nx", "#undef  \nx"),
        (
            "#macro(ms $p)\n  #if($p)\n    <$p>\n  #end\n#end\n#ms(1)\n#ms(2)\n",
            "      <1>\n        <2>\n  ",
        ),
        // inside string literals
        ("#set($s = \"  #set($q = 1)b\")[$s]", "[b]"),
        ("#set($s = \"a  #set($q = 1)b\")[$s]", "[a  b]"),
        ("#set($s = \"#if(true)\nx#end\")[$s]", "[x]"),
        // `\#name` escapes directives and macros only
        ("\\#ifab \\#{foo} \\\\#nope", "\\#ifab \\#{foo} \\\\#nope"),
        ("\\#{if} \\#include", "#{if} #include"),
        ("#macro(esc $a)E#end\\#esc \\#esc(1)", "#esc #esc(1)"),
        ("#if(true)\\#ifab#end", "\\#ifab"),
    ];
    for (t, want) in cases {
        assert_eq!(render(t, json!({"name": "World"})), want, "template {t:?}");
    }
}

/// Regression: methods built their result before any size check, so a 100-byte template could
/// allocate gigabytes (`$s.replace("a", $s)` is quadratic) under a 64 KiB output limit.
#[test]
fn method_results_are_bounded_before_they_are_built() {
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 50_000,
        ..Limits::default()
    };
    // $s: 32 KiB of "a"
    let s32k = "#set($s = \"aaaaaaaaaaaaaaaa\")#foreach($i in [1..11])#set($s = \"$s$s\")#end";
    for call in [
        "$s.replace(\"a\", $s)",
        "$s.replace(\"\", $s)",
        "$s.replaceAll(\"a\", $s)",
        "$s.replaceFirst(\"\", $s).concat($s).concat($s)",
        "$s.concat($s).concat($s)",
        "$s.split(\"\")",
        "$s.getBytes()",
    ] {
        let t = format!("{s32k}#set($t = {call})");
        assert_eq!(
            render_err(&t, json!({}), &limits),
            RenderErrorKind::OutputLimit,
            "{call}"
        );
    }
    // Within the limit they still work.
    assert_eq!(
        render(
            "$s.replace('b', 'xx') $s.replaceAll('(a)', '$1$1') $s.split('').size() $s.concat($s)",
            json!({"s": "abc"})
        ),
        "axxc aabc 3 abcabc"
    );
}

/// Regression: storing a value inside another (`#set($a.b = $a)`) was not size-checked, so two
/// such `#set`s in a loop tripled `$a` each time: gigabytes and minutes for a 100-byte template.
#[test]
fn values_stored_by_set_are_bounded() {
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 50_000,
        ..Limits::default()
    };
    let t = "#set($a = {\"x\": \"0123456789\"})#foreach($i in [1..25])#set($a.b = $a)#set($a.c = $a)#end";
    assert_eq!(
        render_err(t, json!({}), &limits),
        RenderErrorKind::OutputLimit
    );
    assert_eq!(
        render("#set($a = {})#set($a.b = [1])#set($a.c = $a)$a", json!({})),
        "{b=[1], c={b=[1]}}"
    );
}

/// Regression (fuzz `vtl_render` slow unit): every `matches`/`replaceAll`/`split` compiled its
/// regex again and method calls were charged one step whatever they scanned, so a loop of
/// regex calls took 50 s under the default limits. Regexes are now cached per render, and
/// compiling one and scanning a big receiver are charged to the step budget.
#[test]
fn regex_compilation_and_scans_are_charged() {
    let limits = Limits {
        max_steps: 100_000,
        ..Limits::default()
    };
    // 1,000 distinct patterns: 1,000 compilations.
    let t = "#foreach($i in [1..1000])#if($name.matches(\"x$i\"))#end#end";
    assert_eq!(
        render_err(t, json!({"name": "n"}), &limits),
        RenderErrorKind::StepLimit
    );
    // However large the step budget, a render compiles at most 64 distinct regexes (a
    // pathological one, like `(?i)[\S]`, takes milliseconds).
    let t = "#foreach($i in [1..65])#if($name.matches(\"x$i\"))#end#end";
    assert_eq!(
        render_err(t, json!({"name": "n"}), &Limits::default()),
        RenderErrorKind::StepLimit
    );
    assert_eq!(render(&t.replace("65", "64"), json!({"name": "n"})), "");
    // One pattern, compiled once.
    let t =
        "#foreach($i in [1..1000])#if($name.matches(\"[a-z]+\"))#end#end$name.matches('[a-z]+')";
    let tpl = parse(t).unwrap();
    assert_eq!(
        tpl.render(&mut ctx_from(json!({"name": "n"})), &limits)
            .unwrap(),
        "true"
    );
    // Scanning a 64 KiB string 1,000 times.
    let t = "#foreach($i in [1..1000])#if($s.contains(\"b\"))#end#end";
    let s = "a".repeat(64 * 1024);
    assert_eq!(
        render_err(t, json!({ "s": s }), &limits),
        RenderErrorKind::StepLimit
    );
}

#[test]
fn json_lists_behave_like_lists_but_print_as_json() {
    let mut ctx = Context::new();
    ctx.insert(
        "doc",
        Value::from_json_smart(json!({"tags": ["a", "b"], "items": [{"k": 1}, [true, null, 1.5]]})),
    );
    let t =
        |src: &str, ctx: &mut Context| parse(src).unwrap().render(ctx, &Limits::default()).unwrap();
    assert_eq!(t("$doc.tags", &mut ctx), r#"["a","b"]"#);
    assert_eq!(t("$doc.items", &mut ctx), r#"[{"k":1},[true,null,1.5]]"#);
    assert_eq!(
        t("$doc.tags.size() $doc.tags[1] $doc.tags.get(0)", &mut ctx),
        "2 b a"
    );
    assert_eq!(
        t(
            "#foreach($t in $doc.tags)$t#if($foreach.hasNext),#end#end",
            &mut ctx
        ),
        "a,b"
    );
    // The map around them keeps Java's printing; lists built in the template stay Java-style.
    assert_eq!(
        t("$doc", &mut ctx),
        r#"{tags=["a","b"], items=[{"k":1},[true,null,1.5]]}"#
    );
    assert_eq!(t("#set($l = [1, 'x'])$l", &mut ctx), "[1, x]");
    assert_eq!(
        t("$doc.tags.add('c')$doc.tags", &mut ctx),
        r#"true["a","b","c"]"#
    );
}

/// `$context`'s nested maps (Value::QuietMap): read, iterated and assigned like maps, printed as
/// nothing — in a reference, in a string literal and inside a JSON list alike.
#[test]
fn quiet_maps_behave_like_maps_but_print_nothing() {
    let mut ctx = Context::new();
    ctx.insert(
        "context",
        Value::from_json_quiet_nested(json!({"identity": {"sourceIp": "1.2.3.4"}, "o": {"h": {}}})),
    );
    let t = parse(concat!(
        "[$context.identity][\"$context.get('identity')\"][$context.identity.sourceIp]",
        "[$context.identity.keySet()][$context.identity.size()]",
        "#set($context.o.h.x = 'v')$context.o.h.put('y', 'w')[$context.o.h.x$context.o.h.y]",
        "[$context.o][#foreach($k in $context.keySet())$k,#end]"
    ))
    .unwrap();
    assert_eq!(
        t.render(&mut ctx, &Limits::default()).unwrap(),
        "[][\"\"][1.2.3.4][[sourceIp]][1][vw][][identity,o,]"
    );
    // The top of the tree is an ordinary map.
    let t = parse("$context.o.isEmpty() $context.size()").unwrap();
    assert_eq!(t.render(&mut ctx, &Limits::default()).unwrap(), "false 2");
}

#[test]
fn literal_arguments_of_host_calls() {
    let t = parse(concat!(
        "$input.json('$.a') $!{input.json(\"$.b\")} $input.path('$.a')\n",
        "#set($x = $input.json(\"$.items[$i]\"))#set($y = $other.json('$.no'))\n",
        "#if($input.path('$.c') == 1)#foreach($e in $input.path('$.d'))$e#end#end\n",
        "#macro(m $v)$input.json('$.e')#end#set($s = \"${input.json('$.f')}\")\n",
        "$input.params('$.no') $input.json($var) $input.json('$.g').length()"
    ))
    .unwrap();
    assert_eq!(
        t.literal_arguments("input", &["json", "path"]),
        ["$.a", "$.b", "$.c", "$.d", "$.f", "$.g", "$.e"]
    );
}
