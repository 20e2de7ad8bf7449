//! The URL of a peer the node is a client of (an SU, a gateway, HyperBEAM): `http://` or
//! `https://`, a host, an optional port and an optional base path, checked when configured so
//! that a bad one fails at start, naming itself, not at the first request.

/// Where a peer listens: `http[s]://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Whether the connection is TLS.
    https: bool,
    /// `host:port` (the port filled in), for messages.
    authority: String,
    /// `scheme://host[:port]` as written, the front of every request URI.
    origin: String,
    /// Path prefix without the trailing slash (`""` for none).
    base: String,
    /// The URL as configured (without a trailing slash), for messages.
    text: String,
}

/// Why a configured URL cannot be used; each names the URL.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Another scheme, or none.
    #[error("`{0}` is not an http:// or https:// URL")]
    Scheme(String),
    /// No host, an empty one, or one with user information (`user@host`).
    #[error("`{0}`: no usable host in the URL")]
    NoHost(String),
    /// A `?query` or `#fragment`, which a base path cannot carry.
    #[error("`{0}`: a query or fragment cannot be a base path")]
    QueryOrFragment(String),
    /// A port that is not a number from 0 to 65535.
    #[error("`{url}`: port `{port}` is not a number")]
    Port {
        /// The URL.
        url: String,
        /// The port as written.
        port: String,
    },
    /// Not a URL at all (a space, a stray character, a broken bracket).
    #[error("`{url}` is not a valid URL: {source}")]
    Invalid {
        /// The URL.
        url: String,
        /// What the URI parser found.
        source: hyper::http::uri::InvalidUri,
    },
}

impl Url {
    /// Parse a configured URL (through `hyper::Uri`); the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let url = || text.to_string();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| UrlError::Scheme(url()))?;
        let (https, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (false, 80),
            "https" => (true, 443),
            _ => return Err(UrlError::Scheme(url())),
        };
        // `hyper::Uri` calls a URL without a host "invalid format"; say which part is missing.
        if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
            return Err(UrlError::NoHost(url()));
        }
        // The URI parser drops a fragment silently; refuse it as a query is refused.
        if text.contains('#') {
            return Err(UrlError::QueryOrFragment(url()));
        }
        let uri: hyper::Uri = text
            .parse()
            .map_err(|source| UrlError::Invalid { url: url(), source })?;
        let authority = uri
            .authority()
            .filter(|a| !a.host().is_empty() && !a.as_str().contains('@'))
            .ok_or_else(|| UrlError::NoHost(url()))?;
        if uri.query().is_some() {
            return Err(UrlError::QueryOrFragment(url()));
        }
        // The URI parser checks a port only when asked for it: check the text after the host.
        let port = match authority.as_str()[authority.host().len()..].strip_prefix(':') {
            None => default_port,
            Some(port) => port.parse::<u16>().map_err(|_| UrlError::Port {
                url: url(),
                port: port.to_string(),
            })?,
        };
        let scheme = if https { "https" } else { "http" };
        Ok(Url {
            https,
            authority: format!("{}:{port}", authority.host()),
            origin: format!("{scheme}://{}", authority.as_str()),
            base: uri.path().trim_end_matches('/').to_string(),
            text: text.trim_end_matches('/').to_string(),
        })
    }

    /// The URL as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `host:port`, the port filled in.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Whether it is an `https://` URL.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The request URI of `path_and_query` (starting with `/`) under this URL's base path.
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{}{path_and_query}", self.origin, self.base)
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_why_not() {
        let u = Url::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(u.authority(), "127.0.0.1:9000");
        assert_eq!(u.base, "");
        assert_eq!(u.as_str(), "http://127.0.0.1:9000");
        assert_eq!(u.join("/x?y=1"), "http://127.0.0.1:9000/x?y=1");
        let u = Url::parse("http://su.example/ao").unwrap();
        assert_eq!(u.authority(), "su.example:80");
        assert_eq!(u.join("/p"), "http://su.example/ao/p");
        let u = Url::parse("HTTPS://gw.example").unwrap();
        assert!(u.is_https());
        assert_eq!(u.authority(), "gw.example:443");
        assert_eq!(u.join("/raw/x"), "https://gw.example/raw/x");
        let u = Url::parse("http://su.example:8080/a/b//").unwrap();
        assert_eq!(
            (u.authority(), u.base.as_str()),
            ("su.example:8080", "/a/b")
        );
        let u = Url::parse("https://[::1]:81").unwrap();
        assert_eq!(u.authority(), "[::1]:81");
        assert_eq!(Url::parse("http://[::1]").unwrap().authority(), "[::1]:80");
        let err = Url::parse("su.example").unwrap_err();
        assert!(
            matches!(&err, UrlError::Scheme(u) if u == "su.example"),
            "{err}"
        );
        assert!(err.to_string().contains("https://"), "{err}");
        assert!(matches!(
            Url::parse("ftp://su.example"),
            Err(UrlError::Scheme(_))
        ));
        for no_host in ["http://", "http:///ao", "http://:80", "https://user@host"] {
            assert!(
                matches!(Url::parse(no_host), Err(UrlError::NoHost(_))),
                "{no_host}"
            );
        }
        for extra in ["http://host/a?b=1", "http://host/a#frag", "http://host?x"] {
            assert!(
                matches!(Url::parse(extra), Err(UrlError::QueryOrFragment(_))),
                "{extra}"
            );
        }
        for port in ["http://host:port", "http://host:", "https://host:65536"] {
            let err = Url::parse(port).unwrap_err();
            assert!(matches!(err, UrlError::Port { .. }), "{port}: {err}");
            assert!(err.to_string().contains("port"), "{err}");
        }
        assert!(matches!(
            Url::parse("http://ho st"),
            Err(UrlError::Invalid { .. })
        ));
    }
}
