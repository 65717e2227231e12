//! The per-layer schema tables generated at build time, and lookups over them.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The type of a parameter or of a combinator's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Long,
    Double,
    Int128,
    Int256,
    /// `string` or `bytes`: the same on the wire.
    Bytes,
    /// `Bool`: `boolTrue`/`boolFalse`.
    Bool,
    /// `flags.N?true`: no data, only the bit.
    True,
    /// `#`: a flags word, computed from the fields present.
    Flags,
    /// A boxed type by name (constructor id first on the wire).
    Boxed(&'static str),
    /// A bare constructor or type by name (no constructor id on the wire).
    Bare(&'static str),
    /// `Vector<T>` (boxed) or `vector<T>` (bare).
    Vector {
        boxed: bool,
        elem: &'static Ty,
    },
    /// A generic `X`/`!X`: any boxed object (a wrapped query).
    AnyObject,
}

/// One parameter of a combinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    /// The flags parameter and bit this field depends on.
    pub flag: Option<(&'static str, u32)>,
}

/// One constructor or function of a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combinator {
    pub id: u32,
    /// The full name, namespace included (`messages.getHistory`).
    pub name: &'static str,
    pub function: bool,
    /// The type a constructor belongs to, or the result type of a function.
    pub ty: Ty,
    pub params: &'static [Param],
}

impl Combinator {
    /// The boxed type a constructor builds (`None` for functions and odd results).
    pub fn type_name(&self) -> Option<&'static str> {
        match self.ty {
            Ty::Boxed(name) if !self.function => Some(name),
            _ => None,
        }
    }
}

/// One layer: indices into [`COMBINATORS`].
#[derive(Debug)]
pub struct LayerTable {
    pub layer: i32,
    pub combinators: &'static [u16],
}

/// The generated tables (see `tl_gen::layer_tables`).
#[allow(clippy::unreadable_literal)]
mod generated {
    use super::{Combinator, LayerTable, Param, Ty};
    include!(concat!(env!("OUT_DIR"), "/tables.rs"));
}

pub use generated::{COMBINATORS, LAYERS};

/// Lookups over one layer's combinators, built on first use.
#[derive(Debug)]
pub struct Schema {
    layer: i32,
    by_id: HashMap<u32, &'static Combinator>,
    by_name: HashMap<&'static str, &'static Combinator>,
    by_type: HashMap<&'static str, Vec<&'static Combinator>>,
}

impl Schema {
    fn build(table: &LayerTable) -> Self {
        let mut schema = Schema {
            layer: table.layer,
            by_id: HashMap::new(),
            by_name: HashMap::new(),
            by_type: HashMap::new(),
        };
        for &index in table.combinators {
            let Some(comb) = COMBINATORS.get(usize::from(index)) else {
                continue;
            };
            schema.by_id.insert(comb.id, comb);
            schema.by_name.insert(comb.name, comb);
            if let Some(ty) = comb.type_name() {
                schema.by_type.entry(ty).or_default().push(comb);
            }
        }
        schema
    }

    /// The layer number.
    pub fn layer(&self) -> i32 {
        self.layer
    }

    /// The combinator with this constructor id.
    pub fn by_id(&self, id: u32) -> Option<&'static Combinator> {
        self.by_id.get(&id).copied()
    }

    /// The combinator with this full name.
    pub fn by_name(&self, name: &str) -> Option<&'static Combinator> {
        self.by_name.get(name).copied()
    }

    /// The constructors of a boxed type, in schema order.
    pub fn constructors_of(&self, ty: &str) -> &[&'static Combinator] {
        self.by_type.get(ty).map_or(&[], Vec::as_slice)
    }
}

/// The layers pinned, ascending.
pub fn layers() -> impl Iterator<Item = i32> {
    LAYERS.iter().map(|table| table.layer)
}

/// The newest layer pinned (the one `tl-types` speaks).
pub fn newest() -> i32 {
    LAYERS.last().map_or(0, |table| table.layer)
}

/// The pinned layer that serves a client declaring `layer`: that layer if pinned, else the
/// nearest older one (Telegram answers a layer it skipped like the one before), else the
/// oldest for a layer older than all.
pub fn serving(layer: i32) -> i32 {
    let mut best = LAYERS.first().map_or(0, |table| table.layer);
    for table in &LAYERS {
        if table.layer <= layer {
            best = table.layer;
        }
    }
    best
}

/// The lookups of a pinned layer (`None` when `layer` is not pinned: see [`serving`]).
pub fn schema(layer: i32) -> Option<&'static Schema> {
    static BUILT: OnceLock<Vec<OnceLock<Schema>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| LAYERS.iter().map(|_| OnceLock::new()).collect());
    let position = LAYERS.iter().position(|table| table.layer == layer)?;
    let table = LAYERS.get(position)?;
    Some(built.get(position)?.get_or_init(|| Schema::build(table)))
}
