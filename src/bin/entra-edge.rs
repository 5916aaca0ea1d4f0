//! `entra-edge explain`: why does the gateway accept or refuse this token on this route?
//!
//! A thin shell around `entra_edge::explain` (the worker's own checks, in its order): reads
//! the configuration like `entra-edge-check`, the token from an argument, a file, an
//! environment variable or standard input, and the keys from a file or the configured
//! authority; prints the checks, the worker's answer and hints. Exit code: 0 the worker
//! would forward the request, 1 it would refuse it, 2 usage, configuration or key-loading
//! error, 3 every check that ran passed but the signature was not checked (`--skip-signature`).

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::pin::pin;
use std::process::ExitCode;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use entra_edge::config::Config;
use entra_edge::discovery::{checked_jwks_uri, metadata_url, OpenIdMetadata};
use entra_edge::explain::{self, Explanation, Input, KeyMaterial, Keys, Outcome, Request, VerdictOutcome};
use entra_edge::jwks::parse_jwks;
use entra_edge::key_cache::MAX_DOCUMENT_BYTES;
use entra_edge::signature::NativeRsa;
use entra_edge::tenant::TenantId;
use entra_edge::token_version::TokenVersion;
use entra_edge::wrangler_file::{default_file, Document};

const USAGE: &str = "usage: entra-edge explain [TOKEN | - | --token-file FILE | --token-env NAME] [options]
  TOKEN               the access token (a leading \"Bearer \" is ignored); - reads it from standard input
  --token-file FILE   read the token from FILE (- for standard input): keeps it out of shell history
  --token-env NAME    read the token from the environment variable NAME (what make explain uses)
  --route \"GET /p\"    the request to explain the token for (default: only the token is checked)
  --config FILE       wrangler.toml, wrangler.json or wrangler.jsonc (default: whichever exists)
  --env NAME          the [env.NAME] section (default: the top level)
  --jwks FILE         verify with the keys in this JWKS file (offline) instead of fetching them
  --metadata FILE     with --jwks: the OpenID metadata document (default: Entra's standard issuer)
  --skip-signature    do not check the key or the signature (never reported as a pass: exit 3)
  --at TIME           the clock: RFC 3339 (2026-11-30T12:00:00Z) or Unix seconds (default: now)
  --json              machine-readable output
exit code: 0 forwarded, 1 refused, 2 usage/configuration/key error, 3 signature not checked";

/// What the command line asked for.
#[derive(Default)]
struct Options {
    token: Option<TokenSource>,
    route: Option<String>,
    config: Option<String>,
    env: Option<String>,
    jwks: Option<String>,
    metadata: Option<String>,
    skip_signature: bool,
    at: Option<String>,
    json: bool,
}

enum TokenSource {
    Argument(String),
    File(String),
    Env(String),
    Stdin,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.peekable();
    match args.next().as_deref() {
        Some("explain") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?} (the only command is explain)")),
    }
    let set_token = |options: &mut Options, source: TokenSource| {
        if options.token.is_some() {
            return Err("give the token once (TOKEN, -, --token-file or --token-env)".to_string());
        }
        options.token = Some(source);
        Ok(())
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--token-file" => {
                let file = value("--token-file")?;
                set_token(&mut options, if file == "-" { TokenSource::Stdin } else { TokenSource::File(file) })?;
            }
            "--token-env" => {
                let name = value("--token-env")?;
                set_token(&mut options, TokenSource::Env(name))?;
            }
            "--route" => options.route = Some(value("--route")?),
            "--config" => options.config = Some(value("--config")?),
            "--env" => options.env = Some(value("--env")?),
            "--jwks" => options.jwks = Some(value("--jwks")?),
            "--metadata" => options.metadata = Some(value("--metadata")?),
            "--at" => options.at = Some(value("--at")?),
            "--skip-signature" => options.skip_signature = true,
            "--json" => options.json = true,
            "-h" | "--help" => return Err(String::new()),
            "-" => set_token(&mut options, TokenSource::Stdin)?,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            // Never echo what may be a token.
            _ => set_token(&mut options, TokenSource::Argument(arg))?,
        }
    }
    if options.token.is_none() {
        return Err("no token given (TOKEN, - for standard input, --token-file FILE or --token-env NAME)".into());
    }
    if options.skip_signature && options.jwks.is_some() {
        return Err("--skip-signature and --jwks contradict each other".into());
    }
    if options.metadata.is_some() && options.jwks.is_none() {
        return Err("--metadata goes with --jwks".into());
    }
    Ok(options)
}

/// The token, trimmed, without a pasted `Bearer ` prefix.
fn read_token(source: &TokenSource) -> Result<String, String> {
    let text = match source {
        TokenSource::Argument(token) => token.clone(),
        TokenSource::File(file) => std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?,
        TokenSource::Env(name) => match std::env::var(name) {
            Ok(value) if value.trim() == "-" => read_stdin()?,
            Ok(value) => value,
            Err(_) => {
                return Err(format!(
                    "the environment variable {name} is not set (with make: TOKEN=…, TOKEN=- for standard input, or TOKEN_FILE=path)"
                ))
            }
        },
        TokenSource::Stdin => read_stdin()?,
    };
    let text = text.trim();
    let token = match text.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => text,
    };
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    Ok(token.to_string())
}

fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin().take(64 * 1024).read_to_string(&mut text).map_err(|e| format!("standard input: {e}"))?;
    Ok(text)
}

/// `--at`: Unix seconds or RFC 3339.
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| format!("--at {text:?} is neither Unix seconds nor RFC 3339 (2026-11-30T12:00:00Z)"))
}

/// GET a document (metadata or JWKS), bounded in time and size, redirects not followed.
fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(timeout)).max_redirects(0).build().into();
    let mut response = agent.get(url).call().map_err(|e| format!("GET {url}: {e}"))?;
    response.body_mut().with_config().limit(MAX_DOCUMENT_BYTES as u64).read_to_vec().map_err(|e| format!("GET {url}: {e}"))
}

/// The keys as the worker gets them: metadata → checked `jwks_uri` → JWKS.
fn fetch_keys(config: &Config, tenant: &TenantId, version: TokenVersion, note: &mut String) -> Result<KeyMaterial, String> {
    let timeout = Duration::from_millis(config.keys.fetch_timeout_ms.max(5000));
    let app_id = config.keys.app_id.as_deref();
    let url = metadata_url(&config.authority, &config.tenants.directory_for(tenant), version, app_id);
    let metadata = OpenIdMetadata::parse(&fetch(&url, timeout)?)?;
    let jwks_uri = checked_jwks_uri(&metadata.jwks_uri, &config.authority, &config.keys.allowed_jwks_hosts, app_id)?;
    let jwks = parse_jwks(&fetch(&jwks_uri, timeout)?)?;
    *note = format!("fetched from {url} and {jwks_uri}");
    Ok(KeyMaterial { metadata, jwks })
}

/// The keys from files (`--jwks`, optional `--metadata`).
fn file_keys(
    config: &Config,
    jwks: &str,
    metadata: Option<&str>,
    tenant: &TenantId,
    version: TokenVersion,
    note: &mut String,
) -> Result<KeyMaterial, String> {
    let keys = parse_jwks(&std::fs::read(jwks).map_err(|e| format!("{jwks}: {e}"))?).map_err(|e| format!("{jwks}: {e}"))?;
    let metadata = match metadata {
        Some(file) => {
            OpenIdMetadata::parse(&std::fs::read(file).map_err(|e| format!("{file}: {e}"))?).map_err(|e| format!("{file}: {e}"))?
        }
        None => explain::standard_metadata(&config.authority, tenant, version),
    };
    *note = format!("read from {jwks}; issuer {}", metadata.issuer_for(tenant));
    Ok(KeyMaterial { metadata, jwks: keys })
}

/// Polls a future that never waits (the native backend and the key loader are synchronous).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

fn run(options: Options) -> Result<(Explanation, String), String> {
    let token = read_token(options.token.as_ref().ok_or("no token")?)?;
    let now = match &options.at {
        Some(at) => parse_time(at)?,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64,
    };
    let file = options.config.clone().unwrap_or_else(default_file);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let document = Document::parse(&text, Document::is_json(&file)).map_err(|e| format!("{file}: {e}"))?;
    let config = document.gateway_config(options.env.as_deref()).map_err(|e| format!("{file}: {e}"))?;
    let request = options.route.as_deref().map(Request::parse).transpose()?;
    let input = Input { config: &config, request, token: &token, now };
    let mut note = String::from(if options.skip_signature {
        "not checked (--skip-signature)"
    } else {
        "not loaded (a check before them refused the token, or they could not be read)"
    });
    let explanation = if options.skip_signature {
        block_on(explain::explain(input, &NativeRsa, Keys::<fn(&TenantId, TokenVersion) -> Result<KeyMaterial, String>>::Skip))
    } else {
        let load = |tenant: &TenantId, version: TokenVersion| match &options.jwks {
            Some(jwks) => file_keys(&config, jwks, options.metadata.as_deref(), tenant, version, &mut note),
            None => fetch_keys(&config, tenant, version, &mut note),
        };
        block_on(explain::explain(input, &NativeRsa, Keys::Load(load)))
    };
    let environment = options.env.as_deref().filter(|e| !e.is_empty()).map_or("top level".to_string(), |e| format!("env.{e}"));
    Ok((explanation, format!("config {file} ({environment}); keys {note}")))
}

/// The human-readable report.
fn render_text(explanation: &Explanation, context: &str) -> String {
    let mut out = String::new();
    let request = match (&explanation.request, &explanation.route) {
        (Some(request), Some(route)) => format!("{request} (route {route:?})"),
        (Some(request), None) => request.clone(),
        (None, _) => "token only (no route given)".into(),
    };
    let _ = writeln!(out, "entra-edge explain: {request}");
    let _ = writeln!(out, "{context}");
    out.push('\n');
    let show = |value: &Option<serde_json::Value>| {
        value.as_ref().map_or("(not decodable)".to_string(), |v| serde_json::to_string_pretty(v).unwrap_or_default())
    };
    let _ = writeln!(out, "header {}", show(&explanation.header));
    let _ = writeln!(out, "claims {}", show(&explanation.claims));
    let _ = writeln!(out, "signature (not shown)");
    out.push('\n');
    let _ = writeln!(out, "checks, in the worker's order:");
    let width = explanation.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &explanation.checks {
        let outcome = match check.outcome {
            Outcome::Fail => "FAIL".to_string(),
            other => other.as_str().to_string(),
        };
        let detail = match check.reason {
            Some(reason) => format!("{reason}: {}", check.detail),
            None => check.detail.clone(),
        };
        let _ = writeln!(out, "  {outcome:<11} {:<width$}  {detail}", check.name);
    }
    out.push('\n');
    let verdict = &explanation.verdict;
    let label = match verdict.outcome {
        VerdictOutcome::Pass => "PASS".to_string(),
        VerdictOutcome::Unverified => "UNVERIFIED (signature not checked)".to_string(),
        VerdictOutcome::Refused => "REFUSED".to_string(),
        VerdictOutcome::Error => "ERROR".to_string(),
    };
    match (verdict.status, verdict.reason) {
        (Some(status), Some(reason)) => {
            let _ = writeln!(out, "verdict: {label}: {status} {reason}: {}", verdict.detail);
        }
        _ => {
            let _ = writeln!(out, "verdict: {label}: {}", verdict.detail);
        }
    }
    if let Some(challenge) = &verdict.challenge {
        let _ = writeln!(out, "  WWW-Authenticate: {challenge}");
    }
    if !explanation.hints.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "hints:");
        for hint in &explanation.hints {
            let _ = writeln!(out, "  [{}] {}", hint.code, hint.text);
        }
    }
    out
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("entra-edge: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.skip_signature {
        eprintln!(
            "WARNING: --skip-signature: the token's key and signature are NOT checked. Anyone can forge a token that passes \
             every other check; the verdict below can never be a pass (exit code 3 at best)."
        );
    }
    let json = options.json;
    match run(options) {
        Err(message) => {
            eprintln!("entra-edge: {message}");
            ExitCode::from(2)
        }
        Ok((explanation, context)) => {
            let report = if json {
                let mut value = serde_json::to_value(&explanation).unwrap_or_default();
                value["context"] = context.into();
                format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
            } else {
                render_text(&explanation, &context)
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(report.as_bytes());
            ExitCode::from(explanation.verdict.exit_code())
        }
    }
}
