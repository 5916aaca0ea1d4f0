//! `entra-edge-check [wrangler.toml] [--env NAME]`: validates the gateway configuration
//! offline, with the same parser the worker runs, before `wrangler deploy`.
//! Prints every problem as `file:line: [environment] field: message`; exits 1 if any.

use std::process::ExitCode;

use entra_edge::config::{Config, CONFIG_VAR};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One problem, located in the file.
#[derive(Debug, PartialEq, Eq)]
struct Problem {
    line: usize,
    environment: String,
    field: String,
    message: String,
}

/// Checks the top-level configuration and every `[env.NAME]` (or only `only_env`).
fn check(text: &str, only_env: Option<&str>) -> Result<Vec<Problem>, String> {
    let document: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let spans = DeTable::parse(text).map_err(|e| format!("not valid TOML: {e}"))?;
    let spans = spans.get_ref();

    let mut targets: Vec<(String, Vec<String>)> = Vec::new();
    if only_env.is_none() {
        targets.push(("top level".into(), vec![]));
    }
    if let Some(toml::Value::Table(envs)) = document.get("env") {
        for name in envs.keys() {
            if only_env.is_none_or(|only| only == name) {
                targets.push((format!("env.{name}"), vec!["env".into(), name.clone()]));
            }
        }
    }
    if let Some(only) = only_env {
        if targets.is_empty() {
            return Err(format!("no [env.{only}] in the file"));
        }
    }

    let mut problems = Vec::new();
    for (environment, prefix) in targets {
        let section = prefix.iter().try_fold(&document, |table, key| match table.get(key) {
            Some(toml::Value::Table(t)) => Some(t),
            _ => None,
        });
        let Some(section) = section else { continue };
        let at = |path: &[String]| line_of(text, spans, &[prefix.as_slice(), path].concat());

        // Vars and KV namespaces are not inherited by environments (wrangler's rule).
        let has_kv = matches!(section.get("kv_namespaces"), Some(toml::Value::Array(list))
            if list.iter().any(|ns| ns.get("binding").and_then(toml::Value::as_str) == Some("JWKS_CACHE")));
        if !has_kv {
            problems.push(Problem {
                line: at(&["kv_namespaces".into()]),
                environment: environment.clone(),
                field: "kv_namespaces".into(),
                message: "no KV namespace bound as JWKS_CACHE (keys would be fetched by every cold isolate)".into(),
            });
        }
        let Some(value) = section.get("vars").and_then(|vars| vars.get(CONFIG_VAR)) else {
            problems.push(Problem {
                line: at(&["vars".into()]),
                environment,
                field: CONFIG_VAR.into(),
                message: format!(
                    "is not set: add a [{}vars.{CONFIG_VAR}] table",
                    prefix.iter().map(|p| format!("{p}.")).collect::<String>()
                ),
            });
            continue;
        };
        let json = serde_json::to_string(value).map_err(|e| e.to_string())?;
        let parsed = Config::from_json(&json);
        let uses_limits = parsed.as_ref().is_ok_and(|c| c.routes.routes().iter().any(|r| r.rate_limit.is_some()));
        let has_limiter = matches!(section.get("durable_objects").and_then(|d| d.get("bindings")), Some(toml::Value::Array(list))
            if list.iter().any(|b| b.get("name").and_then(toml::Value::as_str) == Some("RATE_LIMITER")));
        if uses_limits && !has_limiter {
            problems.push(Problem {
                line: at(&["durable_objects".into()]),
                environment: environment.clone(),
                field: "durable_objects.bindings".into(),
                message: "routes declare rate limits but no Durable Object is bound as RATE_LIMITER (class EdgeRateLimiter)".into(),
            });
        }
        if let Err(errors) = parsed {
            for error in errors {
                let mut path = vec!["vars".to_string()];
                path.extend(field_path(&error.field));
                problems.push(Problem { line: at(&path), environment: environment.clone(), field: error.field, message: error.message });
            }
        }
    }
    Ok(problems)
}

/// `ENTRA_EDGE.routes[2].cors.origins[0]` → `["ENTRA_EDGE", "routes", "2", "cors", "origins", "0"]`.
fn field_path(field: &str) -> Vec<String> {
    field.split(['.', '[', ']']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The 1-based line of the deepest part of `path` present in the document.
fn line_of(text: &str, root: &DeTable<'_>, path: &[String]) -> usize {
    let mut span = 0..0;
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    for (depth, key) in path.iter().enumerate() {
        let next = if depth == 0 {
            root.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
        } else {
            match current.map(Spanned::get_ref) {
                Some(DeValue::Table(table)) => table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v),
                Some(DeValue::Array(array)) => key.parse::<usize>().ok().and_then(|i| array.get(i)),
                _ => None,
            }
        };
        match next {
            Some(value) => {
                if value.span().start > 0 || span.start == 0 {
                    span = value.span();
                }
                current = Some(value);
            }
            None => break,
        }
    }
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file = "wrangler.toml".to_string();
    let mut env = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env" => env = args.next(),
            "-h" | "--help" => {
                println!("usage: entra-edge-check [wrangler.toml] [--env NAME]");
                return ExitCode::SUCCESS;
            }
            other => file = other.to_string(),
        }
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("{file}: {err}");
            return ExitCode::from(2);
        }
    };
    match check(&text, env.as_deref()) {
        Err(err) => {
            eprintln!("{file}: {err}");
            ExitCode::from(2)
        }
        Ok(problems) if problems.is_empty() => {
            println!("{file}: configuration is valid");
            ExitCode::SUCCESS
        }
        Ok(problems) => {
            for p in &problems {
                eprintln!("{file}:{}: [{}] {}: {}", p.line, p.environment, p.field, p.message);
            }
            eprintln!("{} problem(s)", problems.len());
            ExitCode::FAILURE
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
origin = "https://api.example.com"
tenants = ["3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41"]
audiences = ["api://x"]

[[vars.ENTRA_EDGE.routes]]
path = "/health"
public = true

[[vars.ENTRA_EDGE.routes]]
path = "/api/**"
scopes = ["A"]
"#;

    #[test]
    fn valid_file_has_no_problems() {
        assert_eq!(check(VALID, None).unwrap(), vec![]);
    }

    #[test]
    fn problem_is_reported_with_field_and_line() {
        let text = VALID.replace("scopes = [\"A\"]", "scopes = []");
        let problems = check(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "ENTRA_EDGE.routes[1].scopes");
        assert_eq!(problems[0].line, 18);
        assert_eq!(problems[0].environment, "top level");
    }

    #[test]
    fn shadowed_route_points_at_the_later_route() {
        let text = VALID.replace("path = \"/health\"\npublic = true", "path = \"/**\"");
        let problems = check(&text, None).unwrap();
        assert_eq!(problems[0].field, "ENTRA_EDGE.routes[1]");
        assert_eq!(problems[0].line, 15, "the [[routes]] header of routes[1]");
    }

    #[test]
    fn environments_are_checked_separately() {
        let text = format!("{VALID}\n[env.staging]\nname = \"y\"\n");
        let problems = check(&text, None).unwrap();
        let fields: Vec<_> = problems.iter().map(|p| (p.environment.as_str(), p.field.as_str())).collect();
        assert_eq!(fields, [("env.staging", "kv_namespaces"), ("env.staging", "ENTRA_EDGE")]);
        assert_eq!(check(&text, Some("staging")).unwrap().len(), 2);
        assert!(check(&text, Some("prod")).is_err());
    }

    #[test]
    fn rate_limits_need_the_durable_object_binding() {
        let text = VALID.replace(
            "scopes = [\"A\"]",
            "scopes = [\"A\"]\n[vars.ENTRA_EDGE.routes.rate_limit]\nkey = [\"oid\"]\nwindows = [{ requests = 5, period_seconds = 1 }]",
        );
        let problems = check(&text, None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "durable_objects.bindings");
        let bound = format!("{text}\n[[durable_objects.bindings]]\nname = \"RATE_LIMITER\"\nclass_name = \"EdgeRateLimiter\"\n");
        assert_eq!(check(&bound, None).unwrap(), vec![]);
    }

    #[test]
    fn invalid_toml_is_an_error() {
        assert!(check("[vars\n", None).is_err());
    }

    #[test]
    fn the_projects_own_wrangler_toml_is_valid() {
        let text = include_str!("../../wrangler.toml");
        assert_eq!(check(text, None).unwrap(), vec![]);
    }
}
