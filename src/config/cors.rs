//! A route's `cors` table: origins, methods, headers, validated.

use serde::Deserialize;

use crate::cors::{valid_origin, CorsPolicy, Origins};
use crate::route::MethodSet;

use super::checks;
use super::routes::RouteProblems;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    origins: Vec<String>,
    methods: Option<Vec<String>>,
    headers: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    #[serde(default = "default_max_age")]
    max_age_seconds: u64,
    #[serde(default)]
    credentials: bool,
}

fn default_max_age() -> u64 {
    600
}

const DEFAULT_CORS_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

pub(super) fn build(raw: RawCors, route_methods: Option<&MethodSet>, p: &mut RouteProblems<'_>) -> Option<CorsPolicy> {
    if raw.origins.is_empty() {
        p.add("cors.origins", "must list at least one origin");
    }
    for (i, origin) in raw.origins.iter().enumerate() {
        if !valid_origin(origin) {
            p.add(
                &format!("cors.origins[{i}]"),
                format!("{origin:?} is not an origin (scheme://host[:port], no path or trailing slash) or \"*\""),
            );
        }
    }
    let any = raw.origins.iter().any(|o| o == "*");
    if any && raw.origins.len() > 1 {
        p.add("cors.origins", "\"*\" cannot be combined with other origins");
    }
    if any && raw.credentials {
        p.add("cors.credentials", "cannot be true with origins = [\"*\"]");
    }
    if raw.max_age_seconds > 86_400 {
        p.add("cors.max_age_seconds", "must be at most 86400");
    }
    let methods = match (&raw.methods, route_methods) {
        (Some(methods), _) => match MethodSet::parse(Some(methods)) {
            Ok(MethodSet::Only(list)) => list,
            Ok(MethodSet::Any) => DEFAULT_CORS_METHODS.iter().map(|m| m.to_string()).collect(),
            Err(e) => {
                p.add("cors.methods", e);
                Vec::new()
            }
        },
        (None, Some(MethodSet::Only(list))) => list.clone(),
        (None, _) => DEFAULT_CORS_METHODS.iter().map(|m| m.to_string()).collect(),
    };
    let header_list = |values: Option<Vec<String>>, default: &[&str], field: &str, p: &mut RouteProblems<'_>| -> Vec<String> {
        let values = values.unwrap_or_else(|| default.iter().map(|h| h.to_string()).collect());
        for (i, h) in values.iter().enumerate() {
            if !checks::is_header_name(h) {
                p.add(&format!("cors.{field}[{i}]"), format!("{h:?} is not a header name"));
            }
        }
        values.into_iter().map(|h| h.to_ascii_lowercase()).collect()
    };
    let headers = header_list(raw.headers, &["authorization", "content-type"], "headers", p);
    let expose_headers = header_list(raw.expose_headers, &["www-authenticate"], "expose_headers", p);
    let origins = if any { Origins::Any } else { Origins::List(raw.origins.iter().map(|o| o.to_ascii_lowercase()).collect()) };
    Some(CorsPolicy { origins, methods, headers, expose_headers, max_age_seconds: raw.max_age_seconds, credentials: raw.credentials })
}
