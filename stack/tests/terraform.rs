//! infra/terraform against the stack contract: every file parses as HCL, every setting that
//! stack.json defines is read from it rather than repeated, and the console's operator
//! policies grant exactly the console's own allowlists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use hcl::{Block, Body, Expression};
use stack::permissions::{CONSOLE_OPERATOR_EXTRA, CONSOLE_READ_ONLY};

fn terraform_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/terraform")
}

/// Every `.tf` file, parsed: `(file name, source, body)`.
fn parsed() -> Vec<(String, String, Body)> {
    let mut files: Vec<_> = std::fs::read_dir(terraform_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the Terraform split by concern, found {files:?}"
    );
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            (name, text, body)
        })
        .collect()
}

fn block<'a>(
    files: &'a [(String, String, Body)],
    kind: &str,
    type_: &str,
    name: &str,
) -> &'a Block {
    files
        .iter()
        .flat_map(|(_, _, body)| body.blocks())
        .find(|b| {
            let labels: Vec<&str> = b.labels().iter().map(|l| l.as_str()).collect();
            b.identifier() == kind && labels == [type_, name]
        })
        .unwrap_or_else(|| panic!("no {kind} {type_}.{name}"))
}

fn attr<'a>(b: &'a Block, key: &str) -> &'a Expression {
    b.body()
        .attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{:?} has no attribute {key}", b.labels()))
}

/// Every literal string and number anywhere in an expression tree.
fn literals(expr: &Expression, out: &mut Vec<String>) {
    match expr {
        Expression::String(s) => out.push(s.clone()),
        Expression::Number(n) => out.push(n.to_string()),
        Expression::Array(items) => items.iter().for_each(|e| literals(e, out)),
        Expression::Object(map) => map.values().for_each(|e| literals(e, out)),
        Expression::FuncCall(call) => call.args.iter().for_each(|e| literals(e, out)),
        Expression::Parenthesis(e) => literals(e, out),
        Expression::Conditional(c) => {
            literals(&c.true_expr, out);
            literals(&c.false_expr, out);
        }
        _ => {}
    }
}

fn body_literals(body: &Body, out: &mut Vec<String>) {
    for a in body.attributes() {
        literals(a.expr(), out);
    }
    for b in body.blocks() {
        body_literals(b.body(), out);
    }
}

/// `local.…` or `each.…`: a value that comes from the decoded stack.json.
fn is_stack_reference(expr: &Expression) -> bool {
    match expr {
        Expression::Traversal(t) => {
            matches!(&t.expr, Expression::Variable(v) if v.as_str() == "local" || v.as_str() == "each")
        }
        _ => false,
    }
}

fn source(expr: &Expression) -> String {
    hcl::format::to_string(expr).unwrap()
}

#[test]
fn the_stack_is_read_from_stack_json() {
    let files = parsed();
    let locals = files
        .iter()
        .find(|(n, ..)| n == "locals.tf")
        .expect("locals.tf");
    assert!(
        locals
            .1
            .contains(r#"jsondecode(file("${path.module}/../stack.json"))"#),
        "locals.tf must read infra/stack.json"
    );

    // Settings must be references into the stack, not literals.
    let group_attrs: &[&str] = &[
        "name",
        "min_size",
        "max_size",
        "desired_capacity",
        "health_check_type",
        "health_check_grace_period",
        "default_cooldown",
        "default_instance_warmup",
    ];
    let must_reference: &[(&str, &str, &[&str])] = &[
        (
            "aws_sqs_queue",
            "tasks",
            &[
                "name",
                "visibility_timeout_seconds",
                "message_retention_seconds",
                "receive_wait_time_seconds",
            ],
        ),
        (
            "aws_sqs_queue",
            "dlq",
            &["name", "message_retention_seconds"],
        ),
        ("aws_s3_bucket", "videos", &["bucket"]),
        ("aws_launch_template", "api", &["instance_type"]),
        ("aws_launch_template", "worker", &["instance_type"]),
        ("aws_autoscaling_group", "api", group_attrs),
        ("aws_autoscaling_group", "worker", group_attrs),
        (
            "aws_cloudwatch_log_group",
            "api",
            &["name", "retention_in_days"],
        ),
        (
            "aws_cloudwatch_log_group",
            "worker",
            &["name", "retention_in_days"],
        ),
    ];
    for (type_, name, attrs) in must_reference {
        let b = block(&files, "resource", type_, name);
        for a in *attrs {
            let e = attr(b, a);
            assert!(
                is_stack_reference(e),
                "{type_}.{name}.{a} must come from stack.json, found {}",
                source(e)
            );
        }
    }
    let redrive = source(attr(
        block(&files, "resource", "aws_sqs_queue", "tasks"),
        "redrive_policy",
    ));
    assert!(
        redrive.contains("local.tasks.max_receive_count"),
        "{redrive}"
    );
    let health = block(&files, "resource", "aws_lb_target_group", "api")
        .body()
        .blocks()
        .find(|b| b.identifier() == "health_check")
        .unwrap();
    assert!(is_stack_reference(attr(health, "path")));
    for policy in ["api_cpu", "worker_cpu", "worker_backlog"] {
        let b = block(&files, "resource", "aws_autoscaling_policy", policy);
        assert!(
            is_stack_reference(attr(b, "estimated_instance_warmup")),
            "{policy}"
        );
        let tt = b
            .body()
            .blocks()
            .find(|b| b.identifier() == "target_tracking_configuration")
            .unwrap();
        assert!(
            is_stack_reference(attr(tt, "target_value")),
            "{policy}.target_value"
        );
    }

    // The stack's alarms are made from stack.json, one resource each.
    let alarms = block(&files, "resource", "aws_cloudwatch_metric_alarm", "stack");
    assert_eq!(
        source(attr(alarms, "for_each")).trim(),
        "local.stack_alarms",
        "the stack's alarms must come from stack.json"
    );
    for a in [
        "alarm_name",
        "alarm_description",
        "comparison_operator",
        "evaluation_periods",
        "datapoints_to_alarm",
        "threshold",
        "treat_missing_data",
    ] {
        assert!(is_stack_reference(attr(alarms, a)), "stack alarm {a}");
    }
    let locals_src = &locals.1;
    assert!(
        locals_src.contains("local.stack.alarms"),
        "locals.tf must build stack_alarms from local.stack.alarms"
    );

    // And no string of stack.json may be written out anywhere in the Terraform.
    let mut stack: serde_json::Value =
        serde_json::from_str(stack::config::DEFAULT_STACK_JSON).unwrap();
    // An alarm's namespace, metric, statistic, comparison and missing-data treatment are
    // CloudWatch's vocabulary (the dashboard names the same metrics), not the stack's choices;
    // its name and description are.
    for a in stack["alarms"].as_array_mut().unwrap() {
        *a = serde_json::json!({ "name": a["name"].clone(), "description": a["description"].clone() });
    }
    let mut strings = Vec::new();
    collect_strings(&stack, &mut strings);
    // "AES256" is also the one algorithm ALB log delivery accepts: the log bucket names it
    // for that reason, not as the stack's choice.
    let strings: BTreeSet<String> = strings
        .into_iter()
        .filter(|s| s.len() > 3 && s != "AES256")
        .collect();
    assert!(strings.contains("video_tasks") && strings.contains("t3.large"));
    for (file, _, body) in &files {
        let mut lits = Vec::new();
        body_literals(body, &mut lits);
        for lit in lits {
            assert!(
                !strings.contains(&lit),
                "{file} repeats stack.json's value {lit:?}: read it from local.stack"
            );
        }
    }
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        // A `type` is a schema discriminator (policy kind, health check kind), not a setting.
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "type")
            .for_each(|(_, v)| collect_strings(v, out)),
        _ => {}
    }
}

/// The actions a policy document's own statements grant, less KMS (implied by encrypted queues).
fn actions(doc: &Block) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for st in doc
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
    {
        let mut lits = Vec::new();
        literals(attr(st, "actions"), &mut lits);
        out.extend(lits.into_iter().filter(|a| !a.starts_with("kms:")));
    }
    out
}

#[test]
fn console_policies_equal_the_console_allowlists() {
    let files = parsed();
    let readonly = block(
        &files,
        "data",
        "aws_iam_policy_document",
        "console_readonly",
    );
    let want: BTreeSet<String> = CONSOLE_READ_ONLY.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        actions(readonly),
        want,
        "flightdeck-readonly must grant exactly the console's read calls"
    );

    let operator = block(
        &files,
        "data",
        "aws_iam_policy_document",
        "console_operator",
    );
    let extra: BTreeSet<String> = CONSOLE_OPERATOR_EXTRA
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        actions(operator),
        extra,
        "flightdeck-operator's own statements must be the operator extras"
    );
    let sources = source(attr(operator, "source_policy_documents"));
    assert!(
        sources.contains("data.aws_iam_policy_document.console_readonly.json"),
        "{sources}"
    );

    let name = |n: &str| source(attr(block(&files, "resource", "aws_iam_policy", n), "name"));
    assert!(name("console_readonly").contains("flightdeck-readonly"));
    assert!(name("console_operator").contains("flightdeck-operator"));
}

#[test]
fn instances_use_roles_never_static_keys() {
    for (file, text, _) in parsed() {
        for needle in ["access_key", "secret_key", "AWS_SECRET_ACCESS_KEY", "AKIA"] {
            assert!(!text.contains(needle), "{file} mentions {needle}");
        }
    }
    let user_data =
        std::fs::read_to_string(terraform_dir().join("files/user-data.sh.tftpl")).unwrap();
    assert!(!user_data.contains("AWS_SECRET_ACCESS_KEY"));
    assert!(
        user_data.contains("secretsmanager get-secret-value"),
        "configuration comes from Secrets Manager"
    );
}

/// The user data template's variables (`${name}`, `%{ if name ...}`), which every
/// `templatefile` call must pass (Terraform fails at plan time otherwise), and the group name
/// the worker's CloudWatch job metrics need (`FLIGHTDECK_ASG_NAME`).
#[test]
fn every_role_passes_what_the_user_data_template_uses() {
    let template =
        std::fs::read_to_string(terraform_dir().join("files/user-data.sh.tftpl")).unwrap();
    assert!(template.contains("FLIGHTDECK_ASG_NAME=${asg_name}"));
    let mut used = BTreeSet::new();
    for (i, _) in template.match_indices("${") {
        // `$${...}` is an escaped shell expansion, not a template variable.
        if i > 0 && template.as_bytes()[i - 1] == b'$' {
            continue;
        }
        let name: String = template[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    for (i, _) in template.match_indices("%{ if ") {
        let name: String = template[i + 6..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    assert!(
        used.contains("asg_name") && used.contains("role") && used.contains("log_group"),
        "{used:?}"
    );
    let mut calls = 0;
    for (file, text, _) in parsed() {
        for (at, _) in text.match_indices("templatefile(") {
            let call = &text[at..];
            let end = call.find("}))").unwrap_or(call.len());
            let passed: BTreeSet<String> = call[..end]
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, _)| k.trim().to_owned())
                .collect();
            for name in &used {
                assert!(
                    passed.contains(name),
                    "{file}: templatefile does not pass `{name}`"
                );
            }
            calls += 1;
        }
    }
    assert_eq!(calls, 2, "one templatefile call per role");
}
