//! The parsed form of a TL schema.

/// Whether a definition describes data (a constructor) or an RPC function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Type,
    Function,
}

/// A whole schema file: its combinators in order, and the layer announced by `// LAYER N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub definitions: Vec<Definition>,
    pub layer: Option<i32>,
}

/// One combinator: `ns.name#id {X:Type} params... = ResultType;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub namespace: Vec<String>,
    pub name: String,
    /// The id written in the schema, if any.
    pub explicit_id: Option<u32>,
    /// The id in force: the explicit one, or the CRC32 of the normalized declaration.
    pub id: u32,
    /// Generic type parameters declared as `{X:Type}`.
    pub generics: Vec<String>,
    pub params: Vec<Parameter>,
    pub ty: TypeRef,
    pub category: Category,
    /// 1-based line of the declaration, for messages.
    pub line: usize,
}

impl Definition {
    /// The name as written in the schema, namespace included (`messages.getHistory`).
    pub fn full_name(&self) -> String {
        qualified(&self.namespace, &self.name)
    }
}

/// A named parameter of a combinator.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub ty: ParameterType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParameterType {
    /// `name:#`, a flags word whose bits say which conditional fields are present.
    Flags,
    /// An ordinary field, possibly conditional on a flags bit.
    Normal { ty: TypeRef, flag: Option<Flag> },
}

/// `flags.N?` in front of a field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub index: u32,
}

/// A reference to a type: `int`, `Vector<long>`, `messages.Messages`, `%Message`, `!X`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    pub namespace: Vec<String>,
    pub name: String,
    /// Written without its constructor id on the wire (`%T`, or a lowercase name).
    pub bare: bool,
    /// `!X`: any function whose result becomes this combinator's result.
    pub generic_ref: bool,
    /// The `T` of `Vector<T>`.
    pub generic_arg: Option<Box<TypeRef>>,
}

impl TypeRef {
    pub fn full_name(&self) -> String {
        qualified(&self.namespace, &self.name)
    }
}

fn qualified(namespace: &[String], name: &str) -> String {
    let mut out = String::new();
    for ns in namespace {
        out.push_str(ns);
        out.push('.');
    }
    out.push_str(name);
    out
}
