//! A compose file an operator hands the console, checked before it reaches a node: it
//! travels alone (base64 in the script, never as shell text), so nothing in it may name a
//! file on the manager that deploys it, and every service runs from an image.

use yaml_rust2::{Yaml, YamlLoader};

use super::scripts::service_name;

/// The largest compose file taken (its base64 is most of a Run Command's text).
pub const MAX_COMPOSE_BYTES: usize = 16 * 1024;
/// The most services one stack may hold.
pub const MAX_SERVICES: usize = 100;

const TOP_LEVEL: [&str; 7] = [
    "version", "name", "services", "networks", "volumes", "configs", "secrets",
];

/// A compose file that passed the checks: its text, and its services' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeFile {
    pub text: String,
    pub services: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ComposeError {
    #[error("the compose file is empty")]
    Empty,
    #[error("the compose file is {0} bytes; at most {MAX_COMPOSE_BYTES} are taken")]
    TooLarge(usize),
    #[error("the compose file is not YAML: {0}")]
    NotYaml(String),
    #[error("the compose file must be one YAML mapping with `services`")]
    NotAMapping,
    #[error("the compose file has no services")]
    NoServices,
    #[error("the compose file has {0} services; at most {MAX_SERVICES} are taken")]
    TooManyServices(usize),
    #[error("top-level key {0:?} is not taken (version, name, services, networks, volumes, configs, secrets, x-…)")]
    UnknownTopLevel(String),
    #[error("{0:?} is not a service name Docker takes (letters, digits, -, _ and ., at most 63)")]
    BadServiceName(String),
    #[error("service {0:?} needs `image`: services are deployed from images")]
    NoImage(String),
    #[error("service {service:?} uses `{key}`, which reads files on the manager: not taken")]
    ReadsManagerFiles { service: String, key: &'static str },
    #[error("{kind} {name:?} is read from the manager (`file` or `environment`): make it external, or inline a config's content")]
    ReadFromManager { kind: &'static str, name: String },
}

fn key_name(key: &Yaml) -> Option<&str> {
    key.as_str()
}

/// Checks `text` as a compose file to deploy as a stack.
pub fn check_compose(text: &str) -> Result<ComposeFile, ComposeError> {
    if text.trim().is_empty() {
        return Err(ComposeError::Empty);
    }
    if text.len() > MAX_COMPOSE_BYTES {
        return Err(ComposeError::TooLarge(text.len()));
    }
    let docs = YamlLoader::load_from_str(text).map_err(|e| ComposeError::NotYaml(e.to_string()))?;
    let [doc] = docs.as_slice() else {
        return Err(ComposeError::NotAMapping);
    };
    let top = doc.as_hash().ok_or(ComposeError::NotAMapping)?;
    for key in top.keys() {
        let name = key_name(key).ok_or(ComposeError::NotAMapping)?;
        if !TOP_LEVEL.contains(&name) && !name.starts_with("x-") {
            return Err(ComposeError::UnknownTopLevel(name.to_owned()));
        }
    }
    let services = match &doc["services"] {
        Yaml::Hash(services) => services,
        Yaml::BadValue | Yaml::Null => return Err(ComposeError::NoServices),
        _ => return Err(ComposeError::NotAMapping),
    };
    if services.is_empty() {
        return Err(ComposeError::NoServices);
    }
    if services.len() > MAX_SERVICES {
        return Err(ComposeError::TooManyServices(services.len()));
    }
    let mut names = Vec::new();
    for (key, service) in services {
        let name = key_name(key).ok_or_else(|| ComposeError::BadServiceName(format!("{key:?}")))?;
        service_name(name).map_err(|_| ComposeError::BadServiceName(name.to_owned()))?;
        let image = service["image"].as_str().filter(|i| !i.trim().is_empty());
        if image.is_none() {
            return Err(ComposeError::NoImage(name.to_owned()));
        }
        for key in ["env_file", "build", "extends"] {
            if !matches!(service[key], Yaml::BadValue) {
                return Err(ComposeError::ReadsManagerFiles {
                    service: name.to_owned(),
                    key,
                });
            }
        }
        names.push(name.to_owned());
    }
    for kind in ["configs", "secrets"] {
        let Yaml::Hash(items) = &doc[kind] else {
            continue;
        };
        for (key, item) in items {
            if !matches!(item["file"], Yaml::BadValue)
                || !matches!(item["environment"], Yaml::BadValue)
            {
                return Err(ComposeError::ReadFromManager {
                    kind: &kind[..kind.len() - 1],
                    name: key_name(key).unwrap_or("?").to_owned(),
                });
            }
        }
    }
    Ok(ComposeFile {
        text: text.to_owned(),
        services: names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_stack_is_taken() {
        let c = check_compose(
            "version: '3.8'\nservices:\n  web:\n    image: swarmhook-tiny:1\n    ports: ['8080:80']\n    deploy: {replicas: 2}\n  db:\n    image: db:1\nx-note: hi\n",
        )
        .expect("taken");
        assert_eq!(c.services, ["web", "db"]);
    }

    #[test]
    fn what_could_hurt_or_cannot_run_is_refused_with_why() {
        let cases = [
            ("", ComposeError::Empty),
            ("[1, 2]", ComposeError::NotAMapping),
            ("services: {}", ComposeError::NoServices),
            ("version: '3'", ComposeError::NoServices),
            ("services:\n  web: {build: .}\n", ComposeError::NoImage("web".into())),
            ("services:\n  'a b': {image: x}\n", ComposeError::BadServiceName("a b".into())),
            ("services:\n  web: {image: x}\nsecrets:\n  s: {file: /etc/shadow}\n", ComposeError::ReadFromManager { kind: "secret", name: "s".into() }),
            ("services:\n  web: {image: x}\nconfigs:\n  c: {environment: AWS_SECRET_ACCESS_KEY}\n", ComposeError::ReadFromManager { kind: "config", name: "c".into() }),
            ("services:\n  web: {image: x, env_file: /etc/shadow}\n", ComposeError::ReadsManagerFiles { service: "web".into(), key: "env_file" }),
            ("services:\n  web: {image: x}\ninclude: [/etc/x.yml]\n", ComposeError::UnknownTopLevel("include".into())),
        ];
        for (text, want) in cases {
            assert_eq!(check_compose(text), Err(want), "{text:?}");
        }
        assert!(matches!(
            check_compose("services: [\n"),
            Err(ComposeError::NotYaml(_))
        ));
        assert!(matches!(
            check_compose(&format!(
                "services:\n  web: {{image: '{}'}}\n",
                "x".repeat(MAX_COMPOSE_BYTES)
            )),
            Err(ComposeError::TooLarge(_))
        ));
        assert_eq!(
            check_compose("a: 1\n---\nb: 2\n"),
            Err(ComposeError::NotAMapping)
        );
    }
}
