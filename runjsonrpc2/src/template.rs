//! `runjsonrpc2 new NAME`: a plugin project that builds offline and serves at once.

use crate::command::CommandError;
use std::path::{Path, PathBuf};

/// The files of a new project: path, contents (with `{{name}}` and `{{version}}` filled in).
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("template/Cargo.toml.in")),
    ("src/lib.rs", include_str!("template/lib.rs.in")),
    ("run.toml", include_str!("template/run.toml.in")),
    ("static/index.html", include_str!("template/index.html")),
    // The plugin API is vendored, so the project needs only serde and serde_json, which a
    // machine that built runjsonrpc2 has in its cargo cache (`cargo build --offline` works).
    ("runjsonrpc2-plugin/Cargo.toml", include_str!("template/plugin-api.toml.in")),
    ("runjsonrpc2-plugin/src/lib.rs", include_str!("../../plugin-api/src/lib.rs")),
    ("runjsonrpc2-plugin/src/abi.rs", include_str!("../../plugin-api/src/abi.rs")),
    ("runjsonrpc2-plugin/src/glue.rs", include_str!("../../plugin-api/src/glue.rs")),
    ("runjsonrpc2-plugin/src/tests.rs", include_str!("../../plugin-api/src/tests.rs")),
    ("runjsonrpc2-plugin/src/value.rs", include_str!("../../plugin-api/src/value.rs")),
    ("runjsonrpc2-plugin/src/schema.rs", include_str!("../../plugin-api/src/schema.rs")),
    ("runjsonrpc2-plugin/include/runjsonrpc2.h", include_str!("../../plugin-api/include/runjsonrpc2.h")),
];

/// Creates the project directory `dir`, named after its last component, which must be a
/// lowercase identifier (it becomes the crate, the library and the module name).
pub fn create(dir: &Path) -> Result<PathBuf, CommandError> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(CommandError::Usage(format!(
            "project name {name:?}: use lowercase letters, digits and '_', starting with a letter"
        )));
    }
    if dir.exists() {
        return Err(CommandError::Usage(format!("{} already exists", dir.display())));
    }
    for (path, text) in FILES {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("files are in a directory"))?;
        let text = text.replace("{{name}}", name).replace("{{version}}", env!("CARGO_PKG_VERSION"));
        std::fs::write(file, text)?;
    }
    Ok(dir.to_owned())
}
