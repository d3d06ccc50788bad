//! Connection commands: add, edit, remove, test, list buckets.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Event, Worker};
use crate::core::Home;
use crate::core::connections::NewConnection;
use crate::core::registry::ConnectionRecord;

impl Worker {
    pub(super) async fn add_connection(
        &self,
        home: &Arc<Home>,
        spec: NewConnection,
        secret: Option<Zeroizing<String>>,
    ) {
        let done = format!("Added connection \"{}\"", spec.name);
        self.simple(home, done, move |h| {
            h.add_connection(spec.record()?, secret.as_deref().map(String::as_str))
                .map(|_| ())
        })
        .await;
    }

    pub(super) async fn update_connection(
        &self,
        home: &Arc<Home>,
        record: ConnectionRecord,
        secret: Option<Zeroizing<String>>,
    ) {
        let done = format!("Saved connection \"{}\"", record.name);
        self.simple(home, done, move |h| {
            h.update_connection(record, secret.as_deref().map(String::as_str))
        })
        .await;
    }

    pub(super) async fn remove_connection(&self, home: &Arc<Home>, name: String) {
        let done = format!("Removed connection \"{name}\"");
        self.simple(home, done, move |h| h.remove_connection(&name))
            .await;
    }

    pub(super) async fn test_connection(&self, home: &Arc<Home>, name: String) {
        let result = home.list_buckets(&name).await;
        match &result {
            Ok(b) => self.send(Event::Info(format!(
                "Connection \"{name}\" works: {} bucket(s) visible",
                b.len()
            ))),
            Err(e) => self.send(Event::Error(format!("Connection \"{name}\": {e}"))),
        }
        self.send(Event::Tested {
            name,
            result: result.map(|b| b.len()).map_err(|e| e.to_string()),
        });
    }

    pub(super) async fn list_buckets(&self, home: &Arc<Home>, connection: String) {
        let buckets = home
            .list_buckets(&connection)
            .await
            .map_err(|e| e.to_string());
        self.send(Event::Buckets {
            connection,
            buckets,
        });
    }
}
