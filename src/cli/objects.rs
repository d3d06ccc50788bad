//! `ssec-manager objects`: what the registry knows, with each object's key.

use std::path::Path;

use crate::core::Home;

pub fn exec(dir: &Path, json: bool) -> anyhow::Result<()> {
    let objects = Home::open(dir)?.registry.objects()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&objects)?);
        return Ok(());
    }
    for o in objects {
        println!(
            "{:<8} {}:{}  {} bytes  key {}",
            o.state.as_str(),
            o.connection,
            o.url(),
            o.size.unwrap_or(0),
            o.key_label
                .clone()
                .unwrap_or_else(|| o.key_fingerprint.to_string())
        );
    }
    Ok(())
}
