//! The configuration's problem collector: every problem of a configuration, each located
//! by the path of its field (`ENTRA_EDGE.routes[2].cors.origins[0]`), built in one way.

use std::fmt;

use super::CONFIG_VAR;

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where a field is, below `ENTRA_EDGE`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field(Vec<Segment>);

impl Field {
    /// `ENTRA_EDGE` itself.
    pub fn root() -> Field {
        Field(Vec::new())
    }

    /// The member `name` of this table.
    pub fn key(&self, name: &str) -> Field {
        let mut next = self.clone();
        next.0.push(Segment::Key(name.to_string()));
        next
    }

    /// Element `index` of this array.
    pub fn index(&self, index: usize) -> Field {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// A relative path written the way it prints (`rate_limit.windows[0].burst`).
    pub fn join(&self, relative: &str) -> Field {
        let mut next = self.clone();
        for part in relative.split('.').filter(|p| !p.is_empty()) {
            let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
            if !name.is_empty() {
                next.0.push(Segment::Key(name.to_string()));
            }
            for index in indexes.split(['[', ']']).filter(|i| !i.is_empty()) {
                match index.parse() {
                    Ok(i) => next.0.push(Segment::Index(i)),
                    Err(_) => next.0.push(Segment::Key(index.to_string())),
                }
            }
        }
        next
    }

    /// The steps below `ENTRA_EDGE` (for tools that locate the field in a file).
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CONFIG_VAR)?;
        for segment in &self.0 {
            match segment {
                Segment::Key(name) => write!(f, ".{name}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// A configuration problem, located by the path of the offending field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The printed path, e.g. `ENTRA_EDGE.tenants[1]`.
    pub field: String,
    pub message: String,
    /// The same path as steps below `ENTRA_EDGE`.
    pub path: Field,
}

impl ConfigError {
    pub fn new(at: &Field, message: impl Into<String>) -> ConfigError {
        ConfigError { field: at.to_string(), message: message.into(), path: at.clone() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects every problem found while reading a configuration.
#[derive(Debug, Default)]
pub struct Problems(Vec<ConfigError>);

impl Problems {
    pub fn add(&mut self, at: &Field, message: impl Into<String>) {
        self.0.push(ConfigError::new(at, message));
    }

    /// How many so far (a section compares before and after to know if it is sound).
    pub fn count(&self) -> usize {
        self.0.len()
    }

    pub fn into_vec(self) -> Vec<ConfigError> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_the_way_operators_read_them() {
        let at = Field::root().key("routes").index(2).key("cors").key("origins").index(0);
        assert_eq!(at.to_string(), "ENTRA_EDGE.routes[2].cors.origins[0]");
        assert_eq!(Field::root().to_string(), "ENTRA_EDGE");
    }

    #[test]
    fn a_relative_path_joins_into_the_same_steps() {
        let at = Field::root().key("routes").index(1).join("rate_limit.windows[0].burst");
        assert_eq!(at, Field::root().key("routes").index(1).key("rate_limit").key("windows").index(0).key("burst"));
        assert_eq!(Field::root().join("tenants[3]").segments(), [Segment::Key("tenants".into()), Segment::Index(3)]);
    }
}
