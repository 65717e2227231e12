//! `--proxy URL`: a SOCKS5 URL (`socks5://[user:pass@]host:port`) or an MTProxy / SOCKS5
//! link as Telegram shares them (`tg://proxy?server=..&port=..&secret=..`,
//! `https://t.me/proxy?...`, `tg://socks?server=..&port=..&user=..&pass=..`).

use anyhow::{Context, Result, anyhow, bail};
use mtnet::{Address, Proxy, Socks5Proxy};
use mtproto::transport::ProxySecret;

/// Parses a proxy URL.
pub fn parse(url: &str) -> Result<Proxy> {
    let text = url.trim();
    let lower = text.to_ascii_lowercase();
    if let Some(rest) =
        strip(text, &lower, "socks5://").or_else(|| strip(text, &lower, "socks5h://"))
    {
        return socks5_url(rest);
    }
    let link = strip(text, &lower, "tg://")
        .or_else(|| {
            ["https://", "http://", ""].iter().find_map(|scheme| {
                ["t.me/", "telegram.me/", "www.t.me/"]
                    .iter()
                    .find_map(|host| strip(text, &lower, &format!("{scheme}{host}")))
            })
        })
        .ok_or_else(|| {
            // Only the scheme is echoed: the rest may hold a password or a secret.
            let scheme = text
                .split_once("://")
                .filter(|(scheme, _)| {
                    scheme.len() <= 16
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                })
                .map(|(scheme, _)| format!(" {scheme}://"))
                .unwrap_or_default();
            anyhow!(
                "unsupported proxy URL{scheme}: use socks5://[user:pass@]host:port or an \
                 MTProxy link (tg://proxy?server=..&port=..&secret=..)"
            )
        })?;
    let (kind, query) = link.split_once('?').unwrap_or((link, ""));
    let params = Query::parse(query)?;
    let server = params.required("server")?;
    let port = parse_port(params.required("port")?)?;
    let address = address(server, port)?;
    match kind.trim_end_matches('/').to_ascii_lowercase().as_str() {
        "proxy" => {
            let secret =
                ProxySecret::parse(params.required("secret")?).context("invalid MTProxy secret")?;
            Ok(Proxy::mtproxy(address, secret))
        }
        "socks" => Ok(Proxy::Socks5(
            match (params.get("user"), params.get("pass")) {
                (Some(user), Some(pass)) => Socks5Proxy::with_password(address, user, pass),
                _ => Socks5Proxy::new(address),
            },
        )),
        other => bail!("unsupported proxy link kind {other:?} (expected proxy or socks)"),
    }
}

/// `rest` after `prefix`, matched case-insensitively through `lower`.
fn strip<'a>(text: &'a str, lower: &str, prefix: &str) -> Option<&'a str> {
    lower
        .starts_with(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn socks5_url(rest: &str) -> Result<Proxy> {
    let rest = rest.trim_end_matches('/');
    let (credentials, host_port) = match rest.rsplit_once('@') {
        Some((credentials, host_port)) => {
            let (user, pass) = credentials.split_once(':').unwrap_or((credentials, ""));
            (
                Some((percent_decode(user)?, percent_decode(pass)?)),
                host_port,
            )
        }
        None => (None, rest),
    };
    let address: Address = host_port
        .parse()
        .map_err(|_| anyhow!("invalid SOCKS5 proxy address {host_port:?} (expected host:port)"))?;
    Ok(Proxy::Socks5(match credentials {
        Some((user, pass)) => Socks5Proxy::with_password(address, user, pass),
        None => Socks5Proxy::new(address),
    }))
}

fn parse_port(text: &str) -> Result<u16> {
    text.parse::<u16>()
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| anyhow!("invalid proxy port {text:?}"))
}

fn address(host: &str, port: u16) -> Result<Address> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(Address::Socket(std::net::SocketAddr::new(ip, port)));
    }
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !valid {
        bail!("invalid proxy host {host:?}");
    }
    Ok(Address::host(host, port))
}

/// A URL query's decoded `key=value` pairs.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Result<Self> {
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((percent_decode(key)?, percent_decode(value)?));
        }
        Ok(Self(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| anyhow!("the proxy link has no {key}="))
    }
}

/// Decodes `%XX` escapes and `+` (as space, the form encoding links use). Errors do not
/// quote `text`: it may be a password or an MTProxy secret.
fn percent_decode(text: &str) -> Result<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.bytes();
    while let Some(byte) = rest.next() {
        match byte {
            b'%' => {
                let hex = [rest.next(), rest.next()];
                let [Some(high), Some(low)] = hex else {
                    bail!("bad percent escape in the proxy URL");
                };
                let digit = |b: u8| char::from(b).to_digit(16);
                let (Some(high), Some(low)) = (digit(high), digit(low)) else {
                    bail!("bad percent escape in the proxy URL");
                };
                bytes.push((high * 16 + low) as u8);
            }
            b'+' => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("the proxy URL does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn socks5_urls_with_and_without_credentials() {
        let Proxy::Socks5(proxy) = parse("socks5://127.0.0.1:1080").unwrap() else {
            panic!()
        };
        assert_eq!(proxy.address, "127.0.0.1:1080".parse().unwrap());
        assert_eq!(proxy.credentials, None);
        let Proxy::Socks5(proxy) = parse("SOCKS5://us%40r:p%3Ass@proxy.example:9050/").unwrap()
        else {
            panic!()
        };
        assert_eq!(proxy.address, Address::host("proxy.example", 9050));
        assert_eq!(
            proxy.credentials,
            Some(("us@r".to_owned(), "p:ss".to_owned()))
        );
        assert!(parse("socks5://host").is_err());
    }

    #[test]
    fn mtproxy_links_in_both_forms() {
        let secret = "dd0123456789abcdef0123456789abcdef";
        for link in [
            format!("tg://proxy?server=1.2.3.4&port=443&secret={secret}"),
            format!("https://t.me/proxy?server=1.2.3.4&port=443&secret={secret}"),
        ] {
            let Proxy::MtProxy { address, secret } = parse(&link).unwrap() else {
                panic!("{link}")
            };
            assert_eq!(address, "1.2.3.4:443".parse().unwrap());
            assert!(matches!(secret, ProxySecret::Padded(_)));
        }
        let Proxy::Socks5(proxy) =
            parse("tg://socks?server=h.example&port=1080&user=a&pass=b").unwrap()
        else {
            panic!()
        };
        assert_eq!(proxy.credentials, Some(("a".into(), "b".into())));
    }

    #[test]
    fn bad_proxies_are_refused() {
        for bad in [
            "http://example.com:8080",
            "tg://proxy?server=1.2.3.4&port=443",
            "tg://proxy?server=1.2.3.4&port=0&secret=0123456789abcdef0123456789abcdef",
            "tg://proxy?server=1.2.3.4&port=1&secret=zz",
            "tg://proxy?server=%zz&port=1&secret=0123456789abcdef0123456789abcdef",
            "tg://resolve?domain=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_do_not_quote_passwords_or_secrets() {
        for (bad, secret) in [
            ("sock5://user:hunter2@h.example:1080", "hunter2"),
            ("user:hunter2@h.example://1080", "hunter2"),
            ("socks5://user:hunter2%zz@h.example:1080", "hunter2"),
            ("socks5://user:hunter2%ff@h.example:1080", "hunter2"),
            (
                "tg://socks?server=h&port=1&user=u&pass=hunter2%z",
                "hunter2",
            ),
            (
                "tg://proxy?server=h&port=1&secret=dd0123456789abcdef%zz",
                "0123456789abcdef",
            ),
            (
                "mtproxy:dd0123456789abcdef0123456789abcdef",
                "0123456789abcdef",
            ),
        ] {
            let error = format!("{:#}", parse(bad).unwrap_err());
            assert!(!error.contains(secret), "{bad}: {error}");
        }
        let error = format!("{:#}", parse("sock5://u:p@h:1").unwrap_err());
        assert!(error.contains("sock5://"), "{error}");
    }
}
