//! Turning campaign JSON into a [`Campaign`], checking everything on the way.

use std::collections::BTreeMap;

use serde_json::Value;

use super::checks::{check_currency, check_display_name, check_segment_id, check_slug};
use super::read::{as_array, as_str, index, kind, Errors, Object};
use super::*;
use crate::common::money::{currency_decimals, Money};
use crate::events::TYPED_EVENT_NAMES;
use crate::messages::locale::normalize;
use crate::protocol::{check_key, check_name};
use crate::text::{clip, quote};

const CAMPAIGN_KEYS: &[&str] = &[
    "schema_version",
    "id",
    "name",
    "status",
    "trigger",
    "audience",
    "priority",
    "starts_at",
    "ends_at",
    "cap",
    "free_shipping_threshold",
    "default_locale",
    "variants",
];
const STATUSES: &[&str] = &["active", "paused", "archived"];

/// Reads a campaign, adding every problem to `errs`. Returns a campaign only when
/// there were none.
pub(super) fn read_campaign(value: &Value, errs: &mut Errors) -> Option<Campaign> {
    let obj = Object::new("", value, errs)?;
    // The version decides what the rest means, so a newer one stops here.
    let schema_version = read_version(&obj, errs)?;
    obj.deny_unknown(CAMPAIGN_KEYS, errs);

    let id = obj
        .required_str("id", errs)
        .filter(|id| errs.check("id", check_slug(id)));
    let name = obj
        .required_str("name", errs)
        .filter(|n| errs.check("name", check_display_name(n)));
    let status = obj
        .required_str("status", errs)
        .and_then(|s| read_status(s, errs));
    let trigger = obj
        .required("trigger", errs)
        .and_then(|v| read_trigger(v, errs));
    let audience = match obj.get("audience") {
        Some(v) => read_audience(v, errs),
        None => Some(Audience::default()),
    };
    let priority = read_priority(&obj, errs);
    let starts_at = obj.optional_timestamp("starts_at", errs);
    let ends_at = obj.optional_timestamp("ends_at", errs);
    if let (Some(start), Some(end)) = (starts_at, ends_at) {
        if end <= start {
            errs.add(
                "ends_at",
                format!(
                    "must be after starts_at ({} is not after {})",
                    end.to_rfc3339(),
                    start.to_rfc3339()
                ),
            );
        }
    }
    let cap = match obj.get("cap") {
        Some(v) => read_cap(v, errs),
        None => Some(ImpressionCap::default()),
    };
    let free_shipping_threshold = match obj.get("free_shipping_threshold") {
        Some(v) => read_thresholds(v, errs),
        None => Some(BTreeMap::new()),
    };
    let variants = obj
        .required("variants", errs)
        .and_then(|v| content::read_variants(v, errs));
    let default_locale = obj.required_str("default_locale", errs);
    if let (Some(default), Some(variants)) = (default_locale, &variants) {
        if !variants.keys().any(|k| normalize(k) == normalize(default)) {
            let tags: Vec<_> = variants.keys().map(|tag| clip(tag)).collect();
            errs.add(
                "default_locale",
                format!(
                    "{} has no variant; the variants are {}",
                    quote(default),
                    tags.join(", ")
                ),
            );
        }
    }

    if !errs.is_empty() {
        return None;
    }
    Some(Campaign {
        schema_version,
        id: id?.to_owned(),
        name: name?.to_owned(),
        status: status?,
        trigger: trigger?,
        audience: audience?,
        priority: priority?,
        starts_at,
        ends_at,
        cap: cap?,
        free_shipping_threshold: free_shipping_threshold?,
        default_locale: default_locale?.to_owned(),
        variants: variants?,
    })
}

fn read_version(obj: &Object, errs: &mut Errors) -> Option<u32> {
    let path = "schema_version";
    let Some(value) = obj.get(path) else {
        errs.add(
            path,
            format!("is required; this build reads version {CAMPAIGN_SCHEMA_VERSION}"),
        );
        return None;
    };
    match value.as_u64() {
        Some(v) if v == u64::from(CAMPAIGN_SCHEMA_VERSION) => Some(CAMPAIGN_SCHEMA_VERSION),
        Some(v) => {
            errs.add(
                path,
                format!(
                    "version {v} is not supported; this build reads version {CAMPAIGN_SCHEMA_VERSION}"
                ),
            );
            None
        }
        None => {
            errs.add(path, format!("must be a whole number, not {}", kind(value)));
            None
        }
    }
}

fn read_status(status: &str, errs: &mut Errors) -> Option<CampaignStatus> {
    match status {
        "active" => Some(CampaignStatus::Active),
        "paused" => Some(CampaignStatus::Paused),
        "archived" => Some(CampaignStatus::Archived),
        other => {
            errs.add(
                "status",
                format!("{} is not one of {}", quote(other), STATUSES.join(", ")),
            );
            None
        }
    }
}

fn read_priority(obj: &Object, errs: &mut Errors) -> Option<i32> {
    let Some(priority) = obj.optional_int("priority", errs) else {
        // Absent is 0; present but not an integer was reported.
        return obj.get("priority").is_none().then_some(0);
    };
    let range = -i64::from(MAX_PRIORITY)..=i64::from(MAX_PRIORITY);
    if !range.contains(&priority) {
        errs.add(
            "priority",
            format!("{priority} is outside -{MAX_PRIORITY}..={MAX_PRIORITY}"),
        );
        return None;
    }
    i32::try_from(priority).ok()
}

fn read_trigger(value: &Value, errs: &mut Errors) -> Option<Trigger> {
    let obj = Object::new("trigger", value, errs)?;
    obj.deny_unknown(&["event", "screen", "segment_entered", "where"], errs);
    let kinds: Vec<&str> = ["event", "screen", "segment_entered"]
        .into_iter()
        .filter(|k| obj.get(k).is_some())
        .collect();
    let kind = match kinds.as_slice() {
        [one] => *one,
        [] => {
            errs.add("trigger", "needs one of event, screen or segment_entered");
            return None;
        }
        several => {
            errs.add(
                "trigger",
                format!(
                    "has {}; a campaign has exactly one trigger",
                    several.join(" and ")
                ),
            );
            return None;
        }
    };
    let path = obj.at(kind);
    let name = obj.required_str(kind, errs)?;
    let filter = match obj.get("where") {
        Some(_) if kind == "segment_entered" => {
            errs.add(
                &obj.at("where"),
                "only applies to event and screen triggers",
            );
            None
        }
        Some(v) => read_filter(v, errs),
        None => Some(PropertyFilter::new()),
    };
    match kind {
        "segment_entered" => {
            errs.check(&path, check_segment_id(name))
                .then(|| Trigger::SegmentEntered {
                    segment_id: name.to_owned(),
                })
        }
        _ => {
            let named_ok = match check_name(&path, name) {
                Ok(()) => kind == "screen" || check_event_case(&path, name, errs),
                Err(e) => {
                    errs.add(&path, e.problem);
                    false
                }
            };
            let (filter, name) = (filter?, name.to_owned());
            named_ok.then_some(if kind == "event" {
                Trigger::Event { name, filter }
            } else {
                Trigger::Screen { name, filter }
            })
        }
    }
}

/// Event names are case-sensitive on the wire; `product added` would never fire.
fn check_event_case(path: &str, name: &str, errs: &mut Errors) -> bool {
    match TYPED_EVENT_NAMES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(name) && **t != name)
    {
        Some(typed) => {
            errs.add(
                path,
                format!(
                    "{} would never match; event names are case-sensitive: did you mean \"{typed}\"?",
                    quote(name)
                ),
            );
            false
        }
        None => true,
    }
}

fn read_filter(value: &Value, errs: &mut Errors) -> Option<PropertyFilter> {
    let obj = Object::new("trigger.where", value, errs)?;
    if obj.map.len() > MAX_FILTER_KEYS {
        errs.add(
            &obj.path,
            format!(
                "has {} keys, over the limit of {MAX_FILTER_KEYS}",
                obj.map.len()
            ),
        );
        return None;
    }
    let mut filter = PropertyFilter::new();
    let mut ok = true;
    for (key, expected) in obj.map {
        let path = obj.at(key);
        if let Err(e) = check_key("trigger.where", key) {
            errs.add(&e.field, e.problem);
            ok = false;
            continue;
        }
        let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
        let valid = match expected {
            Value::Array(options) => !options.is_empty() && options.iter().all(scalar),
            other => scalar(other),
        };
        if valid {
            filter.insert(key.clone(), expected.clone());
        } else {
            errs.add(
                &path,
                "must be a string, number or boolean, or a non-empty list of them",
            );
            ok = false;
        }
    }
    ok.then_some(filter)
}

fn read_audience(value: &Value, errs: &mut Errors) -> Option<Audience> {
    let obj = Object::new("audience", value, errs)?;
    obj.deny_unknown(&["segments", "exclude"], errs);
    let segments = read_segment_list(&obj, "segments", errs);
    let exclude = read_segment_list(&obj, "exclude", errs);
    let (segments, exclude) = (segments?, exclude?);
    for both in segments.iter().filter(|s| exclude.contains(s)) {
        errs.add(
            &obj.at("exclude"),
            format!(
                "{} is both included and excluded, so its members never qualify",
                quote(both)
            ),
        );
    }
    Some(Audience { segments, exclude })
}

fn read_segment_list(obj: &Object, key: &str, errs: &mut Errors) -> Option<Vec<String>> {
    let path = obj.at(key);
    let Some(value) = obj.get(key) else {
        return Some(Vec::new());
    };
    let items = as_array(&path, value, errs)?;
    if items.len() > MAX_AUDIENCE_SEGMENTS {
        errs.add(
            &path,
            format!(
                "has {} segments, over the limit of {MAX_AUDIENCE_SEGMENTS}",
                items.len()
            ),
        );
        return None;
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_path = index(&path, i);
        match as_str(&item_path, item, errs) {
            Some(id) if errs.check(&item_path, check_segment_id(id)) => {
                if ids.iter().any(|seen| seen == id) {
                    errs.add(&item_path, format!("{} is listed twice", quote(id)));
                    ok = false;
                } else {
                    ids.push(id.to_owned());
                }
            }
            _ => ok = false,
        }
    }
    ok.then_some(ids)
}

fn read_cap(value: &Value, errs: &mut Errors) -> Option<ImpressionCap> {
    let obj = Object::new("cap", value, errs)?;
    obj.deny_unknown(&["total", "window"], errs);
    if obj.get("total").is_none() && obj.get("window").is_none() {
        errs.add(
            "cap",
            "needs total, window or both; leave cap out for no cap",
        );
        return None;
    }
    let total = match obj.get("total") {
        Some(_) => obj
            .optional_int("total", errs)
            .and_then(|n| read_count("cap.total", n, errs))
            .map(Some),
        None => Some(None),
    };
    let window = match obj.get("window") {
        Some(v) => read_window(v, errs).map(Some),
        None => Some(None),
    };
    Some(ImpressionCap {
        total: total?,
        window: window?,
    })
}

fn read_window(value: &Value, errs: &mut Errors) -> Option<CapWindow> {
    let obj = Object::new("cap.window", value, errs)?;
    obj.deny_unknown(&["max", "seconds"], errs);
    let max = obj
        .required("max", errs)
        .and_then(|_| obj.optional_int("max", errs))
        .and_then(|n| read_count("cap.window.max", n, errs));
    let seconds = obj
        .required("seconds", errs)
        .and_then(|_| obj.optional_int("seconds", errs))
        .and_then(|s| {
            let ok = u64::try_from(s)
                .ok()
                .filter(|s| CAP_WINDOW_SECONDS.contains(s));
            if ok.is_none() {
                errs.add(
                    "cap.window.seconds",
                    format!(
                        "{s} is outside {}..={} (one minute to 366 days)",
                        CAP_WINDOW_SECONDS.start(),
                        CAP_WINDOW_SECONDS.end()
                    ),
                );
            }
            ok
        });
    Some(CapWindow {
        max: max?,
        seconds: seconds?,
    })
}

fn read_count(path: &str, n: i64, errs: &mut Errors) -> Option<u32> {
    let ok = u32::try_from(n).ok().filter(|n| (1..=MAX_CAP).contains(n));
    if ok.is_none() {
        errs.add(path, format!("{n} is outside 1..={MAX_CAP}"));
    }
    ok
}

fn read_thresholds(value: &Value, errs: &mut Errors) -> Option<BTreeMap<String, Money>> {
    let obj = Object::new("free_shipping_threshold", value, errs)?;
    let mut thresholds = BTreeMap::new();
    let mut ok = true;
    for (code, amount) in obj.map {
        let path = obj.at(code);
        if !errs.check(&path, check_currency(code)) {
            ok = false;
            continue;
        }
        let money = amount
            .as_f64()
            .filter(|a| *a > 0.0)
            .and_then(|a| Money::from_decimal_exact(a, code));
        match money {
            Some(money) => {
                thresholds.insert(code.clone(), money);
            }
            None => {
                errs.add(
                    &path,
                    format!(
                        "must be a positive amount with at most {} decimals, not {amount}",
                        currency_decimals(code)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(thresholds)
}
