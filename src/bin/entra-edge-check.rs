//! `entra-edge-check [wrangler.toml|wrangler.json|wrangler.jsonc] [--env NAME] [--strict]`:
//! validates the gateway configuration offline, with the same parser the worker runs,
//! before `wrangler deploy`. Prints every problem as `file:line: [environment] field: message`
//! (warnings as `… field: warning: message`); exits 1 if there is any error (with `--strict`,
//! warnings count as errors), 2 if the file cannot be read.

use std::process::ExitCode;

use entra_edge::bindings;
use entra_edge::config::{Config, Segment, CONFIG_VAR};
use entra_edge::wrangler_file::{default_file, Document};
use serde_json::Value;

/// One finding, located in the file.
#[derive(Debug, PartialEq, Eq)]
struct Problem {
    line: usize,
    environment: String,
    field: String,
    message: String,
    severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    Error,
    /// Deploys, but cannot work as deployed (a placeholder, an example domain): an error
    /// under `--strict`.
    Warning,
    /// Right for local development, wrong for a deployment (a loopback origin or authority):
    /// reported only under `--strict`, which `make deploy` uses.
    DeployOnly,
}

/// KV namespace ids that are the example's placeholders, not real namespaces.
fn is_placeholder(id: &str) -> bool {
    let id = id.to_ascii_lowercase();
    id.is_empty() || id.contains("replace") || id.contains("your-") || id.contains("<") || id.contains("todo")
}

/// Hosts that can never be reached once deployed: RFC 2606 / 6761 reserved names, loopback.
fn unreachable_when_deployed(url: &str) -> Option<(Severity, &'static str)> {
    let host = url.split_once("://").map_or(url, |(_, rest)| rest).split(['/', ':']).next().unwrap_or("").to_ascii_lowercase();
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[") || host.starts_with("127.") {
        Some((Severity::DeployOnly, "is a loopback address: it works under wrangler dev only"))
    } else if ["example.com", "example.net", "example.org"].iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
        || [".example", ".test", ".invalid", ".localhost"].iter().any(|tld| host.ends_with(tld))
    {
        Some((Severity::Warning, "is a reserved example domain: replace it with your own"))
    } else {
        None
    }
}

/// Checks the top-level configuration and every `[env.NAME]`, or only `only_env` (`""`:
/// only the top level, as `wrangler deploy --env=""` deploys it).
fn check(document: &Document<'_>, text: &str, only_env: Option<&str>) -> Result<Vec<Problem>, String> {
    let root = document.value();
    let mut targets: Vec<(String, Vec<String>)> = Vec::new();
    if only_env.is_none_or(str::is_empty) {
        targets.push(("top level".into(), vec![]));
    }
    if let Some(Value::Object(envs)) = root.get("env") {
        for name in envs.keys() {
            if only_env.is_none_or(|only| only == name) {
                targets.push((format!("env.{name}"), vec!["env".into(), name.clone()]));
            }
        }
    }
    if let Some(only) = only_env.filter(|only| !only.is_empty()) {
        if targets.is_empty() {
            let known: Vec<&str> =
                root.get("env").and_then(Value::as_object).map(|e| e.keys().map(String::as_str).collect()).unwrap_or_default();
            return Err(format!(
                "no [env.{only}] in the file (environments: {}; ENV=\"\" / --env \"\" checks only the top level)",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ));
        }
    }

    let mut problems = Vec::new();
    for (environment, prefix) in targets {
        let Some(section) = prefix.iter().try_fold(root, |value, key| value.get(key).filter(|v| v.is_object())) else { continue };
        let line_at = |path: &[String]| {
            let offset = document.offset_of(&[prefix.as_slice(), path].concat());
            text[..offset.min(text.len())].matches('\n').count() + 1
        };
        let mut report = |path: &[&str], field: &str, message: String, severity: Severity| {
            let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            problems.push(Problem { line: line_at(&path), environment: environment.clone(), field: field.into(), message, severity });
        };

        // Vars and KV namespaces are not inherited by environments (wrangler's rule).
        let namespaces = section.get("kv_namespaces").and_then(Value::as_array).cloned().unwrap_or_default();
        match namespaces.iter().position(|ns| ns.get("binding").and_then(Value::as_str) == Some(bindings::JWKS_CACHE)) {
            None => report(
                &["kv_namespaces"],
                "kv_namespaces",
                "no KV namespace bound as JWKS_CACHE (keys would be fetched by every cold isolate)".into(),
                Severity::Error,
            ),
            Some(i) => {
                let id = namespaces[i].get("id").and_then(Value::as_str).unwrap_or("");
                if is_placeholder(id) {
                    let index = i.to_string();
                    report(
                        &["kv_namespaces", &index, "id"],
                        &format!("kv_namespaces[{i}].id"),
                        format!("{id:?} is a placeholder: create the namespace (npx wrangler kv namespace create JWKS_CACHE) and put its id here"),
                        Severity::Warning,
                    );
                }
            }
        }
        let Some(value) = section.get("vars").and_then(|vars| vars.get(CONFIG_VAR)) else {
            report(
                &["vars"],
                CONFIG_VAR,
                format!("is not set: add a [{}vars.{CONFIG_VAR}] table", prefix.iter().map(|p| format!("{p}.")).collect::<String>()),
                Severity::Error,
            );
            continue;
        };
        // A JSON string form is accepted by the worker too.
        let json = match value {
            Value::String(json) => json.clone(),
            other => serde_json::to_string(other).map_err(|e| e.to_string())?,
        };
        let parsed = Config::from_json(&json);
        let uses_limits = parsed.as_ref().is_ok_and(|c| c.routes.routes().iter().any(|r| r.rate_limit.is_some()));
        let has_limiter = section
            .get("durable_objects")
            .and_then(|d| d.get("bindings"))
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|b| b.get("name").and_then(Value::as_str) == Some(bindings::RATE_LIMITER)));
        if uses_limits && !has_limiter {
            report(
                &["durable_objects"],
                "durable_objects.bindings",
                format!(
                    "routes declare rate limits but no Durable Object is bound as {} (class {})",
                    bindings::RATE_LIMITER,
                    bindings::RATE_LIMITER_CLASS
                ),
                Severity::Error,
            );
        }
        let revocation_on = parsed.as_ref().is_ok_and(|c| c.revocation.is_some());
        let revocations = namespaces.iter().position(|ns| ns.get("binding").and_then(Value::as_str) == Some(bindings::REVOCATIONS));
        match revocations {
            None if revocation_on => report(
                &["kv_namespaces"],
                "kv_namespaces",
                format!(
                    "{CONFIG_VAR}.revocation is enabled but no KV namespace is bound as {} (create one: npx wrangler kv namespace create {})",
                    bindings::REVOCATIONS,
                    bindings::REVOCATIONS
                ),
                Severity::Error,
            ),
            Some(i) if revocation_on && is_placeholder(namespaces[i].get("id").and_then(Value::as_str).unwrap_or("")) => {
                let index = i.to_string();
                report(
                    &["kv_namespaces", &index, "id"],
                    &format!("kv_namespaces[{i}].id"),
                    format!("is a placeholder: create the namespace (npx wrangler kv namespace create {}) and put its id here", bindings::REVOCATIONS),
                    Severity::Warning,
                );
            }
            _ => {}
        }
        for path in
            [&["origin"][..], &["authority"], &["protected_resource", "resource"], &["protected_resource", "resource_documentation"]]
        {
            if let Some(url) = path.iter().try_fold(value, |v, key| v.get(*key)).and_then(Value::as_str) {
                if let Some((severity, why)) = unreachable_when_deployed(url) {
                    let full: Vec<&str> = ["vars", CONFIG_VAR].iter().chain(path).copied().collect();
                    report(&full, &format!("{CONFIG_VAR}.{}", path.join(".")), format!("{url:?} {why}"), severity);
                }
            }
        }
        if let Some(table) = value.get("protected_resource") {
            let resource = table.get("resource").and_then(Value::as_str);
            let app_id_uri = table.get("app_id_uri").and_then(Value::as_str);
            if let (Some(resource), Some(app_id_uri)) = (resource, app_id_uri) {
                // A loopback resource is local development, where no client sends `resource`.
                let local = unreachable_when_deployed(resource).is_some_and(|(severity, _)| severity == Severity::DeployOnly);
                if !local && resource.trim_end_matches('/') != app_id_uri {
                    report(
                        &["vars", CONFIG_VAR, "protected_resource", "app_id_uri"],
                        &format!("{CONFIG_VAR}.protected_resource.app_id_uri"),
                        format!(
                            "{app_id_uri:?} is not the resource {resource:?}: MCP / OAuth 2.1 clients send resource={resource} (RFC 8707), which Entra refuses unless it names the same application as the scopes (AADSTS9010010); make the API's App ID URI the resource URL"
                        ),
                        Severity::Warning,
                    );
                }
            }
        }
        if let Err(errors) = parsed {
            for error in errors {
                // The field's own steps (not its printed form parsed back) locate it in the file.
                let mut path = vec!["vars".to_string(), CONFIG_VAR.to_string()];
                path.extend(error.path.segments().iter().map(|segment| match segment {
                    Segment::Key(name) => name.clone(),
                    Segment::Index(i) => i.to_string(),
                }));
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                report(&path, &error.field, error.message, Severity::Error);
            }
        }
    }
    Ok(problems)
}

const USAGE: &str = "usage: entra-edge-check [wrangler.toml|wrangler.json|wrangler.jsonc] [--env NAME] [--strict]
  --env NAME   check only [env.NAME]; --env \"\" checks only the top level (default: everything)
  --strict     warnings (placeholders, example domains, loopback addresses) are errors";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file: Option<String> = None;
    let mut env = None;
    let mut strict = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env" => env = args.next(),
            "--strict" => strict = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') => {
                eprintln!("unknown option {other}\n{USAGE}");
                return ExitCode::from(2);
            }
            other => file = Some(other.to_string()),
        }
    }
    let file = file.unwrap_or_else(default_file);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{file}: {err}");
            return ExitCode::from(2);
        }
    };
    let result = Document::parse(&text, Document::is_json(&file)).and_then(|document| check(&document, &text, env.as_deref()));
    match result {
        Err(err) => {
            eprintln!("{file}: {err}");
            ExitCode::from(2)
        }
        Ok(mut problems) => {
            problems.retain(|p| strict || p.severity != Severity::DeployOnly);
            for p in &problems {
                let label = match p.severity {
                    Severity::Error => "",
                    Severity::Warning | Severity::DeployOnly if strict => "error (--strict): ",
                    Severity::Warning | Severity::DeployOnly => "warning: ",
                };
                eprintln!("{file}:{}: [{}] {}: {label}{}", p.line, p.environment, p.field, p.message);
            }
            let errors = problems.iter().filter(|p| strict || p.severity == Severity::Error).count();
            let warnings = problems.len() - errors;
            if errors == 0 {
                println!(
                    "{file}: configuration is valid{}",
                    if warnings > 0 {
                        format!(" ({warnings} warning(s): fix them before deploying; --strict refuses them)")
                    } else {
                        String::new()
                    }
                );
                ExitCode::SUCCESS
            } else {
                eprintln!("{errors} problem(s){}", if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() });
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
name = "x"
[[kv_namespaces]]
binding = "JWKS_CACHE"
id = "abc"

[vars.ENTRA_EDGE]
origin = "https://api.contoso.com"
tenants = ["3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41"]
audiences = ["api://x"]

[[vars.ENTRA_EDGE.routes]]
path = "/health"
public = true

[[vars.ENTRA_EDGE.routes]]
path = "/api/**"
scopes = ["A"]
"#;

    fn check_toml(text: &str, env: Option<&str>) -> Result<Vec<Problem>, String> {
        check(&Document::parse(text, false)?, text, env)
    }

    fn check_json(text: &str, env: Option<&str>) -> Result<Vec<Problem>, String> {
        check(&Document::parse(text, true)?, text, env)
    }

    fn errors(problems: Vec<Problem>) -> Vec<Problem> {
        problems.into_iter().filter(|p| p.severity == Severity::Error).collect()
    }

    #[test]
    fn valid_file_has_no_problems() {
        assert_eq!(check_toml(VALID, None).unwrap(), vec![]);
    }

    #[test]
    fn problem_is_reported_with_field_and_line() {
        let text = VALID.replace("scopes = [\"A\"]", "scopes = []");
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "ENTRA_EDGE.routes[1].scopes");
        assert_eq!(problems[0].line, 18);
        assert_eq!(problems[0].environment, "top level");
    }

    #[test]
    fn the_assertion_table_is_checked_with_lines() {
        let text =
            format!("{VALID}\n[vars.ENTRA_EDGE.assertion]\nlifetime_seconds = 3600\nadditional_public_keys = [{{ kty = \"RSA\" }}]\n");
        let problems = check_toml(&text, None).unwrap();
        let found: Vec<_> = problems.iter().map(|p| (p.field.as_str(), p.line)).collect();
        assert_eq!(found, [("ENTRA_EDGE.assertion.lifetime_seconds", 21), ("ENTRA_EDGE.assertion.additional_public_keys[0]", 22)]);
        let fine = format!("{VALID}\n[vars.ENTRA_EDGE.assertion]\nissuer = \"https://api.contoso.com\"\n");
        assert_eq!(check_toml(&fine, None).unwrap(), vec![]);
    }

    #[test]
    fn shadowed_route_points_at_the_later_route() {
        let text = VALID.replace("path = \"/health\"\npublic = true", "path = \"/**\"");
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems[0].field, "ENTRA_EDGE.routes[1]");
        assert_eq!(problems[0].line, 15, "the [[routes]] header of routes[1]");
    }

    #[test]
    fn environments_are_checked_separately() {
        let text = format!("{VALID}\n[env.staging]\nname = \"y\"\n");
        let problems = check_toml(&text, None).unwrap();
        let fields: Vec<_> = problems.iter().map(|p| (p.environment.as_str(), p.field.as_str())).collect();
        assert_eq!(fields, [("env.staging", "kv_namespaces"), ("env.staging", "ENTRA_EDGE")]);
        assert_eq!(check_toml(&text, Some("staging")).unwrap().len(), 2);
        assert!(check_toml(&text, Some("prod")).is_err());
        assert_eq!(check_toml(&text, Some("")).unwrap(), vec![], "only the top level");
    }

    #[test]
    fn rate_limits_need_the_durable_object_binding() {
        let text = VALID.replace(
            "scopes = [\"A\"]",
            "scopes = [\"A\"]\n[vars.ENTRA_EDGE.routes.rate_limit]\nkey = [\"oid\"]\nwindows = [{ requests = 5, period_seconds = 1 }]",
        );
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "durable_objects.bindings");
        let bound = format!("{text}\n[[durable_objects.bindings]]\nname = \"RATE_LIMITER\"\nclass_name = \"EdgeRateLimiter\"\n");
        assert_eq!(check_toml(&bound, None).unwrap(), vec![]);
    }

    #[test]
    fn an_enabled_revocation_list_needs_its_kv_binding() {
        let text = VALID.replace("audiences = [\"api://x\"]", "audiences = [\"api://x\"]\nrevocation = { enabled = true }");
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "kv_namespaces");
        assert!(problems[0].message.contains("REVOCATIONS"), "{}", problems[0].message);
        let bound = text.replace("[vars.ENTRA_EDGE]", "[[kv_namespaces]]\nbinding = \"REVOCATIONS\"\nid = \"def\"\n\n[vars.ENTRA_EDGE]");
        assert_eq!(check_toml(&bound, None).unwrap(), vec![]);
        let off = VALID.replace("audiences = [\"api://x\"]", "audiences = [\"api://x\"]\nrevocation = { enabled = false }");
        assert_eq!(check_toml(&off, None).unwrap(), vec![], "no binding needed while the list is off");
    }

    #[test]
    fn revocation_settings_are_checked_with_their_field_named() {
        let text = VALID.replace(
            "audiences = [\"api://x\"]",
            "audiences = [\"api://x\"]\nrevocation = { enabled = true, refresh_seconds = 0, on_error = \"open\" }",
        );
        let fields: Vec<_> = check_toml(&text, None).unwrap().into_iter().map(|p| p.field).collect();
        assert!(fields.contains(&"ENTRA_EDGE.revocation.on_error".to_string()), "{fields:?}");
    }

    #[test]
    fn invalid_toml_is_an_error() {
        assert!(check_toml("[vars\n", None).is_err());
    }

    #[test]
    fn the_projects_own_wrangler_toml_has_no_errors() {
        let text = include_str!("../../wrangler.toml");
        assert_eq!(errors(check_toml(text, None).unwrap()), vec![]);
    }

    #[test]
    fn the_placeholder_kv_id_is_a_warning() {
        let text = include_str!("../../wrangler.toml");
        let problems = check_toml(text, None).unwrap();
        let placeholder = problems.iter().find(|p| p.field == "kv_namespaces[0].id").expect("the placeholder is flagged");
        assert_eq!(placeholder.severity, Severity::Warning);
        assert_eq!(placeholder.environment, "top level");
        assert!(text.lines().nth(placeholder.line - 1).unwrap().contains("replace-with-your-kv-namespace-id"));
    }

    #[test]
    fn loopback_hosts_are_deploy_only_findings_and_example_hosts_warnings() {
        let text = VALID.replace("https://api.contoso.com", "http://127.0.0.1:8791");
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!((problems[0].field.as_str(), problems[0].severity), ("ENTRA_EDGE.origin", Severity::DeployOnly));
        let text = VALID.replace("https://api.contoso.com", "https://orders.internal.example.com");
        assert_eq!(check_toml(&text, None).unwrap()[0].severity, Severity::Warning);
        let text = VALID.replace("https://api.contoso.com", "https://orders.contoso.com");
        assert_eq!(check_toml(&text, None).unwrap(), vec![]);
    }

    #[test]
    fn a_loopback_protected_resource_is_a_deploy_only_finding_at_its_line() {
        let text = VALID.replace(
            "audiences = [\"api://x\"]",
            "audiences = [\"api://x\"]\nprotected_resource = { resource = \"http://127.0.0.1:8787\", app_id_uri = \"http://127.0.0.1:8787\" }",
        );
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].field.as_str(), problems[0].severity), ("ENTRA_EDGE.protected_resource.resource", Severity::DeployOnly));
        assert!(text.lines().nth(problems[0].line - 1).unwrap().contains("protected_resource"));
    }

    #[test]
    fn an_app_id_uri_other_than_the_resource_is_a_warning() {
        let text = VALID.replace(
            "audiences = [\"api://x\"]",
            "audiences = [\"api://x\"]\nprotected_resource = { resource = \"https://api.contoso.com/mcp\", app_id_uri = \"api://x\" }",
        );
        let problems = check_toml(&text, None).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!((problems[0].field.as_str(), problems[0].severity), ("ENTRA_EDGE.protected_resource.app_id_uri", Severity::Warning));
        assert!(problems[0].message.contains("AADSTS9010010"));
    }

    #[test]
    fn every_problem_of_a_file_is_reported_in_one_run() {
        let text = VALID
            .replace("audiences = [\"api://x\"]", "audiences = [\"api://x\"]\nscopez = 1")
            .replace("3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41", "contoso.onmicrosoft.com")
            .replace("https://api.contoso.com", "http://api.contoso.com");
        let fields: Vec<_> = check_toml(&text, None).unwrap().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["ENTRA_EDGE.scopez", "ENTRA_EDGE.origin", "ENTRA_EDGE.tenants[0]"]);
    }

    const VALID_JSONC: &str = r#"{
  // wrangler.jsonc: comments and trailing commas are allowed
  "name": "x",
  "kv_namespaces": [{ "binding": "JWKS_CACHE", "id": "abc" }],
  "vars": {
    "ENTRA_EDGE": {
      "origin": "https://api.contoso.com",
      "tenants": ["3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41"],
      "audiences": ["api://x"],
      "routes": [
        { "path": "/health", "public": true },
        { "path": "/api/**", "scopes": ["A"] },
      ],
    },
  },
}"#;

    #[test]
    fn wrangler_jsonc_is_read_with_line_numbers() {
        assert_eq!(check_json(VALID_JSONC, None).unwrap(), vec![]);
        let text = VALID_JSONC.replace(r#""scopes": ["A"]"#, r#""scopes": []"#);
        let problems = check_json(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "ENTRA_EDGE.routes[1].scopes");
        assert_eq!(problems[0].line, 12);
    }

    #[test]
    fn wrangler_json_environments_are_checked() {
        let text = r#"{"name":"x","env":{"staging":{"vars":{"ENTRA_EDGE":{"origin":"https://a.contoso.com","tenants":["x"],"audiences":["a"],"routes":[{"path":"/**"}]}}}}}"#;
        let problems = errors(check_json(text, Some("staging")).unwrap());
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["kv_namespaces", "ENTRA_EDGE.tenants[0]"]);
    }

    #[test]
    fn an_unknown_environment_names_the_ones_that_exist() {
        let err = check_toml(&format!("{VALID}\n[env.staging]\nname = \"y\"\n"), Some("production")).unwrap_err();
        assert!(err.contains("staging"), "{err}");
    }
}
