//! Reading wrangler's configuration file (`wrangler.toml`, `wrangler.json`, `wrangler.jsonc`)
//! for the host commands (`entra-edge-check`, `entra-edge explain`): one JSON shape for every
//! format, each field's line for messages, and the gateway configuration of an environment.

use serde_json::Value;

use crate::config::{Config, CONFIG_VAR};

/// The formats wrangler reads, parsed into one JSON shape plus a way to find a field's line.
pub enum Document<'a> {
    Toml { value: Value, spans: toml::de::DeTable<'a> },
    Json { value: Value, ast: jsonc_parser::ast::Value<'a> },
}

impl<'a> Document<'a> {
    /// `json`: a `.json`/`.jsonc` file (comments and trailing commas allowed, as wrangler does).
    pub fn parse(text: &'a str, json: bool) -> Result<Document<'a>, String> {
        if json {
            let options = jsonc_parser::ParseOptions::default();
            let value: Value = jsonc_parser::parse_to_serde_value(text, &options).map_err(|e| format!("not valid JSON: {e}"))?;
            let ast = jsonc_parser::parse_to_ast(text, &Default::default(), &options)
                .map_err(|e| format!("not valid JSON: {e}"))?
                .value
                .ok_or("the file is empty")?;
            Ok(Document::Json { value, ast })
        } else {
            let table: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
            let value = serde_json::to_value(table).map_err(|e| e.to_string())?;
            let spans = toml::de::DeTable::parse(text).map_err(|e| format!("not valid TOML: {e}"))?.into_inner();
            Ok(Document::Toml { value, spans })
        }
    }

    pub fn value(&self) -> &Value {
        match self {
            Document::Toml { value, .. } | Document::Json { value, .. } => value,
        }
    }

    /// The byte offset of the deepest part of `path` present in the document.
    pub fn offset_of(&self, path: &[String]) -> usize {
        match self {
            Document::Toml { spans, .. } => toml_offset(spans, path),
            Document::Json { ast, .. } => json_offset(ast, path),
        }
    }
}

fn toml_offset(root: &toml::de::DeTable<'_>, path: &[String]) -> usize {
    use toml::de::DeValue;
    use toml::Spanned;
    let mut offset = 0;
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
                if value.span().start > 0 || offset == 0 {
                    offset = value.span().start;
                }
                current = Some(value);
            }
            None => break,
        }
    }
    offset
}

fn json_offset(root: &jsonc_parser::ast::Value<'_>, path: &[String]) -> usize {
    use jsonc_parser::ast::Value as Node;
    use jsonc_parser::common::Ranged;
    let mut current = root;
    let mut offset = root.start();
    for key in path {
        let next = match current {
            Node::Object(object) => object.properties.iter().find(|p| p.name.as_str() == key).map(|p| (p.start(), &p.value)),
            Node::Array(array) => key.parse::<usize>().ok().and_then(|i| array.elements.get(i)).map(|v| (v.start(), v)),
            _ => None,
        };
        match next {
            Some((start, value)) => {
                offset = start;
                current = value;
            }
            None => break,
        }
    }
    offset
}

impl Document<'_> {
    /// `.json` and `.jsonc` files are JSON with comments; anything else is TOML.
    pub fn is_json(file: &str) -> bool {
        file.ends_with(".json") || file.ends_with(".jsonc")
    }

    /// The `ENTRA_EDGE` var of the top level (`env` `None` or `""`) or of `[env.NAME]`
    /// (vars are not inherited by environments: wrangler's rule), in its JSON form.
    pub fn gateway_json(&self, env: Option<&str>) -> Result<String, String> {
        let root = self.value();
        let (section, label) = match env.filter(|e| !e.is_empty()) {
            None => (Some(root), "the top level".to_string()),
            Some(name) => (root.get("env").and_then(|e| e.get(name)).filter(|v| v.is_object()), format!("[env.{name}]")),
        };
        let section = section.ok_or_else(|| format!("no {label} in the file"))?;
        match section.get("vars").and_then(|vars| vars.get(CONFIG_VAR)) {
            None => Err(format!("{label} has no vars.{CONFIG_VAR}")),
            // A JSON string form is accepted by the worker too.
            Some(Value::String(json)) => Ok(json.clone()),
            Some(other) => serde_json::to_string(other).map_err(|e| e.to_string()),
        }
    }

    /// The validated gateway configuration of an environment, as the worker parses it; every
    /// problem is listed (`make check-config` locates them in the file).
    pub fn gateway_config(&self, env: Option<&str>) -> Result<Config, String> {
        Config::from_json(&self.gateway_json(env)?).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            format!("the configuration is invalid (make check-config shows where):\n  {}", lines.join("\n  "))
        })
    }
}

/// Like wrangler: `wrangler.json`, `wrangler.jsonc` or `wrangler.toml`, whichever exists.
pub fn default_file() -> String {
    ["wrangler.json", "wrangler.jsonc", "wrangler.toml"]
        .into_iter()
        .find(|f| std::path::Path::new(f).exists())
        .unwrap_or("wrangler.toml")
        .to_string()
}
