//! Where a module name leads: `--plugin-path` dirs, `RUNJSONRPC2_PLUGIN_PATH`, the executable's dir, the cwd.

use std::path::{Path, PathBuf};

/// The environment variable holding extra plugin directories, colon-separated.
pub const PLUGIN_PATH_VAR: &str = "RUNJSONRPC2_PLUGIN_PATH";

/// The directories searched for `libNAME.so`, in order, before the system's own search.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    /// The directories, first searched first.
    pub dirs: Vec<PathBuf>,
}

/// Where a module name was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file on disk, given as a path or found in a search directory.
    File(PathBuf),
    /// Not in any search directory: the bare file name, for the system's library search.
    System(String),
}

impl SearchPath {
    /// The standard order: `plugin_paths`, then `RUNJSONRPC2_PLUGIN_PATH`, the directory of
    /// the running executable, and the current directory.
    pub fn standard(plugin_paths: &[PathBuf]) -> SearchPath {
        let mut dirs = plugin_paths.to_vec();
        if let Some(var) = std::env::var_os(PLUGIN_PATH_VAR) {
            dirs.extend(std::env::split_paths(&var).filter(|p| !p.as_os_str().is_empty()));
        }
        if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
            dirs.push(dir);
        }
        dirs.push(PathBuf::from("."));
        SearchPath { dirs }
    }

    /// Finds a module: a name with `/` or ending in `.so` is a path; otherwise `libNAME.so`
    /// in the search directories, else left to the system. Names are checked first, so
    /// nothing odd reaches the dynamic loader.
    pub fn find(&self, module: &str) -> Result<Found, BadName> {
        if is_path(module) {
            // A bare file name is the file in the current directory, as it is checked: the
            // dynamic loader would search the system's library path for it instead.
            let path = Path::new(module);
            let in_a_dir = path.parent().is_some_and(|d| !d.as_os_str().is_empty());
            return Ok(Found::File(if in_a_dir { path.to_path_buf() } else { Path::new(".").join(path) }));
        }
        let valid = !module.is_empty()
            && module.len() <= 255
            && module.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !valid || module.starts_with('.') {
            return Err(BadName { module: module.to_owned() });
        }
        let file = file_name(module);
        Ok(self.dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()).map_or(Found::System(file), Found::File))
    }

    /// Every place [`SearchPath::find`] looks for `module`, for error messages.
    pub fn places(&self, module: &str) -> Vec<String> {
        let file = file_name(module);
        let mut places: Vec<String> = self.dirs.iter().map(|d| d.join(&file).display().to_string()).collect();
        places.push(format!("{file} in the system library search (LD_LIBRARY_PATH, ld.so.cache, /lib, /usr/lib)"));
        places
    }
}

/// A module name that is neither a plain name (letters, digits, `_`, `-`, `.`, at most 255,
/// not starting with `.`) nor a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    /// The name given.
    pub module: String,
}

impl std::fmt::Display for BadName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad module name {:?}: use letters, digits, '_', '-' and '.', or a path", self.module)
    }
}

impl std::error::Error for BadName {}

/// A module given as a path (with `/` or ending in `.so`) rather than a name.
pub fn is_path(module: &str) -> bool {
    module.contains('/') || module.ends_with(".so")
}

/// `hello` -> `libhello.so`.
pub fn file_name(module: &str) -> String {
    format!("lib{module}.so")
}

#[cfg(test)]
mod tests {
    use super::{BadName, Found, SearchPath};
    use std::path::PathBuf;

    /// Names and paths, and what `find` makes of them with no search directory.
    #[test]
    fn names_paths_and_bad_names() {
        let bad = |m: &str| Err(BadName { module: m.to_owned() });
        #[rustfmt::skip]
        let cases: &[(&str, Result<Found, BadName>)] = &[
            ("hello", Ok(Found::System("libhello.so".into()))),
            ("hello2.so", Ok(Found::File(PathBuf::from("./hello2.so")))),
            ("lib/x.so", Ok(Found::File(PathBuf::from("lib/x.so")))),
            ("/abs/y", Ok(Found::File(PathBuf::from("/abs/y")))),
            ("bad name", bad("bad name")),
            (".hidden", bad(".hidden")),
            ("", bad("")),
        ];
        for (module, want) in cases {
            assert_eq!(&SearchPath::default().find(module), want, "{module:?}");
        }
        let message = SearchPath::default().find("a b").unwrap_err().to_string();
        assert_eq!(message, r#"bad module name "a b": use letters, digits, '_', '-' and '.', or a path"#);
    }
}
