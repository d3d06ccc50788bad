//! Provider presets: the endpoint pattern, addressing style and checksum setting each S3
//! provider needs, so users pick a name instead of looking these up. The checksum setting
//! follows PROTOCOL.md: providers that reject the SDK's default CRC32 checksums (R2, OVH, B2
//! and older MinIO among them) get `WhenRequired`. docs/PROVIDERS.md checks each setting
//! against the provider's documentation. What a server does differently with SSE-C itself
//! (re-keying in place, part copies) is not guessed here: the preflight probe learns it per
//! bucket (`registry::BucketTraits`).

use super::registry::{ChecksumMode, ConnectionRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    Aws,
    R2,
    B2,
    Wasabi,
    Ovh,
    Scaleway,
    Minio,
    Ceph,
    Garage,
    Seaweedfs,
    /// The ministack AWS emulator (a test bench, not a place for data).
    Ministack,
    Hetzner,
    Digitalocean,
    Custom,
}

impl Provider {
    /// `{region}` and `{account}` are filled in; None: the user gives the endpoint.
    pub fn endpoint_pattern(self) -> Option<&'static str> {
        match self {
            Provider::Aws => None,
            Provider::R2 => Some("https://{account}.r2.cloudflarestorage.com"),
            Provider::B2 => Some("https://s3.{region}.backblazeb2.com"),
            Provider::Wasabi => Some("https://s3.{region}.wasabisys.com"),
            Provider::Ovh => Some("https://s3.{region}.io.cloud.ovh.net"),
            Provider::Scaleway => Some("https://s3.{region}.scw.cloud"),
            Provider::Hetzner => Some("https://{region}.your-objectstorage.com"),
            Provider::Digitalocean => Some("https://{region}.digitaloceanspaces.com"),
            Provider::Minio
            | Provider::Ceph
            | Provider::Garage
            | Provider::Seaweedfs
            | Provider::Ministack
            | Provider::Custom => None,
        }
    }

    pub fn default_region(self) -> &'static str {
        match self {
            Provider::Aws => "us-east-1",
            Provider::R2 => "auto",
            Provider::B2 => "us-west-004",
            Provider::Wasabi => "us-east-1",
            Provider::Ovh => "gra",
            Provider::Scaleway => "fr-par",
            Provider::Garage => "garage",
            Provider::Hetzner => "fsn1",
            Provider::Digitalocean => "nyc3",
            Provider::Minio
            | Provider::Ceph
            | Provider::Seaweedfs
            | Provider::Ministack
            | Provider::Custom => "us-east-1",
        }
    }

    pub fn path_style(self) -> bool {
        // Wasabi takes both, and recommends path-style (docs/PROVIDERS.md).
        matches!(
            self,
            Provider::Wasabi
                | Provider::Minio
                | Provider::Ceph
                | Provider::Garage
                | Provider::Seaweedfs
                | Provider::Ministack
        )
    }

    pub fn checksums(self) -> ChecksumMode {
        match self {
            Provider::R2 | Provider::Ovh | Provider::Minio | Provider::B2 => {
                ChecksumMode::WhenRequired
            }
            _ => ChecksumMode::WhenSupported,
        }
    }

    /// A connection for this provider. `endpoint` overrides the pattern (required for
    /// MinIO, Ceph, Garage and custom); `account` fills R2's pattern.
    pub fn connection(
        self,
        name: &str,
        region: Option<&str>,
        endpoint: Option<&str>,
        account: Option<&str>,
    ) -> Result<ConnectionRecord, String> {
        let region = region.unwrap_or(self.default_region());
        let endpoint = match (endpoint, self.endpoint_pattern()) {
            (Some(e), _) => Some(e.to_string()),
            (None, Some(p)) => {
                if p.contains("{account}") && account.is_none() {
                    return Err(format!(
                        "{self:?} needs your account id (--account ID) to form its endpoint"
                    ));
                }
                Some(
                    p.replace("{region}", region)
                        .replace("{account}", account.unwrap_or("")),
                )
            }
            (None, None) if self == Provider::Aws => None,
            (None, None) => {
                return Err(format!("{self:?} needs an endpoint (--endpoint URL)"));
            }
        };
        let mut c = ConnectionRecord::new(name, endpoint.as_deref(), region);
        c.path_style = self.path_style();
        c.checksum_mode = self.checksums();
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_endpoint_style_and_checksums() {
        let r2 = Provider::R2
            .connection("r", None, None, Some("abc123"))
            .unwrap();
        assert_eq!(
            r2.endpoint.as_deref(),
            Some("https://abc123.r2.cloudflarestorage.com")
        );
        assert_eq!(r2.region, "auto");
        assert_eq!(r2.checksum_mode, ChecksumMode::WhenRequired);
        assert!(Provider::R2.connection("r", None, None, None).is_err());

        let wasabi = Provider::Wasabi
            .connection("w", Some("eu-central-1"), None, None)
            .unwrap();
        assert_eq!(
            wasabi.endpoint.as_deref(),
            Some("https://s3.eu-central-1.wasabisys.com")
        );
        assert!(wasabi.path_style);
        let hetzner = Provider::Hetzner.connection("h", None, None, None).unwrap();
        assert_eq!(
            hetzner.endpoint.as_deref(),
            Some("https://fsn1.your-objectstorage.com")
        );

        let garage = Provider::Garage
            .connection("g", None, Some("http://127.0.0.1:3900"), None)
            .unwrap();
        assert!(garage.path_style);
        assert_eq!(garage.region, "garage");
        assert!(Provider::Minio.connection("m", None, None, None).is_err());

        let aws = Provider::Aws
            .connection("a", Some("eu-west-3"), None, None)
            .unwrap();
        assert_eq!(aws.endpoint, None);
        assert_eq!(aws.region, "eu-west-3");
    }
}
