//! `ssec-manager objects`: what the registry knows, with each object's key. Written as it is
//! read, a page of rows at a time: a registry of millions of objects lists in the memory of
//! one page.

use std::io::Write;
use std::path::Path;

use crate::core::Home;
use crate::core::registry::Registry;

pub fn exec(dir: &Path, json: bool) -> anyhow::Result<()> {
    let home = Home::open(dir)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        write_json(&home.registry, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    home.registry.for_each_object(|o| {
        writeln!(
            out,
            "{:<8} {}:{}  {} bytes  key {}",
            o.state.as_str(),
            o.connection,
            o.url(),
            o.size.unwrap_or(0),
            o.key_label
                .clone()
                .unwrap_or_else(|| o.key_fingerprint.to_string())
        )
    })?;
    out.flush()?;
    Ok(())
}

/// Every object as one JSON array, the same text `serde_json::to_string_pretty` makes of the
/// whole list, written element by element.
fn write_json(registry: &Registry, out: &mut impl Write) -> crate::core::Result<()> {
    let mut first = true;
    let io = |e| crate::core::Error::io("standard output", "write", e);
    out.write_all(b"[").map_err(io)?;
    registry.for_each_object(|o| {
        let text = serde_json::to_string_pretty(o).map_err(std::io::Error::other)?;
        out.write_all(if first { b"\n  " } else { b",\n  " })?;
        first = false;
        out.write_all(text.replace('\n', "\n  ").as_bytes())
    })?;
    out.write_all(if first { b"]\n" } else { b"\n]\n" })
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::key::KeyFingerprint;
    use crate::core::registry::ConnectionRecord;

    /// Streamed page by page (more than one page here), the list is the text the whole
    /// list made before, with every row once and in id order.
    #[test]
    fn the_streamed_list_is_the_whole_list_as_one_json_array() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(&dir.path().join("registry.sqlite3")).unwrap();
        let mut out = Vec::new();
        write_json(&reg, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
        let conn = reg
            .add_connection(&ConnectionRecord::new("c", Some("http://127.0.0.1:1"), "r"))
            .unwrap();
        let fp = KeyFingerprint::from_stored("fp");
        reg.insert_key("k", &fp, "generated", "").unwrap();
        for i in 0..4100 {
            reg.insert_object_for_tests(&conn, &format!("o{i}"), &fp);
        }
        let mut out = Vec::new();
        write_json(&reg, &mut out).unwrap();
        let whole = serde_json::to_string_pretty(&reg.objects().unwrap()).unwrap() + "\n";
        assert_eq!(String::from_utf8(out).unwrap(), whole);
    }
}
