//! `serve --config FILE`: options from a TOML file, as an alternative to flags.
//!
//! Each key is a flag of `serve` (`jwks-url` or `jwks_url`); a string or number is its value, an
//! array a repeated flag, `true` a flag without value (`false` leaves it out). The file's
//! options are put before the command line's, and an option given on the command line, or in
//! its `KOPPELTAAL_*` environment variable, replaces the file's. Without `--config`, the file
//! may be named by `KOPPELTAAL_CONFIG`.

use std::ffi::OsString;

/// The command line with the options of `serve --config FILE` put in.
pub(crate) fn expand(arguments: Vec<OsString>) -> Result<Vec<OsString>, String> {
    if arguments.get(1).and_then(|word| word.to_str()) != Some("serve") {
        return Ok(arguments);
    }
    let mut path = None;
    for (index, argument) in arguments.iter().enumerate() {
        match argument.to_str() {
            Some("--config") => path = arguments.get(index + 1).cloned(),
            Some(word) if word.starts_with("--config=") => {
                path = Some(OsString::from(&word["--config=".len()..]));
            }
            _ => {}
        }
    }
    let Some(path) = path.or_else(|| std::env::var_os("KOPPELTAAL_CONFIG")) else {
        return Ok(arguments);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("--config {}: {error}", path.to_string_lossy()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error| format!("--config {}: {error}", path.to_string_lossy()))?;
    let given: Vec<String> = arguments
        .iter()
        .filter_map(|argument| argument.to_str())
        .filter_map(|word| word.strip_prefix("--"))
        .map(|flag| flag.split('=').next().unwrap_or(flag).to_owned())
        .collect();
    let mut from_file = Vec::new();
    for (key, value) in &table {
        let flag = key.replace('_', "-");
        if flag == "config" {
            return Err("--config: a configuration file cannot name another".into());
        }
        let env = format!("KOPPELTAAL_{}", flag.replace('-', "_").to_ascii_uppercase());
        if given.contains(&flag) || std::env::var_os(env).is_some() {
            continue;
        }
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for value in values {
            match value {
                toml::Value::Boolean(true) => from_file.push(format!("--{flag}")),
                toml::Value::Boolean(false) => {}
                toml::Value::String(text) => from_file.push(format!("--{flag}={text}")),
                toml::Value::Integer(number) => from_file.push(format!("--{flag}={number}")),
                other => {
                    return Err(format!(
                        "--config: `{key}` has a {} value; give a string, number, boolean or array",
                        other.type_str()
                    ));
                }
            }
        }
    }
    let mut expanded = arguments[..2].to_vec();
    expanded.extend(from_file.into_iter().map(OsString::from));
    expanded.extend(arguments[2..].iter().cloned());
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_with(file: &str, command_line: &[&str]) -> Result<Vec<String>, String> {
        let path = std::env::temp_dir().join(format!(
            "koppeltaal-config-{}.toml",
            koppeltaal_host::random::new_jti()
        ));
        std::fs::write(&path, file).unwrap();
        let mut arguments = vec!["koppeltaal", "serve", "--config", path.to_str().unwrap()];
        arguments.extend_from_slice(command_line);
        let expanded = expand(arguments.iter().map(OsString::from).collect());
        std::fs::remove_file(&path).unwrap();
        expanded.map(|all| {
            all.into_iter()
                .map(|word| word.into_string().unwrap())
                .filter(|word| !word.contains("koppeltaal-config-"))
                .collect()
        })
    }

    #[test]
    fn keys_become_flags_and_the_command_line_wins() {
        let file = "listen = \"127.0.0.1:9\"\njwks_url = \"https://p/jwks\"\nfhir-server = [\"a\", \"b\"]\nworkers = 4\nskip-nonce-check = true\nredis-fallback-memory = false\n";
        let expanded = expand_with(file, &["--listen", "127.0.0.1:10"]).unwrap();
        assert_eq!(
            expanded,
            [
                "koppeltaal",
                "serve",
                "--fhir-server=a",
                "--fhir-server=b",
                "--jwks-url=https://p/jwks",
                "--skip-nonce-check",
                "--workers=4",
                "--config",
                "--listen",
                "127.0.0.1:10",
            ]
        );
        assert!(expand_with("x = 1.5", &[]).is_err());
        assert!(expand_with("not toml", &[]).is_err());
        assert!(expand_with("config = \"other.toml\"", &[]).is_err());
    }
}
