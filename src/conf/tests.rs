use super::*;

fn get<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('/').fold(v, |v, k| {
        &v.get(k).unwrap_or_else(|| panic!("no {k}")).value
    })
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().0
}

#[test]
fn separators_comments_and_terminators() {
    let v = parse(
        "port: 4222\nhost = 127.0.0.1 # trailing comment\nserver_name \"x\"; debug: true\n// line comment\nlisten: localhost:4333\n",
    )
    .unwrap();
    assert_eq!(get(&v, "port"), &Value::Int(4222));
    assert_eq!(get(&v, "host"), &Value::Str("127.0.0.1".into()));
    assert_eq!(get(&v, "server_name"), &Value::Str("x".into()));
    assert_eq!(get(&v, "debug"), &Value::Bool(true));
    assert_eq!(get(&v, "listen"), &Value::Str("localhost:4333".into()));
}

#[test]
fn maps_arrays_sizes_and_booleans() {
    let v = parse(
        "authorization {\n  users = [\n    {user: a, password: \"p w\"}\n    {user: b, password: q}, \n  ]\n  timeout: 1.5\n}\nmax_payload: 1MB\nmax_pending: 2M\nx: 1KiB\nflags: [on, off, yes, No]\n",
    )
    .unwrap();
    let Value::Array(users) = get(&v, "authorization/users") else {
        panic!()
    };
    assert_eq!(users.len(), 2);
    assert_eq!(
        users[0].value.get("password").unwrap().value,
        Value::Str("p w".into())
    );
    assert_eq!(get(&v, "authorization/timeout"), &Value::Float(1.5));
    assert_eq!(get(&v, "max_payload"), &Value::Int(1 << 20));
    assert_eq!(get(&v, "max_pending"), &Value::Int(2_000_000));
    assert_eq!(get(&v, "x"), &Value::Int(1024));
    let Value::Array(f) = get(&v, "flags") else {
        panic!()
    };
    let f: Vec<&Value> = f.iter().map(|i| &i.value).collect();
    assert_eq!(
        f,
        [
            &Value::Bool(true),
            &Value::Bool(false),
            &Value::Bool(true),
            &Value::Bool(false)
        ]
    );
}

/// Go's lexer takes a bare word that starts with digits for a string once a letter follows,
/// reads `(` ... `)` blocks and datetimes, and drops a number with an unknown size suffix
/// (its key then waits for the next value).
#[test]
fn values_as_go_lexes_them() {
    let v = parse("a: 3secret\nb: 1kx\nc: 2020-01-02T03:04:05Z\nd: (\nline\n)\ne: \"\\x41\\t\"\n")
        .unwrap();
    assert_eq!(get(&v, "a"), &Value::Str("3secret".into()));
    assert_eq!(get(&v, "b"), &Value::Str("1kx".into()));
    assert_eq!(
        get(&parse("b: 1k2\n").unwrap(), "b"),
        &Value::Str("1k2".into())
    );
    assert_eq!(
        get(&v, "c"),
        &Value::Datetime("2020-01-02T03:04:05Z".into())
    );
    assert_eq!(get(&v, "d"), &Value::Str("\nline\n".into()));
    assert_eq!(get(&v, "e"), &Value::Str("A\t".into()));
    let v = parse("a: 1kbb\nb: 2\n").unwrap();
    assert_eq!(v.get("a"), None);
    assert_eq!(get(&v, "b"), &Value::Int(2));
}

#[test]
fn empty_values() {
    // Found by the fuzzer: this used to panic. The Go server reads "" here too.
    let v = parse("server_name = ,\ny = ;\n").unwrap();
    for key in ["server_name", "y"] {
        assert_eq!(get(&v, key), &Value::Str(String::new()), "{key}");
    }
    let v = parse("x: [1, 2,]\ny: [\n  a\n  b\n]\n").unwrap();
    for key in ["x", "y"] {
        let Value::Array(items) = get(&v, key) else {
            panic!("{key}")
        };
        assert_eq!(items.len(), 2, "{key}");
    }
}

#[test]
fn positions_are_gos() {
    // Columns count from 0 on the first line and from 1 on the others; a map entry is where
    // its key is, an array element where its value is, a quoted string after its quote.
    let v = parse("a: 1\nblock {\n  b: [x, \"y\"]\n}\n").unwrap();
    let Value::Map(kv) = &v else { panic!() };
    assert_eq!((kv[0].1.line, kv[0].1.col), (1, 0));
    let b = v.get("block").unwrap().value.get("b").unwrap();
    assert_eq!((b.line, b.col), (3, 3));
    let Value::Array(items) = &b.value else {
        panic!()
    };
    let at: Vec<(usize, usize)> = items.iter().map(|i| (i.line, i.col)).collect();
    assert_eq!(at, [(3, 7), (3, 11)]);
    assert_eq!(&*b.file, "<text>");
}

#[test]
fn variables_are_marked_used_and_bcrypt_hashes_are_strings() {
    let v = parse("ROLE { publish: x }\nunused: 1\nauth { p: $ROLE }\n").unwrap();
    let Value::Map(kv) = &v else { panic!() };
    let used: Vec<(&str, bool)> = kv.iter().map(|(k, i)| (k.as_str(), i.used)).collect();
    assert_eq!(used, [("ROLE", true), ("unused", false), ("auth", false)]);
    let v = parse("pass: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9\n").unwrap();
    assert_eq!(
        get(&v, "pass"),
        &Value::Str("$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9".into())
    );
    // A random port after an address, unquoted, as Go's tests write it.
    let v = parse("listen: 127.0.0.1:-1\n").unwrap();
    assert_eq!(get(&v, "listen"), &Value::Str("127.0.0.1:-1".into()));
}

#[test]
fn variables_scoped_then_environment() {
    std::env::set_var("RIPTIDE_CONF_TEST_PORT", "5222");
    std::env::set_var("RIPTIDE_CONF_TEST_SPACEY", "a b");
    std::env::set_var("RIPTIDE_CONF_TEST_CYCLE", "$RIPTIDE_CONF_TEST_CYCLE");
    let v =
        parse("limit: 100\nblock { limit: 7, a: $limit }\nb: $limit\np: $RIPTIDE_CONF_TEST_PORT\n")
            .unwrap();
    assert_eq!(get(&v, "block/a"), &Value::Int(7));
    assert_eq!(get(&v, "b"), &Value::Int(100));
    assert_eq!(get(&v, "p"), &Value::Int(5222));
    // nats-server 2.15.1's words (`nats-server -t`, the variables set alike).
    assert_eq!(
        err("x: 1\na: $nope_riptide_missing\n"),
        "variable reference for 'nope_riptide_missing' on line 2 can not be found"
    );
    assert_eq!(
        err("a: $RIPTIDE_CONF_TEST_SPACEY\n"),
        "variable reference for 'RIPTIDE_CONF_TEST_SPACEY' on line 1 could not be parsed: Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.'"
    );
    assert_eq!(
        err("a: $RIPTIDE_CONF_TEST_CYCLE\n"),
        "variable reference for 'RIPTIDE_CONF_TEST_CYCLE' on line 1 could not be parsed: variable reference for 'RIPTIDE_CONF_TEST_CYCLE' on line 1 could not be parsed: variable reference cycle for 'RIPTIDE_CONF_TEST_CYCLE'"
    );
}

/// Each text and what `nats-server -t` 2.15.1 prints for it (without `nats-server: `).
#[test]
fn syntax_errors_are_worded_as_go_words_them() {
    let cases = [
        (
            "port: 4222\nauthorization {\n  user: a\n",
            "Parse error on line 4: 'Unexpected EOF processing map.'",
        ),
        // The string runs over the newline, so Go is on line 3 when the text ends.
        (
            "port: 4222\nserver_name: \"abc\n",
            "Parse error on line 3: 'Unexpected EOF.'",
        ),
        (
            "port: 4222\nserver_name: \"abc",
            "Parse error on line 2: 'Unexpected EOF.'",
        ),
        // Go prints the NUL it uses for the end of the text.
        (
            "port: 4222\nx: [1, 2\n",
            "Parse error on line 3: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead.'",
        ),
        (
            "x: [1,,2]\n",
            "Parse error on line 1: 'Unexpected array value terminator ','.'",
        ),
        (
            "x: [1;2]\n",
            "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got ';' instead.'",
        ),
        (
            "a: [1, }\n",
            "Parse error on line 1: 'Expected an array value terminator \",\" or an array terminator \"]\", but got '}' instead.'",
        ),
        // A key without a value at the end.
        ("port: 4222\n@@@\n", "config is invalid (<text>:3:1)"),
        ("{ port: 4222 } x\n", "config is invalid (<text>:2:1)"),
        (
            "a { token: , }\n",
            "Parse error on line 1: 'Unexpected map value terminator \",\".'",
        ),
        (
            "a { b: 1 x }\n",
            "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator \"}\", but got 'x' instead.'",
        ),
        (
            "port: 4222 x\n",
            "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or EOF, but got 'x' instead.'",
        ),
        (": 1\n", "Parse error on line 1: 'Unexpected key separator ':''"),
        (
            "a { = 1 }\n",
            "Parse error on line 1: 'Unexpected key separator '='.'",
        ),
        (
            "a { ] }\n",
            "Parse error on line 1: 'Unexpected array end ']' processing map.'",
        ),
        (
            "a { b",
            "Parse error on line 1: 'Unexpected EOF processing map key.'",
        ),
        (
            "a { 'b",
            "Parse error on line 1: 'Unexpected EOF processing quoted map key.'",
        ),
        (
            "a { \"b",
            "Parse error on line 1: 'Unexpected EOF processing double quoted map key.'",
        ),
        (
            "server_name: (\nabc\n",
            "Parse error on line 3: 'Unexpected EOF processing block.'",
        ),
        (
            "server_name: \"a\\qb\"\n",
            "Parse error on line 1: 'Invalid escape character 'q'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'",
        ),
        (
            "server_name: \"a\\xzz\"\n",
            "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got 'zz''",
        ),
        (
            "include [a]\n",
            "Parse error on line 1: 'Expected include value but found start of an array'",
        ),
        (
            "include \"a\n",
            "Parse error on line 2: 'Unexpected EOF in double quoted include'",
        ),
        (
            "port: -x\n",
            "Parse error on line 1: 'Expected a digit but got 'x'.'",
        ),
        (
            "port: -.5\n",
            "Parse error on line 1: 'Floats must start with a digit, not '.'.'",
        ),
        (
            "port: .5\n",
            "Parse error on line 1: 'Floats must start with a digit'",
        ),
        (
            "port: 1.\n",
            "Parse error on line 2: 'Floats must have a digit after the '.', but got '\\n' instead.'",
        ),
        (
            "x: 202-01-01\n",
            "Parse error on line 1: 'All ISO8601 dates must be in full Zulu form.'",
        ),
        (
            "x: 2020-01-01\n",
            "Parse error on line 2: 'Expected 'T' in ISO8601 datetime, but found '\\n' instead.'",
        ),
        (
            "x: 2020-02-30T00:00:00Z\n",
            "expected Zulu formatted DateTime, but got '2020-02-30T00:00:00Z'",
        ),
        (
            "port: 99999999999999999999\n",
            "integer '99999999999999999999' is out of the range",
        ),
        ("/port: 4222\n", "Parse error on line 1: 'Unexpected EOF.'"),
        ("port: 4222\n\0\n", "Parse error on line 2: 'Unexpected EOF.'"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text:?}");
    }
    // What Go accepts: a `}` closing nothing, an unclosed top-level brace.
    for text in [
        "port: 4222 }\n",
        "}",
        "{\n  \"port\": 4222,\n  \"debug\": false\n",
    ] {
        assert!(parse(text).is_ok(), "{text:?}");
    }
}

#[test]
fn includes_are_joined_to_the_including_files_directory() {
    let dir = std::env::temp_dir().join(format!("riptide-conf-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let main = |name: &str| parse_file(&dir.join(name));
    w(
        "main.conf",
        "port: 1\ninclude sub/auth.conf\nafter: $secret\n",
    );
    w("sub/auth.conf", "secret: s3\ninclude 'more.conf'\n");
    w("sub/more.conf", "more: true\n");
    let v = main("main.conf").unwrap();
    assert_eq!(get(&v, "secret"), &Value::Str("s3".into()));
    assert_eq!(get(&v, "more"), &Value::Bool(true));
    assert_eq!(get(&v, "after"), &Value::Str("s3".into()));
    // An included entry keeps its own file and position, named as Go names it.
    let more = v.get("more").unwrap();
    let d = dir.display();
    assert_eq!(more.position(), format!("{d}/sub/more.conf:1:0"));
    assert_eq!(
        v.get("port").unwrap().position(),
        format!("{d}/main.conf:1:0")
    );
    // An included file does not see the including file's variables.
    w("outer.conf", "secret: s3\ninclude sub/uses.conf\n");
    w("sub/uses.conf", "x: $secret\n");
    assert_eq!(
        main("outer.conf").unwrap_err().0,
        "error parsing include file 'sub/uses.conf', variable reference for 'secret' on line 1 can not be found"
    );
    // Errors of an included file, wrapped once per include, as in Go.
    w("chain.conf", "include sub/chain.conf\n");
    w("sub/chain.conf", "include bad.conf\n");
    w("sub/bad.conf", "x: [1,,2]\n");
    assert_eq!(
        main("chain.conf").unwrap_err().0,
        "error parsing include file 'sub/chain.conf', error parsing include file 'bad.conf', Parse error on line 1: 'Unexpected array value terminator ','.'"
    );
    // Go joins even an absolute path to the directory.
    w("abs.conf", "include /sub/more.conf\n");
    assert_eq!(get(&main("abs.conf").unwrap(), "more"), &Value::Bool(true));
    w("missing.conf", "include nope.conf\n");
    assert_eq!(
        main("missing.conf").unwrap_err().0,
        format!(
            "error parsing include file 'nope.conf', open {d}/nope.conf: no such file or directory"
        )
    );
    w("loop.conf", "include loop.conf\n");
    assert!(main("loop.conf")
        .unwrap_err()
        .0
        .ends_with("includes nested more than 10 deep"));
    assert_eq!(
        err("include x.conf\n"),
        "error parsing include file 'x.conf', includes need a configuration file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plain_json_parses() {
    let v = parse("{\n  \"port\": 4222,\n  \"debug\": false,\n  \"tags\": [\"a\", \"b\"]\n}\n")
        .unwrap();
    assert_eq!(get(&v, "port"), &Value::Int(4222));
    assert_eq!(get(&v, "debug"), &Value::Bool(false));
    let Value::Array(tags) = get(&v, "tags") else {
        panic!()
    };
    assert_eq!(tags[1].value, Value::Str("b".into()));
}

#[test]
fn paths_are_cleaned_as_go_cleans_them() {
    assert_eq!(parser::go_dir("main.conf"), ".");
    assert_eq!(parser::go_dir("./inc/main.conf"), "inc");
    assert_eq!(parser::go_join("inc", "../x/./y.conf"), "x/y.conf");
    assert_eq!(parser::go_join("/a", "../../b"), "/b");
    assert_eq!(parser::go_join("..", "../b"), "../../b");
    assert_eq!(parser::go_join("inc", "/abs.conf"), "inc/abs.conf");
}
