//! TLS as the aws CLI does it: a private CA comes from the connection's `--ca-bundle`, else
//! `AWS_CA_BUNDLE`, else the profile's `ca_bundle`; without one, the system's roots. A bundle
//! replaces the system roots (as in the aws CLI). There is no way to accept any certificate:
//! the SSE-C key travels inside this connection.
//!
//! Every client's connector also names the host of a failed connection, so that a refused
//! certificate is reported with the host and the fix (`handshake_failure`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;

use super::registry::{ConnectionRecord, CredentialSource};

/// Where a connection's CA bundle was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaOrigin {
    /// The connection's own `--ca-bundle`.
    Connection,
    /// The `AWS_CA_BUNDLE` environment variable.
    Env,
    /// `ca_bundle` in this AWS profile.
    Profile(String),
}

impl std::fmt::Display for CaOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaOrigin::Connection => write!(f, "the connection's --ca-bundle"),
            CaOrigin::Env => write!(f, "AWS_CA_BUNDLE"),
            CaOrigin::Profile(p) => write!(f, "ca_bundle of AWS profile \"{p}\""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaBundle {
    pub path: PathBuf,
    pub origin: CaOrigin,
}

/// The CA bundle a connection uses, in the aws CLI's order: its own, then `AWS_CA_BUNDLE`,
/// then `ca_bundle` in its AWS profile (its `--profile`, else AWS_PROFILE, else "default").
pub async fn ca_bundle(conn: &ConnectionRecord) -> Option<CaBundle> {
    if let Some(path) = &conn.ca_bundle {
        return Some(CaBundle {
            path: PathBuf::from(path),
            origin: CaOrigin::Connection,
        });
    }
    if let Some(path) = std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) {
        return Some(CaBundle {
            path: PathBuf::from(path),
            origin: CaOrigin::Env,
        });
    }
    let profile = match conn.credential_source {
        CredentialSource::Profile => conn.profile.clone(),
        _ => None,
    };
    profile_ca_bundle(profile).await
}

/// `ca_bundle` of an AWS profile, read by the SDK's own parser of ~/.aws/config.
async fn profile_ca_bundle(profile: Option<String>) -> Option<CaBundle> {
    use aws_types::os_shim_internal::{Env, Fs};
    let set = aws_config::profile::parser::load(
        &Fs::real(),
        &Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        profile.map(std::borrow::Cow::Owned),
    )
    .await
    .ok()?;
    let name = set.selected_profile().to_string();
    let path = set.get_profile(&name)?.get("ca_bundle")?;
    Some(CaBundle {
        path: expand_home(path),
        origin: CaOrigin::Profile(name),
    })
}

/// `~/x` as the aws CLI reads it in a profile.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The PEM certificates of a bundle, checked: readable, and at least one certificate.
pub fn read_bundle(bundle: &CaBundle) -> Result<Vec<u8>, String> {
    let shown = bundle.path.display();
    let pem = std::fs::read(&bundle.path).map_err(|e| {
        format!(
            "the CA bundle {shown} (from {}) cannot be read: {e}; give a readable PEM file",
            bundle.origin
        )
    })?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "the CA bundle {shown} (from {}) holds no PEM certificate (\"-----BEGIN \
             CERTIFICATE-----\"); give the CA's certificate in PEM form",
            bundle.origin
        ));
    }
    Ok(pem)
}

/// The HTTP client of a connection: trusting its CA bundle if it has one, else the system's
/// roots. Clients are shared per trust store, so connections reuse their pools.
pub async fn http_client(conn: &ConnectionRecord) -> Result<SharedHttpClient, String> {
    let pem = match ca_bundle(conn).await {
        Some(bundle) => Some(read_bundle(&bundle)?),
        None => None,
    };
    // Per trust store and per runtime: a pooled connection's dispatch task lives on the
    // runtime that opened it, and fails once that runtime is gone ("runtime dropped the
    // dispatch task"), so another runtime never reuses it.
    type Clients = HashMap<(Option<Vec<u8>>, Option<String>), SharedHttpClient>;
    static CLIENTS: OnceLock<Mutex<Clients>> = OnceLock::new();
    let runtime = tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.id().to_string());
    let inner = {
        let mut clients = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let slot = (pem, runtime);
        match clients.get(&slot) {
            Some(client) => client.clone(),
            None => {
                let client = hyper_client(slot.0.as_deref())?;
                clients.insert(slot, client.clone());
                client
            }
        }
    };
    let connection = conn.name.clone();
    Ok(http_client_fn(move |settings, components| {
        use aws_smithy_runtime_api::client::http::HttpClient as _;
        SharedHttpConnector::new(NamingHost {
            inner: inner.http_connector(settings, components),
            connection: connection.clone(),
        })
    }))
}

/// An https client trusting `pem`'s certificates only, or the system's roots.
fn hyper_client(pem: Option<&[u8]>) -> Result<SharedHttpClient, String> {
    let trust = match pem {
        Some(pem) => TrustStore::empty().with_pem_certificate(pem.to_vec()),
        None => TrustStore::default(),
    };
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| format!("the CA bundle cannot be used: {e}"))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// A connector whose connection failures name the host and the connection they were for.
#[derive(Debug)]
struct NamingHost {
    inner: SharedHttpConnector,
    connection: String,
}

impl HttpConnector for NamingHost {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let host = authority(request.uri());
        let connection = self.connection.clone();
        let sent = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            sent.await.map_err(|e| {
                if e.is_io() || e.is_other() {
                    let failed = ConnectFailed {
                        host,
                        connection,
                        source: e,
                    };
                    ConnectorError::io(Box::new(failed))
                } else {
                    e
                }
            })
        })
    }
}

/// The host[:port] of a URI.
fn authority(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = &rest[..end];
    host.rsplit_once('@').map_or(host, |(_, h)| h).to_string()
}

/// A failed connection to `host` (host:port).
#[derive(Debug)]
struct ConnectFailed {
    host: String,
    connection: String,
    source: ConnectorError,
}

impl std::fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection to {} failed", self.host)
    }
}

impl std::error::Error for ConnectFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// What went wrong in a failed TLS handshake, with the host and the fix; None when the
/// failure was not about TLS.
pub fn handshake_failure(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let (mut host, mut connection) = (None, None);
    let mut text = String::new();
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(c) = e.downcast_ref::<ConnectFailed>() {
            host = Some(c.host.clone());
            connection = Some(c.connection.clone());
        }
        text.push_str(&e.to_string());
        text.push('\n');
        current = e.source();
    }
    let host = host.unwrap_or_else(|| "the server".into());
    let connection = connection.unwrap_or_else(|| "NAME".into());
    let lower = text.to_ascii_lowercase();
    let reason = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        return Some(format!(
            "the TLS certificate of {host} is not made out for that name ({reason}); use the \
             host name the certificate names in the connection's endpoint"
        ));
    }
    if lower.contains("certificate") {
        return Some(format!(
            "the TLS certificate of {host} is not trusted ({reason}). If the server's \
             certificate comes from a private CA, give that CA's certificate (PEM): \
             `ssec-manager connection edit {connection} --ca-bundle FILE`, or AWS_CA_BUNDLE, or \
             ca_bundle in the AWS profile. There is no switch that skips this check: the \
             SSE-C key travels in this connection"
        ));
    }
    if lower.contains("invalidcontenttype")
        || lower.contains("corrupt message")
        || lower.contains("wrong version number")
        || lower.contains("invalidmessage")
    {
        return Some(format!(
            "{host} does not answer TLS on that port ({reason}); check the endpoint's scheme \
             (https://) and port"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Leaf(&'static str);
    impl std::fmt::Display for Leaf {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Leaf {}

    fn failed(host: &str, leaf: &'static str) -> ConnectFailed {
        ConnectFailed {
            host: host.into(),
            connection: "nas".into(),
            source: ConnectorError::io(Box::new(Leaf(leaf))),
        }
    }

    #[test]
    fn an_untrusted_certificate_names_the_host_and_the_fix() {
        let e = failed("127.0.0.1:8443", "invalid peer certificate: UnknownIssuer");
        let m = handshake_failure(&e).unwrap();
        assert!(m.contains("127.0.0.1:8443"), "{m}");
        assert!(m.contains("connection edit nas --ca-bundle"), "{m}");
        assert!(m.contains("UnknownIssuer"), "{m}");
        let e = failed(
            "s3.example:443",
            "invalid peer certificate: NotValidForName",
        );
        assert!(handshake_failure(&e).unwrap().contains("not made out"));
        let e = failed("h:80", "Connection refused (os error 111)");
        assert_eq!(handshake_failure(&e), None);
    }

    #[test]
    fn the_authority_of_a_uri() {
        assert_eq!(
            authority("https://127.0.0.1:8443/b/k?x=1"),
            "127.0.0.1:8443"
        );
        assert_eq!(
            authority("https://bucket.s3.example.com"),
            "bucket.s3.example.com"
        );
        assert_eq!(authority("http://u@h:1/"), "h:1");
    }

    #[test]
    fn profile_paths_expand_home() {
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(expand_home("~/ca.pem"), PathBuf::from(&home).join("ca.pem"));
        }
        assert_eq!(expand_home("/etc/ca.pem"), PathBuf::from("/etc/ca.pem"));
    }
}
