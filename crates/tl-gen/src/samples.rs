//! Sample values of every constructor and function, for the generated round-trip test.
//!
//! For each definition the output has a function that hands a checker the value with every
//! field set to a non-default value and every flag set, and (when it has flags) the value
//! with every flag unset. Nested values of boxed types use the constructor that reaches a
//! leaf soonest, with flags unset and vectors empty, so that recursive types stay finite.
//!
//! The output expects a trait `Checker` in scope with the methods
//! `constructor::<T, E>(&mut self, value: T)` (a constructor and the enum of its type) and
//! `function::<T>(&mut self, value: T)`.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::ast::{Category, Definition, Schema};
use crate::codegen::{Config, FieldKind, GenError, Model, Wire, rust_type};

pub fn generate(schema: &Schema, config: &Config) -> Result<String, GenError> {
    let model = Model::new(schema, config)?;
    let samples = Samples::new(&model)?;
    let mut out = String::new();
    let mut calls = String::new();
    let (mut constructors, mut functions) = (0, 0);
    for (index, def) in schema.definitions.iter().enumerate() {
        let fields = model.fields(def)?;
        let has_flags = fields.iter().any(|f| matches!(f.kind, FieldKind::Flags));
        let path = model.struct_path(def);
        let check = match def.category {
            Category::Type => {
                constructors += 1;
                let enum_path = model.item_path("enums", &def.ty.namespace, &def.ty.name);
                format!("c.constructor::<_, {enum_path}>")
            }
            Category::Function => {
                functions += 1;
                "c.function".to_owned()
            }
        };
        let _ = writeln!(out, "fn check_{index}<C: Checker>(c: &mut C) {{");
        for full in [true, false]
            .into_iter()
            .take(if has_flags { 2 } else { 1 })
        {
            let value = samples.struct_value(def, &path, full)?;
            let _ = writeln!(out, "    {check}({value});");
        }
        out.push_str("}\n");
        let _ = writeln!(calls, "    check_{index}(c);");
    }
    let _ = writeln!(
        out,
        "/// Hands `c` every sample.\npub fn check_all<C: Checker>(c: &mut C) {{\n{calls}}}"
    );
    let _ = writeln!(out, "pub const CONSTRUCTORS: usize = {constructors};");
    let _ = writeln!(out, "pub const FUNCTIONS: usize = {functions};");
    out.push_str(&samples.helpers);
    Ok(out)
}

struct Samples<'m, 'a> {
    model: &'m Model<'a>,
    /// For each boxed type, the constructor that reaches a leaf soonest.
    leaf_ctor: HashMap<String, &'a Definition>,
    /// A parameterless function of the schema, used for `!X`.
    generic_query: Option<String>,
    /// `fn min_N()` helpers building the minimal value of each boxed type.
    helpers: String,
    helper_index: HashMap<String, usize>,
}

impl<'m, 'a> Samples<'m, 'a> {
    fn new(model: &'m Model<'a>) -> Result<Self, GenError> {
        let mut samples = Self {
            model,
            leaf_ctor: HashMap::new(),
            generic_query: model
                .schema
                .definitions
                .iter()
                .find(|d| d.category == Category::Function && d.params.is_empty())
                .map(|d| format!("{} {{}}", model.struct_path(d))),
            helpers: String::new(),
            helper_index: HashMap::new(),
        };
        samples.compute_leaf_constructors()?;
        samples.emit_helpers()?;
        Ok(samples)
    }

    /// Fixpoint: a constructor's cost is one more than the costliest boxed type among its
    /// mandatory, non-vector fields; a type's cost is that of its cheapest constructor.
    fn compute_leaf_constructors(&mut self) -> Result<(), GenError> {
        let mut cost: HashMap<String, usize> = HashMap::new();
        loop {
            let mut changed = false;
            for (name, ctors) in &self.model.boxed_types {
                for ctor in ctors {
                    let mut worst = 0;
                    let mut known = true;
                    for field in self.model.fields(ctor)? {
                        if let FieldKind::Value { flag: None, wire } = &field.kind
                            && let Some(dependency) = self.dependency(wire)
                        {
                            match cost.get(&dependency) {
                                Some(c) => worst = worst.max(*c),
                                None => known = false,
                            }
                        }
                    }
                    let candidate = worst + 1;
                    if known && cost.get(name).is_none_or(|c| candidate < *c) {
                        cost.insert(name.clone(), candidate);
                        self.leaf_ctor.insert(name.clone(), ctor);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        match self
            .model
            .boxed_types
            .iter()
            .find(|(name, _)| !cost.contains_key(name))
        {
            Some((name, ctors)) => Err(GenError {
                line: ctors.first().map_or(0, |c| c.line),
                message: format!("type `{name}` has no finite value"),
            }),
            None => Ok(()),
        }
    }

    /// The boxed type a mandatory field needs a value of, if any (a bare constructor counts as
    /// its type).
    fn dependency(&self, wire: &Wire) -> Option<String> {
        let (Wire::Enum(path) | Wire::Bare(path)) = wire else {
            return None;
        };
        self.model.boxed_types.iter().find_map(|(name, ctors)| {
            let first = ctors.first()?;
            let matches = *path
                == self
                    .model
                    .item_path("enums", &first.ty.namespace, &first.ty.name)
                || ctors.iter().any(|c| self.model.struct_path(c) == *path);
            matches.then(|| name.clone())
        })
    }

    fn emit_helpers(&mut self) -> Result<(), GenError> {
        for (index, (name, _)) in self.model.boxed_types.iter().enumerate() {
            self.helper_index.insert(name.clone(), index);
        }
        let mut helpers = String::new();
        for (index, (name, ctors)) in self.model.boxed_types.iter().enumerate() {
            let Some(first) = ctors.first() else { continue };
            let enum_path = self
                .model
                .item_path("enums", &first.ty.namespace, &first.ty.name);
            let leaf = self.leaf_ctor.get(name).copied().unwrap_or(first);
            let value = self.minimal_struct(leaf)?;
            let _ = writeln!(
                helpers,
                "fn min_{index}() -> {enum_path} {{ {enum_path}::from({value}) }}"
            );
        }
        self.helpers = helpers;
        Ok(())
    }

    fn minimal_struct(&self, def: &Definition) -> Result<String, GenError> {
        let mut value = format!("{} {{", self.model.struct_path(def));
        for (n, field) in self.model.fields(def)?.iter().enumerate() {
            let expr = match &field.kind {
                FieldKind::Flags => continue,
                FieldKind::Value {
                    flag: Some(_),
                    wire: Wire::True,
                } => "false".to_owned(),
                FieldKind::Value { flag: Some(_), .. } => "None".to_owned(),
                FieldKind::Value { flag: None, wire } => self.value(wire, n, false)?,
            };
            let _ = write!(value, " {}: {expr},", field.rust_name);
        }
        value.push_str(" }");
        Ok(value)
    }

    fn struct_value(&self, def: &Definition, path: &str, full: bool) -> Result<String, GenError> {
        let mut value = format!("{path} {{");
        for (n, field) in self.model.fields(def)?.iter().enumerate() {
            let expr = match &field.kind {
                FieldKind::Flags => continue,
                FieldKind::Value {
                    flag: Some(_),
                    wire: Wire::True,
                } => full.to_string(),
                FieldKind::Value {
                    flag: Some(_),
                    wire,
                } if full => {
                    format!("Some({})", self.value(wire, n, true)?)
                }
                FieldKind::Value { flag: Some(_), .. } => "None".to_owned(),
                FieldKind::Value { flag: None, wire } => self.value(wire, n, true)?,
            };
            let _ = write!(value, " {}: {expr},", field.rust_name);
        }
        value.push_str(" }");
        Ok(value)
    }

    /// A non-default value for a field; `top` values fill vectors with one element.
    fn value(&self, wire: &Wire, n: usize, top: bool) -> Result<String, GenError> {
        let n = n + 1;
        Ok(match wire {
            Wire::Int => format!("-{n}_000_001i32"),
            Wire::Long => format!("0x0123_4567_89ab_{n:04x}i64"),
            Wire::Double => format!("{n}.25f64"),
            Wire::Int128 => format!("[{n}u8; 16]"),
            Wire::Int256 => format!("[{n}u8; 32]"),
            Wire::String => format!("String::from(\"s{n} \u{fc}\u{2713}\")"),
            // Alternate short and long (> 253 bytes) encodings of the length.
            Wire::Bytes if n.is_multiple_of(2) => format!("vec![{n}u8; 300]"),
            Wire::Bytes => format!("vec![{n}u8; {}]", n % 7),
            Wire::Bool | Wire::True => "true".to_owned(),
            Wire::Vector { element, .. } if top => {
                format!("vec![{}]", self.value(element, n, false)?)
            }
            Wire::Vector { element, .. } => format!("Vec::<{}>::new()", rust_type(element)),
            Wire::Generic(_) => self.generic_query.clone().ok_or_else(|| GenError {
                line: 0,
                message: "no parameterless function to stand for `!X`".into(),
            })?,
            Wire::Enum(_) | Wire::Bare(_) => {
                let ty = self.dependency(wire).unwrap_or_default();
                let index = self.helper_index.get(&ty).ok_or_else(|| GenError {
                    line: 0,
                    message: format!("no sample for `{ty}`"),
                })?;
                match wire {
                    Wire::Bare(path) => {
                        // A bare field needs that very constructor.
                        let def = self
                            .model
                            .boxed_type(&ty)
                            .and_then(|(_, ctors)| {
                                ctors.iter().find(|c| self.model.struct_path(c) == *path)
                            })
                            .ok_or_else(|| GenError {
                                line: 0,
                                message: format!("no constructor `{path}`"),
                            })?;
                        self.minimal_struct(def)?
                    }
                    _ => format!("min_{index}()"),
                }
            }
        })
    }
}
