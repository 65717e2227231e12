//! Constructor ids: the CRC32 of a combinator's normalized declaration.

use std::fmt::Write as _;

use crate::ast::{Definition, ParameterType, TypeRef};

/// The normalized text of a declaration whose CRC32 is its id: no id, no `flags.N?true`
/// fields, a field or result of type `bytes` written as `string` (but not inside a vector:
/// `Vector<bytes>` stays `Vector bytes`), and generics written without `<>`/`{}`.
pub fn normalized(definition: &Definition) -> String {
    let mut out = definition.full_name();
    for generic in &definition.generics {
        out.push(' ');
        out.push_str(generic);
        out.push_str(":Type");
    }
    for param in &definition.params {
        match &param.ty {
            ParameterType::Flags => {
                out.push(' ');
                out.push_str(&param.name);
                out.push_str(":#");
            }
            ParameterType::Normal { ty, flag } => {
                if flag.is_some() && ty.name == "true" {
                    continue;
                }
                out.push(' ');
                out.push_str(&param.name);
                out.push(':');
                if let Some(flag) = flag {
                    let _ = write!(out, "{}.{}?", flag.name, flag.index);
                }
                write_type(&mut out, ty, true);
            }
        }
    }
    out.push_str(" = ");
    write_type(&mut out, &definition.ty, true);
    out
}

fn write_type(out: &mut String, ty: &TypeRef, top_level: bool) {
    if ty.generic_ref {
        out.push('!');
    }
    let name = ty.full_name();
    out.push_str(if top_level && name == "bytes" {
        "string"
    } else {
        &name
    });
    if let Some(arg) = &ty.generic_arg {
        out.push(' ');
        write_type(out, arg, false);
    }
}

/// CRC32 of [`normalized`].
pub fn compute(definition: &Definition) -> u32 {
    crc32fast::hash(normalized(definition).as_bytes())
}
