//! `rpc.discover`: an OpenRPC 1.3.2 document of every method a server serves, built from the
//! plugins' tables (their docs and parameters) and the native procedures' signatures.
//!
//! Parameters that the server fills (extra variables, `caller`, `remote_addr`) are left out:
//! a client cannot give them. Schemas are the plugin's (ABI 3 tables carry them), else `{}`
//! (any value).

use crate::plugin::{Loader, MethodInfo};
use crate::signature::{ParamKind, Signature};
use crate::table::{Entry, Target};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The method that answers the document (OpenRPC's service discovery method).
pub const DISCOVER: &str = "rpc.discover";

/// What the document describes: the table's entries at start, and what resolves them.
pub(crate) struct Service {
    /// `info.title` and `info.version`.
    pub(crate) title: String,
    pub(crate) version: String,
    /// Every entry, sorted by name.
    pub(crate) entries: Vec<(String, Arc<Entry>)>,
    /// Names whose values the server supplies, left out of every parameter list.
    pub(crate) server_filled: Vec<String>,
    /// The engine's error map: application error kinds and their codes.
    pub(crate) error_codes: Vec<(String, i64)>,
}

impl Service {
    /// The document. A lazy entry is described from its module's table, which `loader`
    /// opens if no served module opened it (as the entry's first call would); an entry whose
    /// module cannot be opened is listed with no parameters and says why.
    pub(crate) fn document(&self, loader: &Loader) -> Value {
        let methods: Vec<Value> = self
            .entries
            .iter()
            .filter(|(name, _)| name != DISCOVER)
            .map(|(name, entry)| match entry.target() {
                Some(target) => match describe(loader, target) {
                    Ok(info) => self.method(name, &info.doc, Some(&info.signature), Some(&info)),
                    Err(why) => self.method(name, &format!("{target}: {why}"), None, None),
                },
                None => self.method(name, "", entry.procedure().map(|p| p.signature()), None),
            })
            .collect();
        let mut discover = Map::new();
        discover.insert("name".into(), DISCOVER.into());
        discover.insert("description".into(), "This document: the methods this server serves (OpenRPC).".into());
        discover.insert("params".into(), json!([]));
        discover.insert("result".into(), json!({"name": "OpenRPC document", "schema": {"type": "object"}}));
        let mut all = vec![Value::Object(discover)];
        all.extend(methods);
        json!({
            "openrpc": "1.3.2",
            "info": {"title": self.title, "version": self.version},
            "methods": all,
        })
    }

    /// One method object: its params (by position, in order), `paramStructure`, its result.
    fn method(&self, name: &str, doc: &str, signature: Option<&Signature>, info: Option<&MethodInfo>) -> Value {
        // A schema the plugin's table gives, or `{}`.
        let given = |s: Option<&serde_json::value::RawValue>| {
            s.and_then(|s| serde_json::from_str::<Value>(s.get()).ok()).unwrap_or_else(|| json!({}))
        };
        let mut method = Map::new();
        method.insert("name".into(), name.into());
        let mut params = Vec::new();
        let mut structure = "either";
        match signature {
            None => {}
            Some(Signature::Raw) => {
                let text = "Takes params as sent: an array or an object, as the procedure expects.";
                method.insert("summary".into(), text.into());
            }
            Some(Signature::Params(list)) => {
                for (i, p) in list.iter().enumerate().filter(|(_, p)| !self.server_filled.contains(&p.name)) {
                    let mut param = Map::new();
                    param.insert("name".into(), p.name.clone().into());
                    let mut schema = given(info.and_then(|m| m.param_schemas.get(i)?.as_deref()));
                    match &p.kind {
                        ParamKind::Required => {
                            param.insert("required".into(), true.into());
                        }
                        ParamKind::Optional(Some(default)) => {
                            let default: Value = serde_json::from_str(default.get()).unwrap_or(Value::Null);
                            if let Value::Object(schema) = &mut schema {
                                schema.entry("default").or_insert(default);
                            }
                        }
                        ParamKind::Optional(None) => {}
                        ParamKind::Variadic => {
                            // Only positions can give any number of values.
                            structure = "by-position";
                            let text = "Any number of further values, by position.";
                            param.insert("description".into(), text.into());
                        }
                    }
                    param.insert("schema".into(), schema);
                    params.push(Value::Object(param));
                }
            }
        }
        if !doc.is_empty() {
            method.insert("description".into(), doc.into());
        }
        method.insert("params".into(), params.into());
        let result = given(info.and_then(|m| m.result_schema.as_deref()));
        method.insert("result".into(), json!({"name": "result", "schema": result}));
        // The errors the method reports, where its table says, with the codes they answer.
        if let Some(kinds) = info.and_then(|m| m.error_kinds.as_ref()).filter(|k| !k.is_empty()) {
            let errors: Vec<Value> = kinds
                .iter()
                .map(|kind| {
                    let code = self
                        .error_codes
                        .iter()
                        .find(|(k, _)| k == kind)
                        .map_or(crate::error::SERVER_ERROR, |(_, c)| *c);
                    json!({"code": code, "message": kind})
                })
                .collect();
            method.insert("errors".into(), errors.into());
        }
        method.insert("paramStructure".into(), structure.into());
        Value::Object(method)
    }
}

/// The entry of `target` in its module's table.
fn describe(loader: &Loader, target: &Target) -> Result<MethodInfo, String> {
    let plugin = loader.open(&target.module).map_err(|e| e.to_string())?;
    plugin.descriptor.find(&target.symbol).cloned().ok_or_else(|| "not in its module's table".to_owned())
}
