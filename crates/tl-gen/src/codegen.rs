//! Rust code generation: one struct per constructor, one enum per boxed type, one struct per
//! function (with its result as `RemoteCall::Return`), and their wire encodings.
//!
//! The generated code refers to the runtime of `tl-types` (`crate::Serialize`,
//! `crate::Reader`, `crate::wire`, ...), so it is meant to be `include!`d there.

use std::collections::HashMap;
use std::fmt::Write as _;

use thiserror::Error;

use crate::ast::{Category, Definition, ParameterType, Schema, TypeRef};
use crate::names;

/// Constructors of another type that Telegram reads in place of a type's own, with the same
/// fields: `(type, foreign constructor, the type's constructor it is read as)`. Telegram has
/// accepted these for years and clients rely on it, so every generated reader accepts them
/// too, converted to the schema's constructor (written back, they are the schema's).
const ACCEPTED_FOREIGN: &[(&str, &str, &str)] = &[
    // Pyrogram and its forks (kurigram) send what `resolve_peer` returns, an `InputPeer`,
    // wherever an `InputChannel` goes: `channels.getMessages`, `channels.getFullChannel`,
    // `channels.joinChannel`, ... (`methods/messages/get_messages.py`, `methods/chats/*`).
    ("InputChannel", "inputPeerChannel", "inputChannel"),
    (
        "InputChannel",
        "inputPeerChannelFromMessage",
        "inputChannelFromMessage",
    ),
    // ... and wherever an `InputUser` goes: `users.getUsers`, `users.getFullUser`,
    // `channels.inviteToChannel`, `bots.*` (`resolve_peer("me")` is `inputPeerSelf`).
    ("InputUser", "inputPeerUser", "inputUser"),
    ("InputUser", "inputPeerSelf", "inputUserSelf"),
    (
        "InputUser",
        "inputPeerUserFromMessage",
        "inputUserFromMessage",
    ),
    // kurigram's `send_story` sends `inputPrivacyValueAllowUsers{users: [inputPeerEmpty]}`
    // for "close friends / selected users, nobody picked" (`methods/stories/send_story.py`).
    ("InputUser", "inputPeerEmpty", "inputUserEmpty"),
];

/// How one schema becomes one Rust module.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path of the module the output is included into, e.g. `crate::api`.
    pub module_path: String,
    /// Map TL `string` to `Vec<u8>`: `mtproto.tl` declares binary fields (`pq`, `g_a`,
    /// `encrypted_data`) as `string`.
    pub strings_as_bytes: bool,
}

/// A schema that parses but cannot be turned into Rust.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct GenError {
    pub line: usize,
    pub message: String,
}

/// Generates the Rust source for `schema`.
pub fn generate(schema: &Schema, config: &Config) -> Result<String, GenError> {
    let model = Model::new(schema, config)?;
    let mut out = String::new();
    model.emit_types(&mut out)?;
    model.emit_enums(&mut out)?;
    model.emit_functions(&mut out)?;
    Ok(out)
}

/// How a field travels on the wire, resolved from its TL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    Int,
    Long,
    Double,
    Int128,
    Int256,
    String,
    Bytes,
    Bool,
    /// `flags.N?true`: present or not, nothing on the wire.
    True,
    Vector {
        boxed: bool,
        element: Box<Wire>,
    },
    /// A boxed type: the enum of its constructors.
    Enum(String),
    /// A bare constructor: its struct, without the id.
    Bare(String),
    /// `!X` in a generic function.
    Generic(String),
}

/// The schema indexed for generation.
#[derive(Debug)]
pub struct Model<'a> {
    pub schema: &'a Schema,
    pub config: &'a Config,
    /// Boxed types in order of first appearance, with their constructors.
    pub boxed_types: Vec<(String, Vec<&'a Definition>)>,
    type_index: HashMap<String, usize>,
    constructors: HashMap<String, &'a Definition>,
}

impl<'a> Model<'a> {
    pub fn new(schema: &'a Schema, config: &'a Config) -> Result<Self, GenError> {
        let mut boxed_types: Vec<(String, Vec<&Definition>)> = Vec::new();
        let mut type_index = HashMap::new();
        let mut constructors = HashMap::new();
        for def in schema
            .definitions
            .iter()
            .filter(|d| d.category == Category::Type)
        {
            if def.ty.bare || def.ty.generic_arg.is_some() {
                return Err(GenError {
                    line: def.line,
                    message: format!("constructor of unsupported type `{}`", def.ty.full_name()),
                });
            }
            if constructors.insert(def.full_name(), def).is_some() {
                return Err(GenError {
                    line: def.line,
                    message: format!("constructor `{}` defined twice", def.full_name()),
                });
            }
            let ty = def.ty.full_name();
            let index = *type_index.entry(ty.clone()).or_insert_with(|| {
                boxed_types.push((ty, Vec::new()));
                boxed_types.len() - 1
            });
            if let Some((_, ctors)) = boxed_types.get_mut(index) {
                ctors.push(def);
            }
        }
        Ok(Self {
            schema,
            config,
            boxed_types,
            type_index,
            constructors,
        })
    }

    /// `crate::api::types::messages::Messages`.
    pub fn item_path(&self, kind: &str, namespace: &[String], name: &str) -> String {
        let mut path = format!("{}::{kind}::", self.config.module_path);
        for ns in namespace {
            path.push_str(&names::module_name(ns));
            path.push_str("::");
        }
        path.push_str(&names::type_name(name));
        path
    }

    pub fn struct_path(&self, def: &Definition) -> String {
        let kind = match def.category {
            Category::Type => "types",
            Category::Function => "functions",
        };
        self.item_path(kind, &def.namespace, &def.name)
    }

    /// The variant of each constructor in its type's enum, unique within the enum.
    pub fn variants(ctors: &[&Definition]) -> Vec<String> {
        let short: Vec<String> = ctors
            .iter()
            .map(|c| names::variant_name(&c.name, &c.ty.name))
            .collect();
        short
            .iter()
            .zip(ctors)
            .map(|(name, ctor)| {
                if short.iter().filter(|n| *n == name).count() > 1 {
                    names::type_name(&ctor.name)
                } else {
                    name.clone()
                }
            })
            .collect()
    }

    pub fn boxed_type(&self, full_name: &str) -> Option<&(String, Vec<&'a Definition>)> {
        self.type_index
            .get(full_name)
            .and_then(|i| self.boxed_types.get(*i))
    }

    pub fn resolve(&self, ty: &TypeRef, line: usize) -> Result<Wire, GenError> {
        if ty.generic_ref {
            return Ok(Wire::Generic(ty.name.clone()));
        }
        let unknown = || GenError {
            line,
            message: format!("unknown type `{}`", ty.full_name()),
        };
        if ty.namespace.is_empty() {
            let primitive = match ty.name.as_str() {
                "int" => Some(Wire::Int),
                "long" => Some(Wire::Long),
                "double" => Some(Wire::Double),
                "int128" => Some(Wire::Int128),
                "int256" => Some(Wire::Int256),
                "string" if self.config.strings_as_bytes => Some(Wire::Bytes),
                "string" => Some(Wire::String),
                "bytes" => Some(Wire::Bytes),
                "Bool" => Some(Wire::Bool),
                "true" => Some(Wire::True),
                "Vector" | "vector" => {
                    let element = ty.generic_arg.as_deref().ok_or_else(|| GenError {
                        line,
                        message: "a vector needs an element type".into(),
                    })?;
                    Some(Wire::Vector {
                        boxed: ty.name == "Vector" && !ty.bare,
                        element: Box::new(self.resolve(element, line)?),
                    })
                }
                _ => None,
            };
            if let Some(wire) = primitive {
                return Ok(wire);
            }
        }
        if ty.generic_arg.is_some() {
            return Err(unknown());
        }
        let full = ty.full_name();
        if let Some(ctor) = self.constructors.get(&full) {
            // A lowercase name is its constructor, written bare.
            return Ok(Wire::Bare(self.struct_path(ctor)));
        }
        let (_, ctors) = self.boxed_type(&full).ok_or_else(unknown)?;
        if ty.bare {
            // `%T` of a boxed type with a single constructor: that constructor, bare.
            return match ctors.as_slice() {
                [only] => Ok(Wire::Bare(self.struct_path(only))),
                _ => Err(GenError {
                    line,
                    message: format!("`%{full}` is ambiguous: the type has several constructors"),
                }),
            };
        }
        Ok(Wire::Enum(self.item_path("enums", &ty.namespace, &ty.name)))
    }

    fn emit_types(&self, out: &mut String) -> Result<(), GenError> {
        let defs: Vec<&Definition> = self
            .schema
            .definitions
            .iter()
            .filter(|d| d.category == Category::Type)
            .collect();
        out.push_str("pub mod types {\n");
        for_each_namespace(out, &defs, |out, def| self.emit_struct(out, def))?;
        out.push_str("}\n");
        Ok(())
    }

    fn emit_functions(&self, out: &mut String) -> Result<(), GenError> {
        let defs: Vec<&Definition> = self
            .schema
            .definitions
            .iter()
            .filter(|d| d.category == Category::Function)
            .collect();
        out.push_str("pub mod functions {\n");
        for_each_namespace(out, &defs, |out, def| {
            self.emit_struct(out, def)?;
            self.emit_remote_call(out, def)
        })?;
        out.push_str("}\n");
        Ok(())
    }

    fn emit_enums(&self, out: &mut String) -> Result<(), GenError> {
        let mut by_namespace: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
        for (index, (_, ctors)) in self.boxed_types.iter().enumerate() {
            let Some(first) = ctors.first() else { continue };
            match by_namespace
                .iter_mut()
                .find(|(ns, _)| *ns == first.ty.namespace)
            {
                Some((_, list)) => list.push(index),
                None => by_namespace.push((first.ty.namespace.clone(), vec![index])),
            }
        }
        by_namespace.sort_by(|a, b| a.0.cmp(&b.0));
        out.push_str("pub mod enums {\n");
        for (namespace, indices) in by_namespace {
            for ns in &namespace {
                let _ = writeln!(out, "pub mod {} {{", names::module_name(ns));
            }
            for index in indices {
                if let Some((name, ctors)) = self.boxed_types.get(index) {
                    let foreign = self.accepted_foreign(name, ctors)?;
                    self.emit_enum(out, name, ctors, &foreign);
                }
            }
            for _ in &namespace {
                out.push_str("}\n");
            }
        }
        out.push_str("}\n");
        Ok(())
    }

    /// The [`ACCEPTED_FOREIGN`] constructors of type `full_name`, each with the index of the
    /// type's own constructor it is read as. A table entry that does not fit the schema
    /// (a name missing, fields that differ) is an error, so a schema update cannot silently
    /// turn a conversion into a misreading.
    pub fn accepted_foreign(
        &self,
        full_name: &str,
        ctors: &[&'a Definition],
    ) -> Result<Vec<(&'a Definition, usize)>, GenError> {
        let mut accepted = Vec::new();
        for (_, foreign_name, own_name) in ACCEPTED_FOREIGN
            .iter()
            .filter(|(ty, _, _)| *ty == full_name)
        {
            let line = ctors.first().map_or(0, |c| c.line);
            let problem = |message: String| GenError { line, message };
            let foreign = self.constructors.get(*foreign_name).ok_or_else(|| {
                problem(format!(
                    "`{foreign_name}`, accepted as `{full_name}`, is not in the schema"
                ))
            })?;
            let own = ctors
                .iter()
                .position(|c| c.full_name() == *own_name)
                .ok_or_else(|| problem(format!("`{full_name}` has no constructor `{own_name}`")))?;
            let same_fields = ctors.get(own).is_some_and(|c| c.params == foreign.params);
            if !same_fields {
                return Err(problem(format!(
                    "`{foreign_name}` cannot be read as `{own_name}`: their fields differ"
                )));
            }
            if ctors.iter().any(|c| c.id == foreign.id) {
                return Err(problem(format!(
                    "`{foreign_name}` has the id of a `{full_name}` constructor"
                )));
            }
            accepted.push((*foreign, own));
        }
        Ok(accepted)
    }

    fn emit_enum(
        &self,
        out: &mut String,
        full_name: &str,
        ctors: &[&Definition],
        foreign: &[(&Definition, usize)],
    ) {
        let Some(first) = ctors.first() else { return };
        let name = names::type_name(&first.ty.name);
        let variants = Self::variants(ctors);
        let _ = writeln!(out, "/// The boxed TL type `{full_name}`.");
        for (ctor, own) in foreign {
            if let Some(own) = ctors.get(*own) {
                let _ = writeln!(
                    out,
                    "///\n/// Also reads `{}` (as `{}`), as Telegram does.",
                    ctor.full_name(),
                    own.full_name()
                );
            }
        }
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
        let _ = writeln!(out, "pub enum {name} {{");
        for (variant, ctor) in variants.iter().zip(ctors) {
            if ctor.params.is_empty() {
                let _ = writeln!(out, "    {variant},");
            } else {
                let _ = writeln!(out, "    {variant}(Box<{}>),", self.struct_path(ctor));
            }
        }
        out.push_str("}\n");

        let _ = writeln!(out, "impl {name} {{");
        out.push_str("    /// The constructor id of this value.\n");
        out.push_str("    pub fn constructor_id(&self) -> u32 {\n        match self {\n");
        for (variant, ctor) in variants.iter().zip(ctors) {
            let pattern = if ctor.params.is_empty() { "" } else { "(_)" };
            let _ = writeln!(
                out,
                "            Self::{variant}{pattern} => {:#010x},",
                ctor.id
            );
        }
        out.push_str("        }\n    }\n}\n");

        let _ = writeln!(out, "impl crate::Serialize for {name} {{");
        out.push_str("    fn serialize(&self, out: &mut Vec<u8>) {\n        match self {\n");
        for (variant, ctor) in variants.iter().zip(ctors) {
            if ctor.params.is_empty() {
                let _ = writeln!(
                    out,
                    "            Self::{variant} => crate::wire::write_u32(out, {:#010x}),",
                    ctor.id
                );
            } else {
                let _ = writeln!(
                    out,
                    "            Self::{variant}(x) => crate::Serialize::serialize(&**x, out),"
                );
            }
        }
        out.push_str("        }\n    }\n}\n");

        let _ = writeln!(out, "impl crate::Deserialize for {name} {{");
        out.push_str(
            "    fn deserialize(r: &mut crate::Reader<'_>) -> Result<Self, crate::Error> {\n",
        );
        let closure_reader = if ctors.iter().any(|c| !c.params.is_empty()) {
            "r"
        } else {
            "_"
        };
        let _ = writeln!(
            out,
            "        let id = r.read_u32()?;\n        r.nested(|{closure_reader}| Ok(match id {{"
        );
        for (variant, ctor) in variants.iter().zip(ctors) {
            if ctor.params.is_empty() {
                let _ = writeln!(out, "            {:#010x} => Self::{variant},", ctor.id);
            } else {
                let _ = writeln!(
                    out,
                    "            {:#010x} => Self::{variant}(crate::deserialize_boxed(r)?),",
                    ctor.id
                );
            }
        }
        for (ctor, own) in foreign {
            let (Some(variant), Some(own)) = (variants.get(*own), ctors.get(*own)) else {
                continue;
            };
            // Same fields as the type's own constructor: its bare reader reads them.
            if own.params.is_empty() {
                let _ = writeln!(out, "            {:#010x} => Self::{variant},", ctor.id);
            } else {
                let _ = writeln!(
                    out,
                    "            {:#010x} => Self::{variant}(crate::deserialize_boxed(r)?),",
                    ctor.id
                );
            }
        }
        let _ = writeln!(
            out,
            "            _ => return Err(crate::Error::UnknownConstructor {{ id, expected: {full_name:?} }}),"
        );
        out.push_str("        }))\n    }\n}\n");

        for (variant, ctor) in variants.iter().zip(ctors) {
            let path = self.struct_path(ctor);
            let body = if ctor.params.is_empty() {
                format!("Self::{variant}")
            } else {
                format!("Self::{variant}(Box::new(x))")
            };
            let binding = if ctor.params.is_empty() { "_" } else { "x" };
            let _ = writeln!(
                out,
                "impl From<{path}> for {name} {{ fn from({binding}: {path}) -> Self {{ {body} }} }}"
            );
        }
    }

    /// A struct for a constructor or function, with its encodings.
    fn emit_struct(&self, out: &mut String, def: &Definition) -> Result<(), GenError> {
        let name = names::type_name(&def.name);
        let generics = if def.generics.is_empty() {
            String::new()
        } else {
            format!("<{}>", def.generics.join(", "))
        };
        let bound = |bound: &str| -> String {
            if def.generics.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = def
                    .generics
                    .iter()
                    .map(|g| format!("{g}: {bound}"))
                    .collect();
                format!("<{}>", list.join(", "))
            }
        };
        let fields = self.fields(def)?;

        let _ = writeln!(out, "/// TL `{}#{:08x}`.", def.full_name(), def.id);
        out.push_str("#[derive(Debug, Clone, PartialEq)]\n");
        let _ = writeln!(out, "pub struct {name}{generics} {{");
        for field in &fields {
            if let Some(ty) = field.rust_type() {
                let _ = writeln!(out, "    pub {}: {ty},", field.rust_name);
            }
        }
        out.push_str("}\n");

        let _ = writeln!(
            out,
            "impl{generics} crate::Identifiable for {name}{generics} {{\n    const CONSTRUCTOR_ID: u32 = {:#010x};\n    const TL_NAME: &'static str = {:?};\n}}",
            def.id,
            def.full_name()
        );

        // Serialization: flags words are computed from the optional fields they govern.
        let _ = writeln!(
            out,
            "impl{} crate::BareSerialize for {name}{generics} {{",
            bound("crate::Serialize")
        );
        let uses_out = !fields.is_empty();
        let out_name = if uses_out { "out" } else { "_out" };
        let _ = writeln!(
            out,
            "    fn serialize_bare(&self, {out_name}: &mut Vec<u8>) {{"
        );
        for field in &fields {
            match &field.kind {
                FieldKind::Flags if !governs_fields(&fields, &field.tl_name) => {
                    out.push_str("        crate::wire::write_u32(out, 0);\n");
                }
                FieldKind::Flags => {
                    let _ = writeln!(
                        out,
                        "        let mut {}: u32 = 0;",
                        flags_local(&field.tl_name)
                    );
                    for other in &fields {
                        if let FieldKind::Value {
                            flag: Some((word, bit)),
                            wire,
                        } = &other.kind
                            && *word == field.tl_name
                        {
                            let test = if *wire == Wire::True {
                                format!("self.{}", other.rust_name)
                            } else {
                                format!("self.{}.is_some()", other.rust_name)
                            };
                            let _ = writeln!(
                                out,
                                "        if {test} {{ {} |= 1 << {bit}; }}",
                                flags_local(word)
                            );
                        }
                    }
                    let _ = writeln!(
                        out,
                        "        crate::wire::write_u32(out, {});",
                        flags_local(&field.tl_name)
                    );
                }
                FieldKind::Value { flag: None, wire } => {
                    out.push_str(&serialize_code(
                        wire,
                        &format!("&self.{}", field.rust_name),
                        0,
                    ));
                }
                FieldKind::Value {
                    flag: Some(_),
                    wire: Wire::True,
                } => {}
                FieldKind::Value {
                    flag: Some(_),
                    wire,
                } => {
                    let _ = writeln!(out, "        if let Some(x) = &self.{} {{", field.rust_name);
                    out.push_str(&serialize_code(wire, "x", 0));
                    out.push_str("        }\n");
                }
            }
        }
        out.push_str("    }\n}\n");
        let _ = writeln!(
            out,
            "impl{} crate::Serialize for {name}{generics} {{\n    fn serialize(&self, out: &mut Vec<u8>) {{\n        crate::wire::write_u32(out, {:#010x});\n        crate::BareSerialize::serialize_bare(self, out);\n    }}\n}}",
            bound("crate::Serialize"),
            def.id
        );

        // Deserialization.
        let _ = writeln!(
            out,
            "impl{} crate::BareDeserialize for {name}{generics} {{",
            bound("crate::Deserialize")
        );
        let reader = if fields.is_empty() { "_r" } else { "r" };
        let _ = writeln!(
            out,
            "    fn deserialize_bare({reader}: &mut crate::Reader<'_>) -> Result<Self, crate::Error> {{"
        );
        for field in &fields {
            let local = local_name(&field.tl_name);
            match &field.kind {
                FieldKind::Flags if !governs_fields(&fields, &field.tl_name) => {
                    out.push_str("        r.read_u32()?;\n");
                }
                FieldKind::Flags => {
                    let _ = writeln!(
                        out,
                        "        let {} = r.read_u32()?;",
                        flags_local(&field.tl_name)
                    );
                }
                FieldKind::Value { flag: None, wire } => {
                    let _ = writeln!(out, "        let {local} = {};", deserialize_expr(wire, 0));
                }
                FieldKind::Value {
                    flag: Some((word, bit)),
                    wire: Wire::True,
                } => {
                    let _ = writeln!(
                        out,
                        "        let {local} = {} & (1 << {bit}) != 0;",
                        flags_local(word)
                    );
                }
                FieldKind::Value {
                    flag: Some((word, bit)),
                    wire,
                } => {
                    let _ = writeln!(
                        out,
                        "        let {local} = if {} & (1 << {bit}) != 0 {{ Some({}) }} else {{ None }};",
                        flags_local(word),
                        deserialize_expr(wire, 0)
                    );
                }
            }
        }
        out.push_str("        Ok(Self {");
        for field in &fields {
            if field.rust_type().is_some() {
                let _ = write!(out, " {}: {},", field.rust_name, local_name(&field.tl_name));
            }
        }
        out.push_str(" })\n    }\n}\n");
        let _ = writeln!(
            out,
            "impl{} crate::Deserialize for {name}{generics} {{\n    fn deserialize(r: &mut crate::Reader<'_>) -> Result<Self, crate::Error> {{\n        r.expect_constructor({:#010x}, {:?})?;\n        crate::BareDeserialize::deserialize_bare(r)\n    }}\n}}",
            bound("crate::Deserialize"),
            def.id,
            def.full_name()
        );
        Ok(())
    }

    fn emit_remote_call(&self, out: &mut String, def: &Definition) -> Result<(), GenError> {
        let name = names::type_name(&def.name);
        let (impl_generics, generics) = if def.generics.is_empty() {
            (String::new(), String::new())
        } else {
            let bounds: Vec<String> = def
                .generics
                .iter()
                .map(|g| format!("{g}: crate::RemoteCall"))
                .collect();
            (
                format!("<{}>", bounds.join(", ")),
                format!("<{}>", def.generics.join(", ")),
            )
        };
        let ret = if def.ty.generic_ref || def.generics.contains(&def.ty.name) {
            format!("{}::Return", def.ty.name)
        } else {
            let wire = self.resolve(&def.ty, def.line)?;
            match wire {
                Wire::Enum(_) | Wire::Int | Wire::Long | Wire::Bool => rust_type(&wire),
                Wire::Vector {
                    boxed: true,
                    ref element,
                } if matches!(**element, Wire::Enum(_) | Wire::Int | Wire::Long) => {
                    rust_type(&wire)
                }
                other => {
                    return Err(GenError {
                        line: def.line,
                        message: format!("unsupported function result {other:?}"),
                    });
                }
            }
        };
        let _ = writeln!(
            out,
            "impl{impl_generics} crate::RemoteCall for {name}{generics} {{ type Return = {ret}; }}"
        );
        Ok(())
    }

    pub fn fields(&self, def: &Definition) -> Result<Vec<Field>, GenError> {
        def.params
            .iter()
            .map(|param| {
                let kind = match &param.ty {
                    ParameterType::Flags => FieldKind::Flags,
                    ParameterType::Normal { ty, flag } => FieldKind::Value {
                        flag: flag.as_ref().map(|f| (f.name.clone(), f.index)),
                        wire: self.resolve(ty, def.line)?,
                    },
                };
                Ok(Field {
                    tl_name: param.name.clone(),
                    rust_name: names::field_name(&param.name),
                    kind,
                })
            })
            .collect()
    }
}

/// One parameter of a definition, resolved.
#[derive(Debug, Clone)]
pub struct Field {
    pub tl_name: String,
    pub rust_name: String,
    pub kind: FieldKind,
}

#[derive(Debug, Clone)]
pub enum FieldKind {
    Flags,
    Value {
        flag: Option<(String, u32)>,
        wire: Wire,
    },
}

impl Field {
    /// The Rust type of the struct field; `None` for flags words, which are not stored.
    pub fn rust_type(&self) -> Option<String> {
        match &self.kind {
            FieldKind::Flags => None,
            FieldKind::Value {
                flag: Some(_),
                wire: Wire::True,
            } => Some("bool".into()),
            FieldKind::Value {
                flag: Some(_),
                wire,
            } => Some(format!("Option<{}>", rust_type(wire))),
            FieldKind::Value { flag: None, wire } => Some(rust_type(wire)),
        }
    }
}

pub fn rust_type(wire: &Wire) -> String {
    match wire {
        Wire::Int => "i32".into(),
        Wire::Long => "i64".into(),
        Wire::Double => "f64".into(),
        Wire::Int128 => "[u8; 16]".into(),
        Wire::Int256 => "[u8; 32]".into(),
        Wire::String => "String".into(),
        Wire::Bytes => "Vec<u8>".into(),
        Wire::Bool | Wire::True => "bool".into(),
        Wire::Vector { element, .. } => format!("Vec<{}>", rust_type(element)),
        Wire::Enum(path) | Wire::Bare(path) | Wire::Generic(path) => path.clone(),
    }
}

/// Whether any field is conditional on the flags word `flags`.
fn governs_fields(fields: &[Field], flags: &str) -> bool {
    fields
        .iter()
        .any(|f| matches!(&f.kind, FieldKind::Value { flag: Some((word, _)), .. } if word == flags))
}

fn flags_local(name: &str) -> String {
    format!("flags_{name}")
}

fn local_name(name: &str) -> String {
    format!("f_{}", names::field_name(name).trim_start_matches("r#"))
}

/// Statements writing `value` (an expression of type `&T`).
fn serialize_code(wire: &Wire, value: &str, depth: usize) -> String {
    match wire {
        Wire::Int => format!("        crate::wire::write_i32(out, *{value});\n"),
        Wire::Long => format!("        crate::wire::write_i64(out, *{value});\n"),
        Wire::Double => format!("        crate::wire::write_f64(out, *{value});\n"),
        Wire::Int128 | Wire::Int256 => format!("        out.extend_from_slice({value});\n"),
        Wire::String => format!("        crate::wire::write_bytes(out, {value}.as_bytes());\n"),
        Wire::Bytes => format!("        crate::wire::write_bytes(out, {value});\n"),
        Wire::Bool => format!("        crate::wire::write_bool(out, *{value});\n"),
        Wire::True => String::new(),
        Wire::Vector { boxed, element } => {
            let item = format!("x{depth}");
            format!(
                "        crate::wire::write_vector_header(out, ({value}).len(), {boxed});\n        for {item} in ({value}).iter() {{\n{}        }}\n",
                serialize_code(element, &item, depth + 1)
            )
        }
        Wire::Enum(_) | Wire::Generic(_) => {
            format!("        crate::Serialize::serialize({value}, out);\n")
        }
        Wire::Bare(_) => format!("        crate::BareSerialize::serialize_bare({value}, out);\n"),
    }
}

/// An expression reading one value of `wire` from `r`.
fn deserialize_expr(wire: &Wire, depth: usize) -> String {
    match wire {
        Wire::Int => "r.read_i32()?".into(),
        Wire::Long => "r.read_i64()?".into(),
        Wire::Double => "r.read_f64()?".into(),
        Wire::Int128 => "r.read_array::<16>()?".into(),
        Wire::Int256 => "r.read_array::<32>()?".into(),
        Wire::String => "r.read_string()?".into(),
        Wire::Bytes => "r.read_bytes()?.to_vec()".into(),
        Wire::Bool | Wire::True => "r.read_bool()?".into(),
        Wire::Vector { boxed, element } => {
            let v = format!("v{depth}");
            format!(
                "{{ let n = r.read_vector_len({boxed})?; let mut {v} = crate::vec_for::<{}>(n); for _ in 0..n {{ {v}.push({}); }} {v} }}",
                rust_type(element),
                deserialize_expr(element, depth + 1)
            )
        }
        Wire::Enum(path) | Wire::Generic(path) => {
            format!("<{path} as crate::Deserialize>::deserialize(r)?")
        }
        Wire::Bare(path) => format!("<{path} as crate::BareDeserialize>::deserialize_bare(r)?"),
    }
}

/// Emits definitions grouped into nested namespace modules.
fn for_each_namespace<'d>(
    out: &mut String,
    defs: &[&'d Definition],
    mut emit: impl FnMut(&mut String, &'d Definition) -> Result<(), GenError>,
) -> Result<(), GenError> {
    let mut namespaces: Vec<&Vec<String>> = defs.iter().map(|d| &d.namespace).collect();
    namespaces.sort();
    namespaces.dedup();
    for namespace in namespaces {
        for ns in namespace {
            let _ = writeln!(out, "pub mod {} {{", names::module_name(ns));
        }
        for def in defs.iter().filter(|d| d.namespace == *namespace) {
            emit(out, def)?;
        }
        for _ in namespace {
            out.push_str("}\n");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const PEERS: &str = "\
inputPeerEmpty#7f3b18ea = InputPeer;
inputPeerSelf#7da07ec9 = InputPeer;
inputPeerUser#dde8a54c user_id:long access_hash:long = InputPeer;
inputPeerChannel#27bcbbfc channel_id:long access_hash:long = InputPeer;
inputPeerUserFromMessage#a87b0a1c peer:InputPeer msg_id:int user_id:long = InputPeer;
inputPeerChannelFromMessage#bd2a0840 peer:InputPeer msg_id:int channel_id:long = InputPeer;
inputUserEmpty#b98886cf = InputUser;
inputUserSelf#f7c1b13f = InputUser;
inputUser#f21158c6 user_id:long access_hash:long = InputUser;
inputUserFromMessage#1da448e2 peer:InputPeer msg_id:int user_id:long = InputUser;
";
    const CHANNELS: &str = "\
inputChannelEmpty#ee8c1e86 = InputChannel;
inputChannel#f35aec28 channel_id:long access_hash:long = InputChannel;
inputChannelFromMessage#5b934f9d peer:InputPeer msg_id:int channel_id:long = InputChannel;
";

    fn generate_from(source: &str) -> Result<String, GenError> {
        let schema = crate::parse(source).unwrap();
        let config = Config {
            module_path: "crate::api".into(),
            strings_as_bytes: false,
        };
        generate(&schema, &config)
    }

    /// The text of the generated `Deserialize` impl of enum `name`.
    fn deserializer<'c>(code: &'c str, name: &str) -> &'c str {
        let enums = &code[code.find("pub mod enums {").unwrap()..];
        let start = enums
            .find(&format!("impl crate::Deserialize for {name} {{"))
            .unwrap();
        let rest = &enums[start..];
        &rest[..rest.find("\nimpl From").unwrap()]
    }

    #[test]
    fn foreign_constructors_are_read_as_the_types_own() {
        let code = generate_from(&format!("{PEERS}{CHANNELS}")).unwrap();
        let channel = deserializer(&code, "InputChannel");
        assert!(
            channel.contains("0x27bcbbfc => Self::InputChannel(crate::deserialize_boxed(r)?)"),
            "{channel}"
        );
        assert!(
            channel.contains("0xbd2a0840 => Self::FromMessage(crate::deserialize_boxed(r)?)"),
            "{channel}"
        );
        let user = deserializer(&code, "InputUser");
        assert!(
            user.contains("0x7da07ec9 => Self::InputUserSelf,"),
            "{user}"
        );
        assert!(
            user.contains("0xdde8a54c => Self::InputUser(crate::deserialize_boxed(r)?)"),
            "{user}"
        );
        assert!(
            user.contains("0xa87b0a1c => Self::FromMessage(crate::deserialize_boxed(r)?)"),
            "{user}"
        );
        assert!(user.contains("0x7f3b18ea => Self::Empty,"), "{user}");
        // Nothing converts into InputPeer, and inputPeerEmpty stays out of InputChannel.
        let peer = deserializer(&code, "InputPeer");
        assert!(!peer.contains("0xf35aec28"), "{peer}");
        assert!(!channel.contains("0x7f3b18ea"), "{channel}");
    }

    #[test]
    fn a_schema_without_the_types_needs_no_conversion() {
        let code = generate_from("boolFalse#bc799737 = Bool;\n").unwrap();
        assert!(!code.contains("0x27bcbbfc"));
    }

    #[test]
    fn a_conversion_that_no_longer_fits_the_schema_is_an_error() {
        // inputChannel gained a field: reading inputPeerChannel as it would misread.
        let changed = CHANNELS.replace(
            "inputChannel#f35aec28 channel_id:long access_hash:long",
            "inputChannel#f35aec28 channel_id:long access_hash:long extra:int",
        );
        let error = generate_from(&format!("{PEERS}{changed}")).unwrap_err();
        assert!(error.message.contains("fields differ"), "{error}");
        // The foreign constructor is gone from the schema.
        let without = PEERS.replace(
            "inputPeerChannel#27bcbbfc channel_id:long access_hash:long = InputPeer;\n",
            "",
        );
        let error = generate_from(&format!("{without}{CHANNELS}")).unwrap_err();
        assert!(error.message.contains("is not in the schema"), "{error}");
    }
}
