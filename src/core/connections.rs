//! Connections: S3 endpoints with their settings and where their credentials come from.
//! A secret access key given here goes to the keyring, never to the registry.

use super::keystore::SecretId;
use super::presets::Provider;
use super::registry::{ChecksumMode, ConnectionRecord, CredentialSource};
use super::{Error, Home, Result};

/// What a user asks for when adding a connection; `record` applies a provider's preset
/// under the settings given explicitly.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub name: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub provider: Option<Provider>,
    /// For providers whose endpoint contains it (Cloudflare R2).
    pub account: Option<String>,
    pub path_style: bool,
    /// An AWS profile to take credentials from.
    pub profile: Option<String>,
    /// An access key id whose secret is kept in the keyring.
    pub access_key_id: Option<String>,
    pub checksums: Option<ChecksumMode>,
    pub allow_plain_http: bool,
    /// A PEM file of the private CA that signed the endpoint's certificate.
    pub ca_bundle: Option<std::path::PathBuf>,
}

impl NewConnection {
    /// The connection record (not yet stored).
    pub fn record(&self) -> Result<ConnectionRecord> {
        let base = match self.provider {
            Some(p) => p
                .connection(
                    &self.name,
                    self.region.as_deref(),
                    self.endpoint.as_deref(),
                    self.account.as_deref(),
                )
                .map_err(Error::Refused)?,
            None => ConnectionRecord::new(
                &self.name,
                self.endpoint.as_deref(),
                self.region.as_deref().unwrap_or("us-east-1"),
            ),
        };
        let credential_source = match (&self.profile, &self.access_key_id) {
            (Some(_), _) => CredentialSource::Profile,
            (None, Some(_)) => CredentialSource::Keyring,
            (None, None) => CredentialSource::AwsChain,
        };
        Ok(ConnectionRecord {
            path_style: self.path_style || base.path_style,
            credential_source,
            profile: self.profile.clone(),
            access_key_id: self.access_key_id.clone(),
            checksum_mode: self.checksums.unwrap_or(base.checksum_mode),
            allow_plain_http: self.allow_plain_http,
            ca_bundle: self
                .ca_bundle
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            ..base
        })
    }
}

impl Home {
    /// Adds a connection; a given secret access key goes to the keyring, never to the
    /// registry. The name is taken in the registry first, so a connection added by another
    /// process at the same moment is refused here before its secret could be overwritten.
    pub fn add_connection(
        &self,
        mut conn: ConnectionRecord,
        secret_access_key: Option<&str>,
    ) -> Result<ConnectionRecord> {
        check_endpoint(conn.endpoint.as_deref())?;
        super::preflight::check_transport(&conn)?;
        check_ca_bundle(&mut conn)?;
        conn.endpoint = conn.endpoint.map(|e| e.trim_end_matches('/').to_string());
        let secret = match (conn.credential_source, secret_access_key) {
            (CredentialSource::Keyring, None) => {
                return Err(Error::Refused(format!(
                    "connection \"{}\" keeps its credentials in the keyring: give its secret \
                     access key too",
                    conn.name
                )));
            }
            (CredentialSource::Keyring, Some(s)) => Some(s),
            _ => None,
        };
        let record = self.registry.add_connection(&conn)?;
        if let Some(secret) = secret {
            let id = SecretId::S3Secret {
                connection: conn.name.clone(),
            };
            if let Err(e) = self
                .secrets()
                .and_then(|s| Ok(s.put(&id, secret.as_bytes())?))
            {
                self.registry.forget_new_connection(&conn.name)?;
                return Err(e);
            }
        }
        self.registry
            .log_event("connection_added", None, None, &record.name)?;
        Ok(record)
    }

    /// Saves new settings for an existing connection; a given secret replaces the stored one.
    pub fn update_connection(
        &self,
        mut conn: ConnectionRecord,
        secret_access_key: Option<&str>,
    ) -> Result<()> {
        let old = self.resolve_connection(Some(&conn.name))?;
        check_endpoint(conn.endpoint.as_deref())?;
        super::preflight::check_transport(&conn)?;
        check_ca_bundle(&mut conn)?;
        let id = SecretId::S3Secret {
            connection: conn.name.clone(),
        };
        match (conn.credential_source, secret_access_key) {
            (CredentialSource::Keyring, Some(secret)) => {
                self.secrets()?.put(&id, secret.as_bytes())?
            }
            (CredentialSource::Keyring, None) => {}
            _ if old.credential_source == CredentialSource::Keyring => {
                self.secrets()?.delete(&id)?
            }
            _ => {}
        }
        self.registry.update_connection(&conn)?;
        self.registry
            .log_event("connection_changed", None, None, &conn.name)?;
        Ok(())
    }

    /// Forgets a connection and its stored secret; refused while registered objects live on it.
    pub fn remove_connection(&self, name: &str) -> Result<()> {
        let conn = self.resolve_connection(Some(name))?;
        let live = self.registry.remove_connection(&conn.name)?;
        if live > 0 {
            return Err(Error::Refused(format!(
                "connection \"{name}\" still holds {live} registered object(s); removing it \
                 would lose where they are"
            )));
        }
        if conn.credential_source == CredentialSource::Keyring
            && let Ok(s) = self.secrets()
        {
            s.delete(&SecretId::S3Secret {
                connection: conn.name.clone(),
            })?;
        }
        self.registry
            .log_event("connection_removed", None, None, name)?;
        Ok(())
    }

    /// The named connection, or the only one when no name is given.
    pub fn resolve_connection(&self, name: Option<&str>) -> Result<ConnectionRecord> {
        let all = self.registry.connections()?;
        let names = || {
            all.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => {
                all.iter()
                    .find(|c| c.name == n)
                    .cloned()
                    .ok_or_else(|| Error::UnknownConnection {
                        name: n.into(),
                        known: if all.is_empty() {
                            "none".into()
                        } else {
                            names()
                        },
                    })
            }
            None => match all.len() {
                0 => Err(Error::NoConnection),
                1 => Ok(all[0].clone()),
                _ => Err(Error::AmbiguousConnection(names())),
            },
        }
    }

    /// Whether a connection works: the buckets its credentials can see.
    pub async fn list_buckets(&self, name: &str) -> Result<Vec<String>> {
        let conn = self.resolve_connection(Some(name))?;
        super::bucket::list_buckets(self, &conn).await
    }
}

/// A connection's CA bundle must be a readable PEM file; it is kept as an absolute path (a
/// relative one would change meaning with the working directory).
fn check_ca_bundle(conn: &mut ConnectionRecord) -> Result<()> {
    let Some(path) = conn.ca_bundle.as_deref().filter(|p| !p.is_empty()) else {
        conn.ca_bundle = None;
        return Ok(());
    };
    let bundle = super::tls::CaBundle {
        path: std::path::PathBuf::from(path),
        origin: super::tls::CaOrigin::Connection,
    };
    super::tls::read_bundle(&bundle).map_err(Error::Refused)?;
    let absolute = std::fs::canonicalize(path)
        .map_err(|e| Error::io(path, "cannot resolve the CA bundle's path", e))?;
    conn.ca_bundle = Some(absolute.to_string_lossy().into_owned());
    Ok(())
}

fn check_endpoint(endpoint: Option<&str>) -> Result<()> {
    if let Some(endpoint) = endpoint {
        let ok = (endpoint.starts_with("http://") || endpoint.starts_with("https://"))
            && endpoint.split("://").nth(1).is_some_and(|h| !h.is_empty());
        if !ok {
            return Err(Error::BadEndpoint(endpoint.to_string()));
        }
    }
    Ok(())
}
