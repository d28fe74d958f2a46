use super::*;
use serde_json::json;

const ROLE: &str = "arn:aws:iam::000000000000:role/lambda";

fn create_input(extra: Value) -> CreateFunctionInput {
    let mut v = json!({
        "FunctionName": "hello", "Runtime": "python3.12", "Handler": "index.handler",
        "Role": ROLE, "Code": {"ZipFile": "UEsFBg=="}
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    serde_json::from_value(v).unwrap()
}

fn code(dir: &str, sha: &str) -> StoredCode {
    StoredCode {
        location: CodeLocation::Unpacked { dir: dir.into() },
        sha256: sha.into(),
        size: 10,
    }
}

fn created() -> FunctionState {
    let mut st = FunctionState::new("hello");
    st.create_function(&create_input(json!({})), code("/c/1", "sha1"))
        .unwrap();
    st
}

fn err(e: ControlError) -> (u16, &'static str, String) {
    (e.kind.status(), e.kind.code(), e.message)
}

#[test]
fn names_and_arns_resolve_with_their_qualifiers() {
    let cases = [
        ("hello", None, "hello", None),
        ("hello:prod", None, "hello", Some("prod")),
        ("hello", Some("3"), "hello", Some("3")),
        (
            "arn:aws:lambda:us-east-1:000000000000:function:hello",
            None,
            "hello",
            None,
        ),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:hello:$LATEST",
            None,
            "hello",
            Some("$LATEST"),
        ),
        ("123456789012:function:hello:2", None, "hello", Some("2")),
        ("hello:2", Some("2"), "hello", Some("2")),
        ("hello", Some(""), "hello", None),
    ];
    for (given, q, name, qualifier) in cases {
        let r = function_ref(given, q).unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            (name, qualifier),
            "{given}"
        );
    }
    let e = function_ref("hello:1", Some("2")).unwrap_err();
    assert_eq!(
        err(e),
        (
            400,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier."
                .into()
        )
    );
    for bad in [
        "invalid:function:name",
        "a b",
        "",
        "arn:aws:lambda:x:y:function:z:q:r",
    ] {
        let e = function_ref(bad, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Validation, "{bad}");
        assert!(
            e.message.starts_with(&format!(
                "1 validation error detected: Value '{bad}' at 'functionName'"
            )),
            "{}",
            e.message
        );
    }
    assert_eq!(
        function_ref("hello", Some("a?b")).unwrap_err().kind,
        ErrorKind::Validation
    );
}

#[test]
fn create_checks_parameters_as_lambda_does() {
    let e = check_create(&create_input(json!({"Runtime": "non-existent-runtime"}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    assert!(e.message.starts_with(
        "Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must \
         satisfy enum value set: [nodejs20.x, python3.14,"
    ));
    assert!(e.message.ends_with("] or be a valid ARN"));
    let e = check_create(&create_input(json!({"Runtime": "python3.7"}))).unwrap_err();
    assert_eq!(
        e.message,
        "The runtime parameter of python3.7 is no longer supported for creating or updating AWS \
         Lambda functions. We recommend you use a supported runtime while creating or updating \
         functions."
    );
    let e = check_create(&create_input(json!({"Runtime": "java21"}))).unwrap_err();
    assert!(e.message.starts_with("Portico cannot run java21"));
    for ok in ["nodejs22.x", "provided.al2023", "provided", "python3.9"] {
        check_create(&create_input(json!({ "Runtime": ok }))).unwrap();
    }
    let e = check_create(&create_input(json!({"Timeout": 901}))).unwrap_err();
    assert_eq!(
        err(e),
        (
            400,
            "ValidationException",
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: \
             Member must have value less than or equal to 900"
                .into()
        )
    );
    let e = check_create(&create_input(json!({"Timeout": 0}))).unwrap_err();
    assert!(e.message.contains("greater than or equal to 1"));
    let e = check_create(&create_input(json!({"MemorySize": 10241}))).unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy \
         constraint: Member must have value less than or equal to 10240"
    );
    let e = check_create(&create_input(json!({"MemorySize": 64}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    let e = check_create(&create_input(json!({"Handler": "bad handler"}))).unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value 'bad handler' at 'handler' failed to satisfy \
         constraint: Member must satisfy regular expression pattern: [^\\s]+"
    );
    let e = check_create(&create_input(json!({"Role": "r1"}))).unwrap_err();
    assert!(
        e.message
            .starts_with("1 validation error detected: Value 'r1' at 'role'")
    );
    let e = check_create(&create_input(
        json!({"Environment": {"Variables": {"AWS_REGION": "x", "OK": "1", "AWS_SESSION_TOKEN": "t"}}}),
    ))
    .unwrap_err();
    assert_eq!(
        err(e),
        (
            400,
            "InvalidParameterValueException",
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not supported \
             for modification. Reserved keys used in this request: AWS_REGION, AWS_SESSION_TOKEN"
                .into()
        )
    );
    let big = "x".repeat(5000);
    let e = check_create(&create_input(
        json!({"Environment": {"Variables": {"LARGE_VAR": big}}}),
    ))
    .unwrap_err();
    assert!(e.message.starts_with(
        "Lambda was unable to configure your environment variables because the environment \
         variables you have provided exceeded the 4KB limit. String measured: {\"LARGE_VAR\":\"xxx"
    ));
    let e = check_create(&create_input(json!({"Handler": null}))).unwrap_err();
    assert_eq!(
        e.message,
        "Runtime and Handler are mandatory parameters for functions created with deployment \
         packages."
    );
    let e = check_create(&create_input(json!({"FunctionName": "a".repeat(65)}))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    assert!(
        e.message
            .ends_with("Member must have length less than or equal to 64")
    );
    let e = check_create(&create_input(json!({"Architectures": ["x86_64", "arm64"]}))).unwrap_err();
    assert_eq!(
        e.message,
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to \
         satisfy constraint: Member must have length less than or equal to 1"
    );
}

#[test]
fn code_sources() {
    let src = |v: Value| serde_json::from_value::<FunctionCodeInput>(v).unwrap();
    assert_eq!(
        src(json!({"ZipFile": "UEs="})).source().unwrap(),
        CodeSource::Zip("UEs=")
    );
    assert_eq!(
        src(json!({"S3Bucket": "hot-reload", "S3Key": "/srv/fn"}))
            .source()
            .unwrap(),
        CodeSource::LocalDir("/srv/fn")
    );
    let e = src(json!({"S3Bucket": "hot-reload", "S3Key": "rel/dir"}))
        .source()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
    let e = src(json!({"S3Bucket": "mybucket", "S3Key": "fn.zip"}))
        .source()
        .unwrap_err();
    assert_eq!(
        e.message,
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The \
         specified bucket does not exist"
    );
    assert!(src(json!({})).source().is_err());
}

#[test]
fn create_get_update_and_conflicts() {
    let mut st = created();
    let c = st.configuration(None).unwrap();
    assert_eq!(
        (c.timeout, c.memory_size, c.version.as_str()),
        (3, 128, "$LATEST")
    );
    assert_eq!(c.state, "Active");
    assert_eq!(c.last_modified.len(), "2024-01-01T00:00:00.000+0000".len());
    assert!(c.last_modified.ends_with("+0000"));
    let e = st
        .create_function(&create_input(json!({})), code("/c/2", "x"))
        .unwrap_err();
    assert_eq!(
        err(e),
        (
            409,
            "ResourceConflictException",
            "Function already exist: hello".into()
        )
    );
    let before = c.revision_id.clone();
    let u: UpdateFunctionConfigurationInput = serde_json::from_value(json!({
        "Timeout": 10, "MemorySize": 512, "Environment": {"Variables": {"A": "1"}},
        "Handler": "app.main", "Description": "changed", "Runtime": "python3.11"
    }))
    .unwrap();
    let c = st.update_function_configuration(&u).unwrap();
    assert_eq!((c.timeout, c.memory_size), (10, 512));
    assert_eq!(c.handler.as_deref(), Some("app.main"));
    assert_ne!(c.revision_id, before);
    let stale: UpdateFunctionConfigurationInput =
        serde_json::from_value(json!({"Timeout": 5, "RevisionId": before})).unwrap();
    assert_eq!(
        st.update_function_configuration(&stale).unwrap_err().kind,
        ErrorKind::PreconditionFailed
    );
    let code_in = UpdateFunctionCodeInput::default();
    let c = st
        .update_function_code(&code_in, code("/c/2", "sha2"))
        .unwrap();
    assert_eq!(c.code_sha256, "sha2");
    assert_eq!(st.unpacked_dirs(), ["/c/2"]);
    let dry = UpdateFunctionCodeInput {
        dry_run: Some(true),
        ..Default::default()
    };
    st.update_function_code(&dry, code("/c/3", "sha3")).unwrap();
    assert_eq!(st.configuration(None).unwrap().code_sha256, "sha2");
    let out = st.get_function(None).unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["Code"]["RepositoryType"], "S3");
    assert_eq!(v["Code"]["Location"], "file:///c/2");
    assert!(v.get("Concurrency").is_none());
    let missing = FunctionState::new("nope");
    assert_eq!(
        err(missing.get_function(None).unwrap_err()),
        (
            404,
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope".into()
        )
    );
}

#[test]
fn versions_aliases_and_qualified_reads() {
    let mut st = created();
    let v1 = st.publish_version(&PublishVersionInput::default()).unwrap();
    assert_eq!(v1.version, "1");
    assert_eq!(
        v1.function_arn,
        "arn:aws:lambda:us-east-1:000000000000:function:hello:1"
    );
    // Nothing changed: the same version again.
    assert_eq!(
        st.publish_version(&PublishVersionInput::default())
            .unwrap()
            .version,
        "1"
    );
    st.update_function_code(&UpdateFunctionCodeInput::default(), code("/c/2", "sha2"))
        .unwrap();
    let e = st
        .publish_version(&PublishVersionInput {
            code_sha256: Some("wrong".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "CodeSHA256 (wrong) is different from current CodeSHA256 in $LATEST (sha2). Please try \
         again with the CodeSHA256 in $LATEST."
    );
    let v2 = st.publish_version(&PublishVersionInput::default()).unwrap();
    assert_eq!(v2.version, "2");
    assert_eq!(st.unpacked_dirs(), ["/c/2", "/c/1"]);
    let versions: Vec<String> = st
        .list_versions()
        .unwrap()
        .into_iter()
        .map(|c| c.version)
        .collect();
    assert_eq!(versions, ["$LATEST", "1", "2"]);
    assert_eq!(st.configuration(Some("1")).unwrap().code_sha256, "sha1");

    let alias: CreateAliasInput =
        serde_json::from_value(json!({"Name": "prod", "FunctionVersion": "1"})).unwrap();
    let a = st.create_alias(&alias).unwrap();
    assert_eq!(
        a.alias_arn,
        "arn:aws:lambda:us-east-1:000000000000:function:hello:prod"
    );
    assert_eq!(
        err(st.create_alias(&alias).unwrap_err()),
        (
            409,
            "ResourceConflictException",
            "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:hello:prod"
                .into()
        )
    );
    let c = st.configuration(Some("prod")).unwrap();
    assert_eq!(
        (c.version.as_str(), c.function_arn.as_str()),
        (
            "1",
            "arn:aws:lambda:us-east-1:000000000000:function:hello:prod"
        )
    );
    let numeric: CreateAliasInput =
        serde_json::from_value(json!({"Name": "2024", "FunctionVersion": "1"})).unwrap();
    assert_eq!(
        st.create_alias(&numeric).unwrap_err().message,
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
    );
    let to_missing: CreateAliasInput =
        serde_json::from_value(json!({"Name": "x", "FunctionVersion": "10"})).unwrap();
    assert_eq!(
        st.create_alias(&to_missing).unwrap_err().message,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:hello:10"
    );
    let up: UpdateAliasInput = serde_json::from_value(json!({"FunctionVersion": "2"})).unwrap();
    assert_eq!(st.update_alias("prod", &up).unwrap().function_version, "2");
    assert_eq!(
        st.update_alias("nope", &up).unwrap_err().message,
        "Alias not found: arn:aws:lambda:us-east-1:000000000000:function:hello:nope"
    );
    assert_eq!(
        st.alias("nope").unwrap_err().message,
        "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:hello:nope"
    );
    assert_eq!(st.list_aliases(Some("1")).unwrap().len(), 0);
    assert_eq!(st.list_aliases(Some("2")).unwrap().len(), 1);
    // A version an alias points at stays.
    assert_eq!(
        st.delete_function(Some("2")).unwrap_err().kind,
        ErrorKind::ResourceConflict
    );
    st.delete_function(Some("1")).unwrap();
    assert_eq!(st.unpacked_dirs(), ["/c/2"]);
    assert_eq!(
        st.delete_function(Some("$LATEST")).unwrap_err().message,
        "$LATEST version cannot be deleted without deleting the function."
    );
    st.delete_alias("prod").unwrap();
    st.delete_alias("prod").unwrap();
    st.delete_function(None).unwrap();
    assert!(st.function.is_none() && st.versions.is_empty());
    // Version numbers are never reused.
    let mut st = created();
    st.publish_version(&PublishVersionInput::default()).unwrap();
    st.delete_function(Some("1")).unwrap();
    st.update_function_code(&UpdateFunctionCodeInput::default(), code("/c/9", "sha9"))
        .unwrap();
    assert_eq!(
        st.publish_version(&PublishVersionInput::default())
            .unwrap()
            .version,
        "2"
    );
}

#[test]
fn permissions_build_lambdas_policy_document() {
    let mut st = created();
    let input: AddPermissionInput = serde_json::from_value(json!({
        "StatementId": "apigw", "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": "arn:aws:execute-api:us-east-1:000000000000:abc/*"
    }))
    .unwrap();
    let statement = st.add_permission(None, &input).unwrap();
    assert_eq!(
        statement,
        r#"{"Sid":"apigw","Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:hello","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:execute-api:us-east-1:000000000000:abc/*"}}}"#
    );
    assert_eq!(
        err(st.add_permission(None, &input).unwrap_err()),
        (
            409,
            "ResourceConflictException",
            "The statement id (apigw) provided already exists. Please provide a new statement \
             id, or remove the existing statement."
                .into()
        )
    );
    let account: AddPermissionInput = serde_json::from_value(json!({
        "StatementId": "acct", "Action": "lambda:*", "Principal": "123456789012"
    }))
    .unwrap();
    st.add_permission(None, &account).unwrap();
    let p = st.policy(None).unwrap();
    let doc: Value = serde_json::from_str(&p.policy).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Id"], "default");
    assert_eq!(
        doc["Statement"][1]["Principal"]["AWS"],
        "arn:aws:iam::123456789012:root"
    );
    assert_eq!(p.revision_id, st.configuration(None).unwrap().revision_id);
    assert_eq!(
        st.add_permission(Some("$LATEST"), &input)
            .unwrap_err()
            .message,
        "We currently do not support adding policies for $LATEST."
    );
    let bad: AddPermissionInput = serde_json::from_value(json!({
        "StatementId": "x", "Action": "lambda:InvokeFunction", "Principal": "nobody"
    }))
    .unwrap();
    assert_eq!(
        st.add_permission(None, &bad).unwrap_err().message,
        "The provided principal was invalid. Please check the principal and try again."
    );
    assert_eq!(
        st.remove_permission(None, "nope", None)
            .unwrap_err()
            .message,
        "Statement nope is not found in resource policy."
    );
    st.remove_permission(None, "apigw", None).unwrap();
    st.remove_permission(None, "acct", None).unwrap();
    assert_eq!(
        err(st.policy(None).unwrap_err()),
        (
            404,
            "ResourceNotFoundException",
            "The resource you requested does not exist.".into()
        )
    );
    assert_eq!(
        st.remove_permission(None, "apigw", None)
            .unwrap_err()
            .message,
        "No policy is associated with the given resource."
    );
    assert_eq!(
        FunctionState::new("gone")
            .remove_permission(None, "x", None)
            .unwrap_err()
            .message,
        "No policy found for: arn:aws:lambda:us-east-1:000000000000:function:gone"
    );
}

#[test]
fn concurrency_and_paging() {
    let mut st = created();
    let put = |n: i64| PutFunctionConcurrencyInput {
        reserved_concurrent_executions: Some(n),
    };
    assert_eq!(
        st.put_concurrency(&put(0))
            .unwrap()
            .reserved_concurrent_executions,
        Some(0)
    );
    assert_eq!(
        st.concurrency().unwrap().reserved_concurrent_executions,
        Some(0)
    );
    let v = serde_json::to_value(st.get_function(None).unwrap()).unwrap();
    assert_eq!(v["Concurrency"]["ReservedConcurrentExecutions"], 0);
    st.delete_concurrency().unwrap();
    assert_eq!(
        serde_json::to_value(st.concurrency().unwrap()).unwrap(),
        json!({})
    );
    assert_eq!(
        FunctionState::new("doesnotexist")
            .put_concurrency(&put(1))
            .unwrap_err()
            .message,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:doesnotexist:$LATEST"
    );
    let r = function_ref("hello:1", None).unwrap();
    assert!(
        unqualified_only(&r)
            .unwrap_err()
            .message
            .starts_with("This operation is permitted on Lambda functions only.")
    );

    let items: Vec<u32> = (0..5).collect();
    let (p1, next) = page(items.clone(), None, 2).unwrap();
    assert_eq!((p1, next.as_deref()), (vec![0, 1], Some("2")));
    let (p3, next) = page(items.clone(), Some("4"), 2).unwrap();
    assert_eq!((p3, next), (vec![4], None));
    assert!(page(items, Some("zz"), 2).is_err());
    assert_eq!(max_items(None, 50).unwrap(), 50);
    assert_eq!(
        max_items(Some("10001"), 50).unwrap_err().message,
        "1 validation error detected: Value '10001' at 'maxItems' failed to satisfy constraint: \
         Member must have value less than or equal to 10000"
    );
}

#[test]
fn lambda_dates() {
    let t = time::macros::datetime!(2024-01-02 03:04:05.678 UTC);
    assert_eq!(lambda_date(t), "2024-01-02T03:04:05.678+0000");
}
