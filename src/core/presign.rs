//! Presigned recipes: a presigned GET or PUT of an SSE-C object, and the exact curl command
//! that sends it. The three SSE-C headers are signed into the URL's signature but are not in
//! the URL: whoever uses it must still send them, with the key. The recipe reads the key
//! from `$SSE_KEY`/`$SSE_MD5` (the seed's variables, what `key env` prints), so neither the
//! URL nor the printed command ever holds key material.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use super::location::S3Url;
use super::s3::{Op, WithSse as _, client_for, sdk_error};
use super::{Error, Home, Result};

/// SigV4's limit for a presigned URL.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses "90s", "15m", "1h", "7d" or plain seconds.
pub fn parse_expiry(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration; write it as 90s, 15m, 1h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("\"{text}\": the unit must be s, m, h or d")),
    };
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_EXPIRY {
        return Err(format!(
            "\"{text}\": a presigned URL lives between 1 second and 7 days (S3's limit)"
        ));
    }
    Ok(d)
}

/// A presigned request with what the recipe needs, and no key material.
#[derive(Debug, Clone)]
pub struct Presigned {
    /// "GET" or "PUT".
    pub method: String,
    pub url: String,
    pub object: S3Url,
    pub key_label: String,
    pub key_fingerprint: String,
    /// When the URL stops working (UTC, RFC 3339).
    pub expires_at: String,
    /// Signed headers other than the three SSE-C ones, which curl must send as they are.
    pub other_headers: Vec<(String, String)>,
    /// The connection's private CA, for curl's --cacert.
    pub ca_bundle: Option<String>,
}

/// Quotes a word for a POSIX shell.
fn sh(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Presigned {
    /// The curl command: the SSE-C headers from `$SSE_KEY`/`$SSE_MD5`, the other signed
    /// headers verbatim; a GET saves to the object's name, a PUT sends `file`.
    pub fn curl(&self, file: &str) -> String {
        let mut lines = vec![match self.method.as_str() {
            "PUT" => format!("curl --fail -sS -T {}", sh(file)),
            // --fail: an error answer is never written into the file.
            _ => format!("curl --fail -sS -o {}", sh(file)),
        }];
        if let Some(ca) = &self.ca_bundle {
            lines.push(format!("--cacert {}", sh(ca)));
        }
        lines.push(sh(
            "-Hx-amz-server-side-encryption-customer-algorithm: AES256",
        ));
        lines.push(r#""-Hx-amz-server-side-encryption-customer-key: $SSE_KEY""#.into());
        lines.push(r#""-Hx-amz-server-side-encryption-customer-key-MD5: $SSE_MD5""#.into());
        for (name, value) in &self.other_headers {
            lines.push(sh(&format!("-H{name}: {value}")));
        }
        lines.push(sh(&self.url));
        lines.join(" \\\n  ")
    }

    /// The whole recipe: what it is, how to load the key, the command.
    pub fn recipe(&self, file: &str) -> String {
        format!(
            "# {} {} with SSE-C key \"{}\" ({}), valid until {}.\n\
             # The URL alone is not enough: the three SSE-C headers must be sent with the key.\n\
             # Load the key (the seed's variables): eval \"$(ssec-manager key env {})\"\n{}\n",
            self.method,
            self.object,
            self.key_label,
            self.key_fingerprint,
            self.expires_at,
            sh(&self.key_label),
            self.curl(file)
        )
    }
}

/// Whether a header is one of the three SSE-C request headers (the recipe sends those from
/// the environment).
fn is_sse_c(name: &str) -> bool {
    name.to_ascii_lowercase()
        .starts_with("x-amz-server-side-encryption-customer-")
}

impl Home {
    /// A presigned GET of a registered object (its recorded key unless `key_label` names
    /// one), or a presigned PUT with `key_label` or the place's default key.
    pub async fn presign(
        &self,
        connection: Option<&str>,
        object: &S3Url,
        put: bool,
        key_label: Option<&str>,
        expires: Duration,
    ) -> Result<Presigned> {
        let conn = self.resolve_connection(connection)?;
        let label = match (put, key_label) {
            (_, Some(l)) => self.key_record(l)?.label,
            (true, None) => {
                self.upload_key(&conn.name, &object.bucket, &object.key, None)?
                    .label
            }
            (false, None) => {
                let row = self
                    .registry
                    .current_object(&conn, &object.bucket, &object.key)?
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "{object} is not in the registry, so its key is not known: pass \
                             --key LABEL (or adopt it with `ssec-manager scan {object} --adopt`)"
                        ))
                    })?;
                row.key_label.ok_or_else(|| {
                    Error::NotFound(format!(
                        "{object} is under key {}, which is not registered here",
                        row.key_fingerprint
                    ))
                })?
            }
        };
        let record = self.key_record(&label)?;
        let key = self.load_key(&record)?;
        let client = client_for(&conn, self.secrets().ok()).await?;
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| Error::Refused(format!("cannot presign for that long: {e}")))?;
        let shown = object.to_string();
        let headers = key.headers();
        let request = if put {
            client
                .put_object()
                .bucket(&object.bucket)
                .key(&object.key)
                .sse(&headers)
                .presigned(config)
                .await
                .map_err(|e| sdk_error(e, Op::Write, &shown, false))?
        } else {
            client
                .get_object()
                .bucket(&object.bucket)
                .key(&object.key)
                .sse(&headers)
                .presigned(config)
                .await
                .map_err(|e| sdk_error(e, Op::Read, &shown, false))?
        };
        let other_headers = request
            .headers()
            .filter(|(name, _)| !is_sse_c(name))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let expires_at = chrono::Utc::now()
            + chrono::Duration::from_std(expires).unwrap_or(chrono::Duration::zero());
        self.registry.log_event(
            "presigned",
            Some(&record.fingerprint),
            None,
            &format!(
                "{} {object} until {}",
                request.method(),
                expires_at.to_rfc3339()
            ),
        )?;
        Ok(Presigned {
            method: request.method().to_string(),
            url: request.uri().to_string(),
            object: object.clone(),
            key_label: record.label,
            key_fingerprint: record.fingerprint.to_string(),
            expires_at: expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            other_headers,
            ca_bundle: conn.ca_bundle.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_parse_with_units_and_stay_within_seven_days() {
        assert_eq!(parse_expiry("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_expiry("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_expiry("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_expiry("7d").unwrap(), MAX_EXPIRY);
        assert!(parse_expiry("8d").is_err());
        assert!(parse_expiry("0").is_err());
        assert!(parse_expiry("1w").is_err());
        assert!(parse_expiry("soon").is_err());
    }

    #[test]
    fn the_recipe_reads_the_key_from_the_environment_and_quotes_the_url() {
        let p = Presigned {
            method: "GET".into(),
            url: "https://h/b/it's?X-Amz-Signature=abc".into(),
            object: S3Url {
                bucket: "b".into(),
                key: "it's".into(),
            },
            key_label: "k".into(),
            key_fingerprint: "fp==".into(),
            expires_at: "2026-12-02T20:00:00Z".into(),
            other_headers: vec![("host".into(), "h".into())],
            ca_bundle: None,
        };
        let r = p.recipe("it's");
        assert!(r.contains(r#""-Hx-amz-server-side-encryption-customer-key: $SSE_KEY""#));
        assert!(r.contains(r#""-Hx-amz-server-side-encryption-customer-key-MD5: $SSE_MD5""#));
        assert!(
            r.contains(r"'https://h/b/it'\''s?X-Amz-Signature=abc'"),
            "{r}"
        );
        assert!(r.contains("-o 'it'\\''s'"), "{r}");
        assert!(is_sse_c("X-Amz-Server-Side-Encryption-Customer-Key"));
        assert!(!is_sse_c("x-amz-server-side-encryption"));
    }
}
