//! Rust names for TL names.

/// `inputPeerUser` -> `InputPeerUser`, `req_DH_params` -> `ReqDHParams`.
pub fn type_name(tl: &str) -> String {
    let mut out = String::with_capacity(tl.len());
    for part in tl.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// `peer_id`, `srp_B` -> `srp_b`, `A` -> `a`, `showPreviews` -> `show_previews`; keywords
/// become raw identifiers (`r#type`), and those that cannot be raw get a trailing `_`.
pub fn field_name(tl: &str) -> String {
    let mut out = String::with_capacity(tl.len() + 4);
    let mut previous_lower = false;
    for c in tl.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    escape_keyword(out)
}

/// Module names for namespaces (`messages`, `auth`) follow the field rules.
pub fn module_name(tl: &str) -> String {
    field_name(tl)
}

/// `get_history`-style snake case for function names built from a type name.
pub fn snake_from_type(tl: &str) -> String {
    let mut out = String::new();
    for (i, c) in type_name(tl).chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

const UNRAWABLE: &[&str] = &["self", "Self", "super", "crate", "extern", "_"];
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "false", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try",
    "typeof", "unsized", "virtual", "yield",
];

fn escape_keyword(name: String) -> String {
    if UNRAWABLE.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

/// The enum variant for constructor `ctor` of boxed type `ty`: the type's name is dropped
/// from the front when that leaves a valid name (`inputPeerUser` of `InputPeer` -> `User`).
pub fn variant_name(ctor: &str, ty: &str) -> String {
    let full = type_name(ctor);
    let prefix = type_name(ty);
    match full.strip_prefix(prefix.as_str()) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) && rest != "Self" => {
            rest.to_owned()
        }
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(type_name("inputPeerUser"), "InputPeerUser");
        assert_eq!(type_name("req_DH_params"), "ReqDHParams");
        assert_eq!(type_name("p_q_inner_data_dc"), "PQInnerDataDc");
        assert_eq!(field_name("srp_B"), "srp_b");
        assert_eq!(field_name("A"), "a");
        assert_eq!(field_name("M1"), "m1");
        assert_eq!(field_name("type"), "r#type");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(variant_name("inputPeerUser", "InputPeer"), "User");
        assert_eq!(variant_name("message", "Message"), "Message");
        assert_eq!(variant_name("inputPeerSelf", "InputPeer"), "InputPeerSelf");
        assert_eq!(variant_name("updateShort", "Updates"), "UpdateShort");
        assert_eq!(snake_from_type("InputPeer"), "input_peer");
    }
}
