//! TL schema parser: comments, `---types---`/`---functions---` sections, explicit ids,
//! generics, flags and conditional fields, namespaces, bare and boxed type references.

use crate::ast::{Category, Definition, Flag, Parameter, ParameterType, Schema, TypeRef};
use crate::error::ParseError;
use crate::id;

/// Parses a whole schema file. Every error names its line and column.
pub fn parse(source: &str) -> Result<Schema, ParseError> {
    let tokens = tokenize(source)?;
    let mut definitions = Vec::new();
    let mut category = Category::Type;
    let mut statement: Vec<Token<'_>> = Vec::new();
    for token in tokens {
        match token.text {
            ";" => {
                if statement.is_empty() {
                    return Err(token.error("empty declaration before `;`"));
                }
                definitions.push(parse_definition(&statement, category)?);
                statement.clear();
            }
            section if section.starts_with("---") => {
                if let Some(first) = statement.first() {
                    return Err(first.error("declaration is missing its closing `;`"));
                }
                category = match section {
                    "---types---" => Category::Type,
                    "---functions---" => Category::Function,
                    _ => return Err(token.error(format!("unknown section marker `{section}`"))),
                };
            }
            _ => statement.push(token),
        }
    }
    if let Some(first) = statement.first() {
        return Err(first.error("declaration is missing its closing `;`"));
    }
    Ok(Schema {
        definitions,
        layer: find_layer(source),
    })
}

/// `// LAYER 229`, conventionally the last line of `api.tl`.
fn find_layer(source: &str) -> Option<i32> {
    source.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("//")?.trim();
        rest.strip_prefix("LAYER")?.trim().parse().ok()
    })
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    line: usize,
    column: usize,
}

impl Token<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

/// Splits the source into tokens, dropping `//` and `/* */` comments. `;`, `=`, `{` and `}`
/// are tokens of their own even when not surrounded by spaces.
fn tokenize(source: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut line_start = 0;
    let mut chars = source.char_indices().peekable();
    let mut current: Option<(usize, usize, usize)> = None; // (start byte, line, column)
    let column_of = |pos: usize, line_start: usize| source[line_start..pos].chars().count() + 1;

    let flush = |current: &mut Option<(usize, usize, usize)>, end: usize, tokens: &mut Vec<_>| {
        if let Some((start, l, c)) = current.take() {
            tokens.push(Token {
                text: &source[start..end],
                line: l,
                column: c,
            });
        }
    };

    while let Some((pos, ch)) = chars.next() {
        match ch {
            '/' if matches!(chars.peek(), Some((_, '/'))) => {
                flush(&mut current, pos, &mut tokens);
                for (p, c) in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        line_start = p + 1;
                        break;
                    }
                }
            }
            '/' if matches!(chars.peek(), Some((_, '*'))) => {
                flush(&mut current, pos, &mut tokens);
                let (open_line, open_column) = (line, column_of(pos, line_start));
                chars.next();
                let mut closed = false;
                let mut previous = ' ';
                for (p, c) in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        line_start = p + 1;
                    }
                    if previous == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    previous = c;
                }
                if !closed {
                    return Err(ParseError {
                        line: open_line,
                        column: open_column,
                        message: "unterminated `/*` comment".into(),
                    });
                }
            }
            ';' | '=' | '{' | '}' => {
                flush(&mut current, pos, &mut tokens);
                tokens.push(Token {
                    text: &source[pos..=pos],
                    line,
                    column: column_of(pos, line_start),
                });
            }
            c if c.is_whitespace() => {
                flush(&mut current, pos, &mut tokens);
                if c == '\n' {
                    line += 1;
                    line_start = pos + 1;
                }
            }
            _ => {
                if current.is_none() {
                    current = Some((pos, line, column_of(pos, line_start)));
                }
            }
        }
    }
    flush(&mut current, source.len(), &mut tokens);
    Ok(tokens)
}

fn parse_definition(tokens: &[Token<'_>], category: Category) -> Result<Definition, ParseError> {
    let (head, rest) = tokens.split_first().ok_or_else(|| ParseError {
        line: 0,
        column: 0,
        message: "empty declaration".into(),
    })?;
    let (full_name, explicit_id) = match head.text.split_once('#') {
        Some((name, hex)) => {
            let id = u32::from_str_radix(hex, 16)
                .ok()
                .filter(|_| !hex.is_empty() && hex.len() <= 8)
                .ok_or_else(|| {
                    head.error(format!("`{hex}` is not a hexadecimal constructor id"))
                })?;
            (name, Some(id))
        }
        None => (head.text, None),
    };
    let (namespace, name) = split_name(full_name, head)?;

    let mut generics = Vec::new();
    let mut params = Vec::new();
    let mut iter = rest.iter().enumerate();
    let mut result_tokens: &[Token<'_>] = &[];
    while let Some((index, token)) = iter.next() {
        match token.text {
            "{" => {
                let (_, inner) = iter
                    .next()
                    .ok_or_else(|| token.error("`{` must be followed by `X:Type}`"))?;
                let (_, close) = iter.next().ok_or_else(|| token.error("unclosed `{`"))?;
                if close.text != "}" {
                    return Err(close.error("expected `}` after a generic parameter"));
                }
                match inner.text.split_once(':') {
                    Some((generic, "Type")) if is_identifier(generic) => {
                        generics.push(generic.to_owned());
                    }
                    _ => return Err(inner.error("generic parameters must read `{X:Type}`")),
                }
            }
            "=" => {
                result_tokens = rest.get(index + 1..).unwrap_or_default();
                break;
            }
            _ => params.push(parse_parameter(token, &params, &generics)?),
        }
    }
    let Some((result, result_args)) = result_tokens.split_first() else {
        return Err(head.error("declaration has no `= ResultType`"));
    };
    let mut ty = parse_type(result.text, result, &generics)?;
    // `= Vector t`: a generic result written with a space instead of angle brackets.
    if let Some(arg) = result_args.first() {
        if ty.generic_arg.is_some() || result_args.len() > 1 {
            return Err(arg.error("unexpected token after the result type"));
        }
        ty.generic_arg = Some(Box::new(parse_type(arg.text, arg, &generics)?));
    }
    if ty.generic_ref || ty.name == "#" {
        return Err(result.error("result type cannot be `!X` or `#`"));
    }

    let mut definition = Definition {
        namespace,
        name,
        explicit_id,
        id: 0,
        generics,
        params,
        ty,
        category,
        line: head.line,
    };
    definition.id = explicit_id.unwrap_or_else(|| id::compute(&definition));
    Ok(definition)
}

fn parse_parameter(
    token: &Token<'_>,
    earlier: &[Parameter],
    generics: &[String],
) -> Result<Parameter, ParseError> {
    let Some((name, ty_text)) = token.text.split_once(':') else {
        return Err(token.error(format!(
            "expected `name:Type`, found `{}` (anonymous and repeated parameters are not supported)",
            token.text
        )));
    };
    if !is_identifier(name) {
        return Err(token.error(format!("`{name}` is not a valid parameter name")));
    }
    if ty_text == "#" {
        return Ok(Parameter {
            name: name.to_owned(),
            ty: ParameterType::Flags,
        });
    }
    let (flag, ty_text) = match ty_text.split_once('?') {
        Some((condition, ty_text)) => {
            let (flag_name, index) = condition
                .split_once('.')
                .ok_or_else(|| token.error("a condition must read `flags.N?Type`"))?;
            let index: u32 = index
                .parse()
                .ok()
                .filter(|bit| *bit < 32)
                .ok_or_else(|| token.error(format!("flag bit `{index}` is not in 0..32")))?;
            let declared = earlier
                .iter()
                .any(|p| p.name == flag_name && p.ty == ParameterType::Flags);
            if !declared {
                return Err(token.error(format!(
                    "condition refers to `{flag_name}`, which is not an earlier `{flag_name}:#` field"
                )));
            }
            (
                Some(Flag {
                    name: flag_name.to_owned(),
                    index,
                }),
                ty_text,
            )
        }
        None => (None, ty_text),
    };
    let ty = parse_type(ty_text, token, generics)?;
    if ty.name == "true" && flag.is_none() {
        return Err(token.error("`true` is only meaningful behind a flag (`flags.N?true`)"));
    }
    Ok(Parameter {
        name: name.to_owned(),
        ty: ParameterType::Normal { ty, flag },
    })
}

fn parse_type(text: &str, token: &Token<'_>, generics: &[String]) -> Result<TypeRef, ParseError> {
    if let Some(generic) = text.strip_prefix('!') {
        if !generics.iter().any(|g| g == generic) {
            return Err(token.error(format!(
                "`!{generic}` names no declared `{{{generic}:Type}}`"
            )));
        }
        return Ok(TypeRef {
            namespace: Vec::new(),
            name: generic.to_owned(),
            bare: false,
            generic_ref: true,
            generic_arg: None,
        });
    }
    let (explicitly_bare, text) = match text.strip_prefix('%') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (outer, generic_arg) = match text.split_once('<') {
        Some((outer, inner)) => {
            let inner = inner
                .strip_suffix('>')
                .ok_or_else(|| token.error(format!("`{text}` has an unclosed `<`")))?;
            (outer, Some(Box::new(parse_type(inner, token, generics)?)))
        }
        None => (text, None),
    };
    let (namespace, name) = split_name(outer, token)?;
    let bare = explicitly_bare || name.starts_with(|c: char| c.is_ascii_lowercase()) || name == "#";
    Ok(TypeRef {
        namespace,
        name,
        bare,
        generic_ref: false,
        generic_arg,
    })
}

fn split_name(full: &str, token: &Token<'_>) -> Result<(Vec<String>, String), ParseError> {
    if full == "#" {
        return Ok((Vec::new(), full.to_owned()));
    }
    let mut parts: Vec<String> = full.split('.').map(str::to_owned).collect();
    let name = parts.pop().unwrap_or_default();
    if !is_identifier(&name) || !parts.iter().all(|p| is_identifier(p)) {
        return Err(token.error(format!("`{full}` is not a valid name")));
    }
    Ok((parts, name))
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_generics_and_namespaces() {
        let schema = parse(
            "// c\n---types---\nfoo.bar#0000abcd flags:# a:flags.0?true b:flags2.3?Vector<int> = foo.Bar;\n\
             ---functions---\ninvoke#da9b0d0d {X:Type} layer:int query:!X = X;\n",
        );
        // flags2 is not declared, so the first definition must fail with its position.
        let err = schema.unwrap_err();
        assert_eq!((err.line, err.column), (3, 41));

        let schema = parse(
            "foo.bar#0000abcd flags:# a:flags.0?true b:flags.3?Vector<%int> = foo.Bar;\n\
             ---functions---\ninvoke#da9b0d0d {X:Type} layer:int query:!X = X;\n// LAYER 7\n",
        )
        .unwrap();
        assert_eq!(schema.layer, Some(7));
        let [foo, invoke] = schema.definitions.as_slice() else {
            panic!("two definitions expected")
        };
        assert_eq!(foo.namespace, vec!["foo"]);
        assert_eq!(foo.id, 0xabcd);
        assert_eq!(foo.category, Category::Type);
        let ParameterType::Normal { ty, flag } = &foo.params[2].ty else {
            panic!()
        };
        assert_eq!(flag.as_ref().unwrap().index, 3);
        assert_eq!(ty.name, "Vector");
        assert!(ty.generic_arg.as_ref().unwrap().bare);
        assert_eq!(invoke.category, Category::Function);
        assert_eq!(invoke.generics, vec!["X"]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            ("a#zz = A;", (1, 1), "hexadecimal"),
            ("a#1 x:int\n  = A", (1, 1), "closing"),
            ("a#1 x = A;", (1, 5), "name:Type"),
            ("a#1 x:flags.1?int = A;", (1, 5), "flags"),
            ("a#1 q:!X = A;", (1, 5), "!X"),
            ("---bogus---", (1, 1), "section"),
            ("a#1 x:int;", (1, 1), "ResultType"),
            ("\n  /* open", (2, 3), "unterminated"),
            ("a#1 x:Vector<int = A;", (1, 5), "unclosed"),
        ];
        for (source, (line, column), needle) in cases {
            let err = parse(source).unwrap_err();
            assert_eq!((err.line, err.column), (line, column), "{source}: {err}");
            assert!(err.message.contains(needle), "{source}: {err}");
        }
    }
}
