//! [`Store`] on a damaged database, over a backend that records every call it gets:
//! once damage is reported, writes are refused before the backend, reads still reach it.

use std::sync::{Arc, Mutex};

use beckon::consent::{Channel, Permission, PermissionState};
use beckon::protocol::{ExportedEvent, WireEvent};
use chrono::{DateTime, Utc};

use super::*;

/// Records the name of every call and answers it with an error: damage for the first
/// when `damaged`.
#[derive(Clone)]
struct Probe {
    damaged: bool,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Probe {
    fn new(damaged: bool) -> Self {
        Self {
            damaged,
            calls: Arc::default(),
        }
    }

    fn reached<T>(&self, call: &'static str) -> Result<T, StoreError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(call);
        if self.damaged && calls.len() == 1 {
            return Err(StoreError::Damaged {
                detail: "database disk image is malformed".into(),
            });
        }
        Err(StoreError::Task(format!("{call} reached the backend")))
    }

    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }
}

impl EventStore for Probe {
    fn insert_with(
        &self,
        _: Vec<ExportedEvent>,
        _: InsertRules,
    ) -> Result<InsertOutcome, StoreError> {
        self.reached("insert_with")
    }
    fn key_kind(&self, _: &str) -> Result<Option<KeyKind>, StoreError> {
        self.reached("key_kind")
    }
    fn page(&self, _: u64, _: usize, _: usize) -> Result<Page, StoreError> {
        self.reached("page")
    }
    fn for_each_user(&self, _: &mut dyn FnMut(&str, &[WireEvent])) -> Result<(), StoreError> {
        self.reached("for_each_user")
    }
    fn device_members(&self, _: &str) -> Result<Vec<String>, StoreError> {
        self.reached("device_members")
    }
}

impl DefinitionStore for Probe {
    fn catalog(&self) -> Result<Catalog, StoreError> {
        self.reached("catalog")
    }
    fn write_definition(
        &self,
        _: Kind,
        _: &str,
        _: &mut dyn FnMut(&Catalog) -> Option<Draft>,
    ) -> Result<Option<Record>, StoreError> {
        self.reached("write_definition")
    }
}

impl AudienceStore for Probe {
    fn profile(&self, _: &str) -> Result<Option<Profile>, StoreError> {
        self.reached("profile")
    }
    fn permissions(&self, _: &str) -> Result<Vec<Permission>, StoreError> {
        self.reached("permissions")
    }
    fn set_permission(&self, _: &str, _: &Permission) -> Result<bool, StoreError> {
        self.reached("set_permission")
    }
    fn permission_history(&self, _: &str) -> Result<Vec<PermissionChange>, StoreError> {
        self.reached("permission_history")
    }
    fn push_targets(&self, _: &str) -> Result<Vec<PushTarget>, StoreError> {
        self.reached("push_targets")
    }
    fn audiences(&self, _: &[String]) -> Result<Vec<Audience>, StoreError> {
        self.reached("audiences")
    }
    fn drop_push_token(&self, _: &str, _: &str) -> Result<bool, StoreError> {
        self.reached("drop_push_token")
    }
    fn devices(&self, _: &str) -> Result<Vec<Device>, StoreError> {
        self.reached("devices")
    }
    fn device_segments(&self, _: &str) -> Result<Vec<String>, StoreError> {
        self.reached("device_segments")
    }
}

impl SendStore for Probe {
    fn create_send(&self, _: &NewSend) -> Result<(), StoreError> {
        self.reached("create_send")
    }
    fn send(&self, _: &str) -> Result<Option<SendRecord>, StoreError> {
        self.reached("send")
    }
    fn next_to_plan(&self) -> Result<Option<SendRecord>, StoreError> {
        self.reached("next_to_plan")
    }
    fn start_planning(&self, _: &str) -> Result<(), StoreError> {
        self.reached("start_planning")
    }
    fn add_deliveries(
        &self,
        _: &str,
        _: &[NewDelivery],
        _: DateTime<Utc>,
    ) -> Result<Added, StoreError> {
        self.reached("add_deliveries")
    }
    fn finish_planning(
        &self,
        _: &str,
        _: Option<&str>,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.reached("finish_planning")
    }
    fn cancel_send(&self, _: &str, _: DateTime<Utc>) -> Result<Option<SendRecord>, StoreError> {
        self.reached("cancel_send")
    }
    fn release_claims(&self) -> Result<u64, StoreError> {
        self.reached("release_claims")
    }
    fn claim_due(&self, _: DateTime<Utc>, _: usize) -> Result<Vec<DueDelivery>, StoreError> {
        self.reached("claim_due")
    }
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.reached("next_due")
    }
    fn record_results(&self, _: &[DeliveryResult], _: DateTime<Utc>) -> Result<(), StoreError> {
        self.reached("record_results")
    }
    fn deliveries(
        &self,
        _: &str,
        _: i64,
        _: usize,
        _: Option<DeliveryStatus>,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.reached("deliveries")
    }
}

impl Repair for Probe {
    fn repair_steps(&self) -> String {
        "restore the probe".into()
    }
}

struct Nobody;

impl UserVisitor for Nobody {
    fn visit(&mut self, _: &str, _: &[WireEvent]) {}
}

/// The error of each write [`Store`] offers, on `store` as it is now.
async fn every_write(store: &Store) -> Vec<StoreError> {
    let now = Utc::now();
    let change = Permission {
        channel: Channel::Email,
        state: PermissionState::Unsubscribed,
        source: "server".into(),
        updated_at: now,
    };
    let send = NewSend {
        id: "s".into(),
        request: serde_json::json!({}),
        created_at: now,
        campaign_id: None,
        collapse_id: None,
        promo: None,
    };
    let definition = store
        .write_definition(Kind::Segment, "s".into(), |_| Err::<Draft, ()>(()))
        .await;
    vec![
        store.insert(Vec::new()).await.unwrap_err(),
        store
            .insert_with(Vec::new(), InsertRules::default())
            .await
            .unwrap_err(),
        definition.unwrap_err(),
        store.set_permission("u".into(), change).await.unwrap_err(),
        store
            .drop_push_token("t".into(), "r".into())
            .await
            .unwrap_err(),
        store.create_send(send).await.unwrap_err(),
        store.start_planning("s".into()).await.unwrap_err(),
        store
            .add_deliveries("s".into(), Vec::new(), now)
            .await
            .unwrap_err(),
        store
            .finish_planning("s".into(), None, now)
            .await
            .unwrap_err(),
        store.cancel_send("s".into(), now).await.unwrap_err(),
        store.release_claims().await.unwrap_err(),
        store.claim_due(now, 1).await.unwrap_err(),
        store.record_results(Vec::new(), now).await.unwrap_err(),
    ]
}

#[tokio::test]
async fn once_damaged_writes_are_refused_before_the_backend_and_reads_still_reach_it() {
    let probe = Probe::new(true);
    let store = Store::new(probe.clone());
    assert!(!store.is_damaged());

    // A write reaches the backend, which finds the damage.
    let first = store.release_claims().await.unwrap_err();
    assert!(first.is_damage(), "{first}");
    assert!(store.is_damaged());
    assert_eq!(probe.calls(), ["release_claims"]);

    for refused in every_write(&store).await {
        assert!(refused.is_damage(), "{refused}");
        assert!(refused.to_string().contains("malformed"), "{refused}");
    }
    assert_eq!(
        probe.calls(),
        ["release_claims"],
        "no write reached the backend"
    );

    let reads = [
        store.key_kind("k".into()).await.err(),
        store.page(0, 1, 1).await.err(),
        store.for_each_user(Nobody).await.err(),
        store.device_members("s".into()).await.err(),
        store.catalog().await.err(),
        store.profile("u".into()).await.err(),
        store.permissions("u".into()).await.err(),
        store.permission_history("u".into()).await.err(),
        store.push_targets("u".into()).await.err(),
        store.audiences(vec!["u".into()]).await.err(),
        store.devices("u".into()).await.err(),
        store.device_segments("u".into()).await.err(),
        store.send("s".into()).await.err(),
        store.next_to_plan().await.err(),
        store.next_due().await.err(),
        store.deliveries("s".into(), 0, 1, None).await.err(),
    ];
    assert!(reads
        .iter()
        .all(|err| matches!(err, Some(StoreError::Task(_)))));
    assert_eq!(probe.calls().len(), 1 + reads.len(), "{:?}", probe.calls());
    assert!(store.is_damaged(), "only a restart clears it");
}

#[tokio::test]
async fn other_errors_leave_writes_going_to_the_backend() {
    let probe = Probe::new(false);
    let store = Store::new(probe.clone());
    let errors = every_write(&store).await;
    assert!(errors.iter().all(|err| !err.is_damage()));
    assert!(!store.is_damaged(), "other errors are not damage");
    assert_eq!(probe.calls().len(), errors.len(), "{:?}", probe.calls());
}
