//! Who may call what: the auth file's users, their salted secrets and method patterns.
//!
//! One user a line, fields separated by spaces:
//!
//! ```text
//! # NAME  HASH (Argon2id, PHC string)                       METHOD PATTERNS
//! alice   $argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA     *
//! bob     $argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA     sample.* hello.greeting
//! ```
//!
//! A pattern is `*` (every method), a prefix ending in `*` (`sample.*`), or an exact name.

mod limit;
mod secret;

pub(crate) use limit::Failures;
pub use limit::{LIMIT, WINDOW};
#[cfg(test)] // the server's tests encode credentials with it
pub(crate) use secret::base64;
pub use secret::{hash_secret, random_secret};

use std::fmt;
use std::path::{Path, PathBuf};

/// The longest user name, in bytes.
pub const MAX_NAME: usize = 64;
/// The longest secret, in bytes (a name, a colon and a secret fit the server's fixed buffer).
pub const MAX_SECRET: usize = 127;

/// The users of an auth file, with a cache of credentials already verified.
pub struct Users {
    file: PathBuf,
    users: Vec<User>,
    verifier: secret::Verifier,
}

/// One user: a name, the hash of their secret, and the methods they may call.
#[derive(Debug)]
pub struct User {
    name: String,
    hash: String,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Prefix(String),
    Exact(String),
}

/// An auth file that cannot be used: `FILE:LINE: reason`.
#[derive(Debug)]
pub struct AuthError {
    /// The auth file.
    pub file: PathBuf,
    /// The line at fault (1-based); `None` when the file cannot be read at all.
    pub line: Option<usize>,
    /// What is wrong, in lowercase.
    pub reason: String,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for AuthError {}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        f.debug_struct("Users").field("file", &self.file).field("users", &names).finish()
    }
}

impl Users {
    /// Reads and checks an auth file.
    pub fn load(file: &Path) -> Result<Users, AuthError> {
        let text = std::fs::read_to_string(file).map_err(|e| AuthError {
            file: file.to_owned(),
            line: None,
            reason: format!("cannot read: {e}"),
        })?;
        Users::parse(&text, file)
    }

    /// Checks an auth file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Users, AuthError> {
        let mut users: Vec<(usize, User)> = Vec::new();
        let mut costs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: String| AuthError { file: file.to_owned(), line: Some(i + 1), reason };
            let (user, cost) = parse_line(line).map_err(error)?;
            if let Some((first, _)) = users.iter().find(|(_, u)| u.name == user.name) {
                return Err(error(format!("user \"{}\" given twice (first on line {first})", user.name)));
            }
            users.push((i + 1, user));
            costs.push(cost);
        }
        let users: Vec<User> = users.into_iter().map(|(_, u)| u).collect();
        let verifier = secret::Verifier::new(users.len(), secret::costliest(&costs));
        Ok(Users { file: file.to_owned(), verifier, users })
    }

    /// The user whose name and secret these are, or `None` (an unknown name takes as long as
    /// a wrong secret for the file's costliest hash). A credential verified once is cached for
    /// this process.
    pub fn check(&self, name: &str, secret: &[u8]) -> Option<&User> {
        if self.users.is_empty() {
            return None;
        }
        let index = self.users.iter().position(|u| u.name == name);
        let hash = index.map(|i| self.users[i].hash.as_str());
        self.verifier.verify(index, hash, name, secret).then(|| &self.users[index.expect("verified")])
    }

    /// How many users the file holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file holds no user (then nobody may call).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The file the users were read from.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl User {
    /// The user's name, which procedures see as `caller`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the user may call `method`. Checked before the method is looked up, so a user
    /// who may not call a name learns nothing about whether it exists.
    pub fn may_call(&self, method: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Prefix(prefix) => method.starts_with(prefix.as_str()),
            Pattern::Exact(name) => method == name,
        })
    }
}

/// One user, and the costs of their hash.
fn parse_line(line: &str) -> Result<(User, argon2::Params), String> {
    let mut fields = line.split_whitespace();
    let (Some(name), Some(hash)) = (fields.next(), fields.next()) else {
        return Err("expected NAME HASH PATTERN..., found one field".into());
    };
    check_name(name)?;
    let cost = secret::check_hash(hash)?;
    let patterns = fields.map(parse_pattern).collect::<Result<Vec<_>, _>>()?;
    if patterns.is_empty() {
        return Err(format!("user \"{name}\" has no method pattern (use * for every method)"));
    }
    Ok((User { name: name.to_owned(), hash: hash.to_owned(), patterns }, cost))
}

/// Checks a user name: it fits HTTP Basic credentials (no `:`) and one field of the file.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty() || name.len() > MAX_NAME || name.starts_with('#');
    if bad || name.chars().any(|c| c == ':' || c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "bad user name {name:?}: 1 to 64 characters, no ':', space or control character, not starting with '#'"
        ));
    }
    Ok(())
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    match text.find('*') {
        None => Ok(Pattern::Exact(text.to_owned())),
        Some(_) if text == "*" => Ok(Pattern::Any),
        Some(i) if i + 1 == text.len() => Ok(Pattern::Prefix(text[..i].to_owned())),
        Some(_) => Err(format!("bad method pattern {text:?}: '*' may only end a pattern")),
    }
}

/// Checks method patterns given to `auth add`.
pub(crate) fn check_patterns(patterns: &[String]) -> Result<(), String> {
    patterns.iter().try_for_each(|p| parse_pattern(p).map(drop))
}

#[cfg(test)]
mod tests;
