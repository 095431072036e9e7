//! User profiles: what the server needs to render and address a message to a user.
//!
//! The device's time zone, locale and country come from the `context` of its events
//! (the latest event that carries each wins); traits (`first_name`, `email`, `phone`...)
//! come from `identify` events, key by key (the latest identify that sets a key wins).
//! Values that cannot be what they claim (a time zone the tz database does not know, a
//! country that is not two letters) are left out of the profile; the event itself is
//! kept as it came.

use std::collections::HashMap;

use beckon::protocol::{COUNTRY_CONTEXT, LOCALE_CONTEXT, TIMEZONE_CONTEXT};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::{Map, Value};

use super::memberships::sortable_time;
use super::sqlite::parse_time;
use super::StoreError;

/// Longest locale tag kept (BCP 47 tags in practice stay far below).
const MAX_LOCALE_BYTES: usize = 35;

/// What the server knows of one user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub user_key: String,
    /// IANA name (`Europe/Lisbon`), always one the tz database knows.
    pub timezone: Option<String>,
    /// BCP 47 tag with hyphens (`pt-BR`).
    pub locale: Option<String>,
    /// ISO 3166-1 alpha-2, upper case (`PT`).
    pub country: Option<String>,
    pub traits: Map<String, Value>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl Profile {
    pub fn time_zone(&self) -> Option<Tz> {
        self.timezone.as_deref()?.parse().ok()
    }

    /// The `first_name` trait (or `firstName`), as the template engine reads it.
    pub fn first_name(&self) -> Option<&str> {
        self.text_trait("first_name")
            .or_else(|| self.text_trait("firstName"))
    }

    /// The `email` trait, when it is a non-empty string.
    pub fn email(&self) -> Option<&str> {
        self.text_trait("email")
    }

    /// The `phone` trait, when it is a non-empty string.
    pub fn phone(&self) -> Option<&str> {
        self.text_trait("phone")
    }

    fn text_trait(&self, key: &str) -> Option<&str> {
        self.traits
            .get(key)?
            .as_str()
            .filter(|text| !text.trim().is_empty())
    }
}

/// The profile fields an event's `context` carries, once checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ContextProfile {
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub country: Option<String>,
}

impl ContextProfile {
    pub fn read(context: &Map<String, Value>) -> Self {
        let text = |key| context.get(key).and_then(Value::as_str);
        Self {
            timezone: text(TIMEZONE_CONTEXT).and_then(timezone),
            locale: text(LOCALE_CONTEXT).and_then(locale),
            country: text(COUNTRY_CONTEXT).and_then(country),
        }
    }
}

fn timezone(name: &str) -> Option<String> {
    name.parse::<Tz>().ok().map(|tz| tz.name().to_string())
}

/// Android reports `pt_BR`; BCP 47 and the template engine's locale variants use `pt-BR`.
fn locale(tag: &str) -> Option<String> {
    let tag = tag.replace('_', "-");
    let well_formed = !tag.is_empty()
        && tag.len() <= MAX_LOCALE_BYTES
        && tag
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
        && tag
            .bytes()
            .take_while(|b| *b != b'-')
            .all(|b| b.is_ascii_alphabetic());
    well_formed.then_some(tag)
}

fn country(code: &str) -> Option<String> {
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

/// A profile update: when the user was seen, and context fields with the time of the
/// event that carried them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sighting {
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub timezone: Option<(String, DateTime<Utc>)>,
    pub locale: Option<(String, DateTime<Utc>)>,
    pub country: Option<(String, DateTime<Utc>)>,
}

impl Sighting {
    pub fn new(at: DateTime<Utc>, context: ContextProfile) -> Self {
        Self {
            first_at: at,
            last_at: at,
            timezone: context.timezone.map(|v| (v, at)),
            locale: context.locale.map(|v| (v, at)),
            country: context.country.map(|v| (v, at)),
        }
    }

    /// Folds a later-processed sighting of the same user into this one; at equal
    /// times the later-processed value wins, as it would in the table.
    pub fn merge(&mut self, other: Sighting) {
        fn newer(
            mine: &mut Option<(String, DateTime<Utc>)>,
            theirs: Option<(String, DateTime<Utc>)>,
        ) {
            if let Some((value, at)) = theirs {
                if mine.as_ref().is_none_or(|(_, mine_at)| at >= *mine_at) {
                    *mine = Some((value, at));
                }
            }
        }
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
        newer(&mut self.timezone, other.timezone);
        newer(&mut self.locale, other.locale);
        newer(&mut self.country, other.country);
    }
}

/// Each field is replaced only by a value at least as recent as the stored one.
const UPSERT: &str = "INSERT INTO profiles (user_key, first_seen_at, last_seen_at,
        timezone, timezone_at, locale, locale_at, country, country_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (user_key) DO UPDATE SET
        first_seen_at = min(profiles.first_seen_at, excluded.first_seen_at),
        last_seen_at = max(profiles.last_seen_at, excluded.last_seen_at),
        timezone = CASE WHEN excluded.timezone_at >= coalesce(profiles.timezone_at, '')
            THEN excluded.timezone ELSE profiles.timezone END,
        timezone_at = CASE WHEN excluded.timezone_at >= coalesce(profiles.timezone_at, '')
            THEN excluded.timezone_at ELSE profiles.timezone_at END,
        locale = CASE WHEN excluded.locale_at >= coalesce(profiles.locale_at, '')
            THEN excluded.locale ELSE profiles.locale END,
        locale_at = CASE WHEN excluded.locale_at >= coalesce(profiles.locale_at, '')
            THEN excluded.locale_at ELSE profiles.locale_at END,
        country = CASE WHEN excluded.country_at >= coalesce(profiles.country_at, '')
            THEN excluded.country ELSE profiles.country END,
        country_at = CASE WHEN excluded.country_at >= coalesce(profiles.country_at, '')
            THEN excluded.country_at ELSE profiles.country_at END";

const SET_TRAIT: &str = "INSERT INTO user_traits (user_key, key, value, set_at)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (user_key, key) DO UPDATE SET
        value = excluded.value, set_at = excluded.set_at
    WHERE excluded.set_at >= user_traits.set_at";

const PROFILE_COLUMNS: &str = "user_key, first_seen_at, last_seen_at, timezone, timezone_at,
    locale, locale_at, country, country_at";

const TRAITS_COLUMNS: &str = "user_key, key, value, set_at";

pub(super) fn record_sighting(
    conn: &Connection,
    user_key: &str,
    sighting: &Sighting,
) -> Result<(), StoreError> {
    let split = |field: &Option<(String, DateTime<Utc>)>| match field {
        Some((value, at)) => (Some(value.clone()), Some(sortable_time(*at))),
        None => (None, None),
    };
    let (timezone, timezone_at) = split(&sighting.timezone);
    let (locale, locale_at) = split(&sighting.locale);
    let (country, country_at) = split(&sighting.country);
    conn.prepare_cached(UPSERT)?.execute(params![
        user_key,
        sortable_time(sighting.first_at),
        sortable_time(sighting.last_at),
        timezone,
        timezone_at,
        locale,
        locale_at,
        country,
        country_at,
    ])?;
    Ok(())
}

/// The traits of an identify event made `at`.
pub(super) fn record_traits(
    conn: &Connection,
    user_key: &str,
    traits: &Map<String, Value>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = sortable_time(at);
    let mut set = conn.prepare_cached(SET_TRAIT)?;
    for (key, value) in traits {
        set.execute(params![user_key, key, serde_json::to_string(value)?, at])?;
    }
    Ok(())
}

/// Gives `into` what `from` knew that is newer than what `into` knows: profile fields
/// and traits alike, by the time each was set.
pub(super) fn merge(conn: &Connection, from: &str, into: &str) -> Result<(), StoreError> {
    let Some(stored) = conn
        .prepare_cached(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE user_key = ?1"
        ))?
        .query_row([from], StoredProfile::from_row)
        .optional()?
    else {
        return Ok(());
    };
    record_sighting(conn, into, &stored.sighting()?)?;
    let mut select = conn.prepare_cached(&format!(
        "SELECT {TRAITS_COLUMNS} FROM user_traits WHERE user_key = ?1"
    ))?;
    let traits = select
        .query_map([from], StoredTrait::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut set = conn.prepare_cached(SET_TRAIT)?;
    for stored in traits {
        set.execute(params![into, stored.key, stored.value, stored.set_at])?;
    }
    Ok(())
}

/// The profile of every user of `keys_json` (a JSON array of user keys) who has one.
pub(super) fn profiles_of_many(
    conn: &Connection,
    keys_json: &str,
) -> Result<HashMap<String, Profile>, StoreError> {
    let mut select = conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM profiles
        WHERE user_key IN (SELECT value FROM json_each(?1))"
    ))?;
    let mut profiles = HashMap::new();
    for stored in select.query_map([keys_json], StoredProfile::from_row)? {
        let profile = stored?.profile()?;
        profiles.insert(profile.user_key.clone(), profile);
    }
    let mut select = conn.prepare_cached(&format!(
        "SELECT {TRAITS_COLUMNS} FROM user_traits
        WHERE user_key IN (SELECT value FROM json_each(?1))"
    ))?;
    for stored in select.query_map([keys_json], StoredTrait::from_row)? {
        let stored = stored?;
        let value: Value = serde_json::from_str(&stored.value)
            .map_err(|err| corrupt(format!("trait {:?}: {err}", stored.key)))?;
        // Traits merged in from an anonymous id always come with a profile; a trait
        // without one is skipped rather than making a profile up.
        if let Some(profile) = profiles.get_mut(&stored.user_key) {
            profile.traits.insert(stored.key, value);
        }
    }
    Ok(profiles)
}

pub(super) fn profile(conn: &Connection, user_key: &str) -> Result<Option<Profile>, StoreError> {
    let keys = serde_json::to_string(&[user_key])?;
    Ok(profiles_of_many(conn, &keys)?.remove(user_key))
}

struct StoredProfile {
    user_key: String,
    first_seen_at: String,
    last_seen_at: String,
    fields: [(Option<String>, Option<String>); 3],
}

impl StoredProfile {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_key: row.get(0)?,
            first_seen_at: row.get(1)?,
            last_seen_at: row.get(2)?,
            fields: [
                (row.get(3)?, row.get(4)?),
                (row.get(5)?, row.get(6)?),
                (row.get(7)?, row.get(8)?),
            ],
        })
    }

    fn sighting(&self) -> Result<Sighting, StoreError> {
        let field = |i: usize| -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
            match &self.fields[i] {
                (Some(value), Some(at)) => Ok(Some((value.clone(), time(at)?))),
                _ => Ok(None),
            }
        };
        Ok(Sighting {
            first_at: time(&self.first_seen_at)?,
            last_at: time(&self.last_seen_at)?,
            timezone: field(0)?,
            locale: field(1)?,
            country: field(2)?,
        })
    }

    fn profile(self) -> Result<Profile, StoreError> {
        let [timezone, locale, country] = self.fields.clone().map(|(value, _)| value);
        Ok(Profile {
            first_seen_at: time(&self.first_seen_at)?,
            last_seen_at: time(&self.last_seen_at)?,
            user_key: self.user_key,
            timezone,
            locale,
            country,
            traits: Map::new(),
        })
    }
}

struct StoredTrait {
    user_key: String,
    key: String,
    value: String,
    set_at: String,
}

impl StoredTrait {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_key: row.get(0)?,
            key: row.get(1)?,
            value: row.get(2)?,
            set_at: row.get(3)?,
        })
    }
}

fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).map_err(corrupt)
}

fn corrupt(detail: String) -> StoreError {
    StoreError::CorruptRow {
        table: "profiles",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use serde_json::json;

    fn open() -> Connection {
        super::super::migrations::test_database()
    }

    fn at(minute: i64) -> DateTime<Utc> {
        "2025-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
    }

    fn context(value: Value) -> ContextProfile {
        ContextProfile::read(value.as_object().unwrap())
    }

    fn see(conn: &Connection, user: &str, minute: i64, ctx: Value) {
        record_sighting(conn, user, &Sighting::new(at(minute), context(ctx))).unwrap();
    }

    #[test]
    fn reads_and_normalises_context_values_and_leaves_out_the_impossible_ones() {
        assert_eq!(
            context(json!({"timezone": "America/Sao_Paulo", "locale": "pt_BR", "country": "br"})),
            ContextProfile {
                timezone: Some("America/Sao_Paulo".into()),
                locale: Some("pt-BR".into()),
                country: Some("BR".into()),
            }
        );
        assert_eq!(
            context(json!({"timezone": "UTC", "locale": "zh-Hant-TW", "country": "PT"})),
            ContextProfile {
                timezone: Some("UTC".into()),
                locale: Some("zh-Hant-TW".into()),
                country: Some("PT".into()),
            }
        );
        for bad in [
            json!({"timezone": "Mars/Olympus_Mons", "locale": "", "country": "PRT"}),
            json!({"timezone": "GMT+1", "locale": "en--US", "country": "1A"}),
            json!({"timezone": 3, "locale": "1en", "country": null}),
            json!({"locale": "en US", "country": "Ü"}),
            json!({"locale": "x".repeat(36)}),
            json!({"app": {"version": "1"}}),
        ] {
            assert_eq!(context(bad.clone()), ContextProfile::default(), "{bad}");
        }
    }

    #[test]
    fn each_field_keeps_its_latest_value_whatever_the_arrival_order() {
        let conn = open();
        see(
            &conn,
            "u",
            10,
            json!({"timezone": "Europe/Lisbon", "locale": "pt-PT"}),
        );
        see(
            &conn,
            "u",
            5,
            json!({"timezone": "America/New_York", "country": "US"}),
        );
        see(&conn, "u", 20, json!({"locale": "en-GB"}));
        see(&conn, "u", 15, json!({}));
        let profile = profile(&conn, "u").unwrap().unwrap();
        assert_eq!(profile.timezone.as_deref(), Some("Europe/Lisbon"));
        assert_eq!(profile.time_zone(), Some(chrono_tz::Europe::Lisbon));
        assert_eq!(profile.locale.as_deref(), Some("en-GB"));
        assert_eq!(profile.country.as_deref(), Some("US"), "only one report");
        assert_eq!(
            (profile.first_seen_at, profile.last_seen_at),
            (at(5), at(20))
        );
        assert_eq!(super::profile(&conn, "nobody").unwrap(), None);
    }

    #[test]
    fn traits_keep_the_latest_value_per_key() {
        let conn = open();
        see(&conn, "u", 0, json!({}));
        let traits = |v: Value| v.as_object().unwrap().clone();
        record_traits(
            &conn,
            "u",
            &traits(json!({"first_name": "Ana", "email": "a@x.pt"})),
            at(10),
        )
        .unwrap();
        record_traits(
            &conn,
            "u",
            &traits(json!({"first_name": "Old", "phone": "+351"})),
            at(5),
        )
        .unwrap();
        let profile = profile(&conn, "u").unwrap().unwrap();
        assert_eq!(
            profile.traits,
            traits(json!({"first_name": "Ana", "email": "a@x.pt", "phone": "+351"}))
        );
        assert_eq!(profile.email(), Some("a@x.pt"));
        assert_eq!(profile.phone(), Some("+351"));
    }

    #[test]
    fn merging_gives_only_what_is_newer() {
        let conn = open();
        see(
            &conn,
            "anon",
            1,
            json!({"timezone": "Asia/Tokyo", "country": "JP"}),
        );
        see(&conn, "u", 5, json!({"timezone": "Europe/Paris"}));
        let traits = |v: Value| v.as_object().unwrap().clone();
        record_traits(
            &conn,
            "anon",
            &traits(json!({"first_name": "Ken", "plan": "free"})),
            at(1),
        )
        .unwrap();
        record_traits(&conn, "u", &traits(json!({"plan": "gold"})), at(4)).unwrap();
        merge(&conn, "anon", "u").unwrap();
        let merged = profile(&conn, "u").unwrap().unwrap();
        assert_eq!(merged.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(merged.country.as_deref(), Some("JP"));
        assert_eq!(merged.first_seen_at, at(1));
        assert_eq!(
            merged.traits,
            traits(json!({"first_name": "Ken", "plan": "gold"}))
        );
        merge(&conn, "nobody", "u").unwrap();
        assert_eq!(profile(&conn, "u").unwrap().unwrap(), merged);
    }

    #[test]
    fn sightings_fold_like_the_table() {
        let mut first = Sighting::new(at(10), context(json!({"country": "PT"})));
        first.merge(Sighting::new(
            at(5),
            context(json!({"country": "ES", "locale": "es"})),
        ));
        first.merge(Sighting::new(at(10), context(json!({"country": "FR"}))));
        assert_eq!((first.first_at, first.last_at), (at(5), at(10)));
        assert_eq!(first.country, Some(("FR".into(), at(10))));
        assert_eq!(first.locale, Some(("es".into(), at(5))));
    }
}
