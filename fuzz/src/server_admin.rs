//! The server's admin JSON for segments and campaigns (`POST`/`PUT
//! /v1/admin/{segments,campaigns}`, and archiving): a sequence of changes applied to a
//! catalog holding the built-in segments, as the routes apply them.
//!
//! The input is NUL-separated changes; each starts with a byte choosing the kind (bit
//! 0: segment or campaign) and the change (create, update, archive), followed by the
//! JSON body, or the id to archive.
//!
//! Checked, after every change the server accepts: the sync document it now serves is
//! one devices accept whole (a refused document would leave every device on its last
//! good copy), and every stored definition reads back with the shared parsers. A
//! refused change says why.

use std::sync::OnceLock;

use beckon::messages::Campaign;
use beckon::segments::{templates, SegmentDefinition};
use beckon::sync::SyncedDefinitions;
use beckon_server::fuzzing::{admin_change, sync_body, Change};
use beckon_server::store::{Catalog, Kind};

fn builtin_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut catalog = Catalog::default();
        for definition in templates::builtin() {
            catalog = admin_change(
                &catalog,
                Kind::Segment,
                Change::Create,
                definition.to_json().as_bytes(),
                "",
            )
            .expect("the built-in segments are accepted");
        }
        catalog
    })
}

pub fn run(data: &[u8]) {
    let mut catalog = builtin_catalog().clone();
    for chunk in data.split(|&b| b == 0) {
        let Some((&op, body)) = chunk.split_first() else {
            continue;
        };
        let kind = if op & 1 == 0 {
            Kind::Segment
        } else {
            Kind::Campaign
        };
        let change = match (op >> 1) % 3 {
            0 => Change::Create,
            1 => Change::Update,
            _ => Change::Archive,
        };
        let archive_id = String::from_utf8_lossy(body);
        match admin_change(&catalog, kind, change, body, &archive_id) {
            Ok(after) => {
                catalog = after;
                devices_accept(&catalog);
            }
            Err(message) => assert!(!message.is_empty()),
        }
    }
}

fn devices_accept(catalog: &Catalog) {
    let body = sync_body(catalog);
    if let Err(err) = SyncedDefinitions::parse(&body) {
        panic!(
            "the server accepted a change that makes devices refuse its sync document: {err}\n{}",
            String::from_utf8_lossy(&body)
        );
    }
    for record in catalog.all(Kind::Segment) {
        SegmentDefinition::from_value(&record.body)
            .unwrap_or_else(|e| panic!("stored segment {:?} unreadable: {e}", record.id));
    }
    for record in catalog.all(Kind::Campaign) {
        Campaign::from_value(&record.body)
            .unwrap_or_else(|e| panic!("stored campaign {:?} unreadable: {e}", record.id));
    }
}
