//! Connection dialogs: add or edit one, remove one.

use egui::RichText;
use zeroize::Zeroizing;

use super::{Choice, DialogUi, PickPurpose, buttons, field, path_field};
use crate::core::connections::NewConnection;
use crate::core::registry::{ChecksumMode, ConnectionRecord, CredentialSource};
use crate::ui::{App, Command};

/// Where a connection's credentials come from, as the radio buttons offer it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Environment,
    Profile,
    Keyring,
}

/// Adding a connection, or editing one (its name cannot change).
#[derive(Debug, Clone, Default)]
pub struct ConnectionForm {
    pub name: String,
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
    pub source: Credentials,
    pub profile: String,
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub when_required: bool,
    /// Editing an existing connection (its name cannot change).
    pub editing: bool,
    pub allow_plain_http: bool,
    /// A PEM file of the private CA that signed the endpoint's certificate (https only).
    pub ca_bundle: String,
}

impl ConnectionForm {
    pub fn add() -> Self {
        Self {
            region: "us-east-1".into(),
            path_style: true,
            ..Default::default()
        }
    }

    pub fn edit(c: &ConnectionRecord) -> Self {
        Self {
            name: c.name.clone(),
            endpoint: c.endpoint.clone().unwrap_or_default(),
            region: c.region.clone(),
            path_style: c.path_style,
            source: match c.credential_source {
                CredentialSource::AwsChain => Credentials::Environment,
                CredentialSource::Profile => Credentials::Profile,
                CredentialSource::Keyring => Credentials::Keyring,
            },
            profile: c.profile.clone().unwrap_or_default(),
            access_key_id: c.access_key_id.clone().unwrap_or_default(),
            secret: Zeroizing::new(String::new()),
            when_required: c.checksum_mode == ChecksumMode::WhenRequired,
            editing: true,
            allow_plain_http: c.allow_plain_http,
            ca_bundle: c.ca_bundle.clone().unwrap_or_default(),
        }
    }

    /// What the form asks for, as the core takes it.
    fn spec(&self) -> NewConnection {
        let nonempty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        NewConnection {
            name: self.name.trim().to_string(),
            endpoint: nonempty(&self.endpoint),
            region: nonempty(&self.region),
            path_style: self.path_style,
            profile: match self.source {
                Credentials::Profile => nonempty(&self.profile),
                _ => None,
            },
            access_key_id: match self.source {
                Credentials::Keyring => Some(self.access_key_id.trim().to_string()),
                _ => None,
            },
            checksums: Some(if self.when_required {
                ChecksumMode::WhenRequired
            } else {
                ChecksumMode::WhenSupported
            }),
            allow_plain_http: self.allow_plain_http,
            ca_bundle: nonempty(&self.ca_bundle)
                .filter(|_| self.endpoint.trim().starts_with("https://"))
                .map(std::path::PathBuf::from),
            ..Default::default()
        }
    }

    fn credentials(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new("Credentials"));
            ui.radio_value(
                &mut self.source,
                Credentials::Environment,
                "Environment / default",
            );
            ui.radio_value(&mut self.source, Credentials::Profile, "AWS profile");
            ui.radio_value(&mut self.source, Credentials::Keyring, "Keyring");
        });
        match self.source {
            Credentials::Profile => {
                field(ui, "Profile", &mut self.profile, "default");
            }
            Credentials::Keyring => {
                field(ui, "Access key id", &mut self.access_key_id, "");
                super::secret_field(ui, "Secret key", &mut self.secret);
            }
            Credentials::Environment => {}
        }
    }
}

impl DialogUi for ConnectionForm {
    const ID: &'static str = "add-connection";

    fn title(&self) -> String {
        if self.editing {
            "Edit connection".into()
        } else {
            "Add a connection".into()
        }
    }

    fn file_field(&mut self) -> Option<(PickPurpose, &mut String)> {
        Some((PickPurpose::CaBundle, &mut self.ca_bundle))
    }

    fn ui(&mut self, app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.add_enabled_ui(!self.editing, |ui| {
            field(ui, "Name", &mut self.name, "e.g. garage, aws-prod")
        });
        field(
            ui,
            "Endpoint",
            &mut self.endpoint,
            "https://s3.example.com (empty for AWS)",
        );
        field(ui, "Region", &mut self.region, "us-east-1");
        if self.endpoint.trim().starts_with("https://") {
            path_field(
                app,
                ui,
                "CA bundle",
                &mut self.ca_bundle,
                "the system's CAs (or AWS_CA_BUNDLE)",
                PickPurpose::CaBundle,
                false,
            )
            .on_hover_text(
                "A PEM file of the private CA that signed the server's certificate; it \
                 replaces the system's CAs for this connection, as the aws CLI's --ca-bundle",
            );
        }
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new(""));
            ui.checkbox(
                &mut self.path_style,
                "Path-style addressing (MinIO, Garage, Ceph)",
            );
        });
        self.credentials(ui);
        ui.horizontal(|ui| {
            ui.add_sized([120.0, 20.0], egui::Label::new(""));
            ui.checkbox(
                &mut self.when_required,
                "Checksums only when required (R2, OVH, older MinIO)",
            );
        });
        if self.endpoint.starts_with("http://")
            && !crate::core::preflight::is_loopback_endpoint(&self.endpoint)
        {
            ui.label(
                RichText::new("⚠ Plain http: SSE-C keys would travel in clear.")
                    .color(ui.visuals().error_fg_color),
            );
            ui.checkbox(
                &mut self.allow_plain_http,
                "Allow it anyway (trusted network path only)",
            );
        }
        let ok = !self.name.trim().is_empty()
            && (self.source != Credentials::Keyring
                || (!self.access_key_id.is_empty() && (self.editing || !self.secret.is_empty())));
        buttons(ui, if self.editing { "Save" } else { "Add" }, ok)
    }

    fn confirm(self, app: &mut App) {
        let spec = self.spec();
        let secret = (self.source == Credentials::Keyring)
            .then_some(self.secret)
            .filter(|s| !s.is_empty());
        if !self.editing {
            app.backend.send(Command::AddConnection { spec, secret });
            return;
        }
        match spec.record() {
            Ok(record) => app
                .backend
                .send(Command::UpdateConnection { record, secret }),
            Err(e) => app.error(e.to_string()),
        }
    }
}

/// Forgetting a connection (refused while registered objects live on it).
#[derive(Debug)]
pub struct RemoveConnection {
    pub name: String,
}

impl DialogUi for RemoveConnection {
    const ID: &'static str = "remove-connection";

    fn title(&self) -> String {
        format!("Remove connection \"{}\"", self.name)
    }

    fn ui(&mut self, _app: &mut App, ui: &mut egui::Ui) -> Choice {
        ui.label("The connection is forgotten (and its stored secret removed). Refused while registered objects live on it.");
        buttons(ui, "Remove", true)
    }

    fn confirm(self, app: &mut App) {
        app.backend
            .send(Command::RemoveConnection { name: self.name });
    }
}
