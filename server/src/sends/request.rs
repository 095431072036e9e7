//! The send request (format in `README.md` beside this file): read, checked in full and
//! resolved against the stored campaigns and segments, so a [`Send`] can only exist
//! in a valid state and planning it for a user never fails.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use beckon::common::FieldError;
use beckon::consent::Channel;
use beckon::messages::{Campaign, CampaignStatus};
use beckon::protocol::{check_id, PromoOffer};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::content::{read_content, read_deep_link, Content, RawContent};
use super::problems::Problems;
use super::schedule::{parse_clock, parse_instant, parse_local, Expiry, QuietHours, Schedule};

/// The request format this build reads.
pub const SEND_SCHEMA_VERSION: u32 = 1;
/// Largest send request, in bytes.
pub const MAX_SEND_BYTES: usize = 64 * 1024;
/// Shortest and longest `ttl_seconds`: a minute to 28 days (FCM keeps messages at most
/// four weeks).
pub const TTL_SECONDS: RangeInclusive<u64> = 60..=28 * 24 * 3600;
/// Longest collapse id, in bytes (APNs' `apns-collapse-id` limit).
pub const MAX_COLLAPSE_ID_BYTES: usize = 64;
/// How far in the past an `at` schedule may lie, for clocks that disagree a little.
const AT_LEEWAY: TimeDelta = TimeDelta::seconds(60);
/// The furthest any zone is behind and ahead of UTC (Etc/GMT+12, Pacific/Kiritimati).
const WESTMOST_OFFSET: TimeDelta = TimeDelta::hours(12);
const EASTMOST_OFFSET: TimeDelta = TimeDelta::hours(14);

/// What the request is checked against: the stored definitions, as the server holds them.
pub trait Definitions {
    /// The campaign with this id, or why there is none to use.
    fn campaign(&self, id: &str) -> Result<Campaign, String>;
    /// `Ok` when a send may target this segment, or why not (unknown, archived...).
    fn segment(&self, id: &str) -> Result<(), String>;
}

/// Why a send request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The text is not JSON at all.
    #[error("send request is not valid JSON: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Every problem found, each with its path (`content.variants.pt-BR.body`).
    #[error("{}", join(.0))]
    Invalid(Vec<FieldError>),
}

impl SendError {
    /// The problems with their paths; empty for a syntax error.
    pub fn errors(&self) -> &[FieldError] {
        match self {
            SendError::Syntax { .. } => &[],
            SendError::Invalid(errors) => errors,
        }
    }

    fn one(path: &str, problem: impl Into<String>) -> SendError {
        SendError::Invalid(vec![FieldError::new(path, problem)])
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who the request named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    UserKey(String),
    Segment(String),
    Campaign(String),
}

/// Who receives the send, resolved: one user, or the members of any of `any_of`
/// (everyone when empty) who are in none of `exclude`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    User(String),
    Segments {
        any_of: Vec<String>,
        exclude: Vec<String>,
    },
}

impl Target {
    /// Whether a user with these segment memberships receives the send.
    pub fn admits(&self, user_key: &str, memberships: &BTreeSet<String>) -> bool {
        match self {
            Target::User(key) => key == user_key,
            Target::Segments { any_of, exclude } => {
                (any_of.is_empty() || any_of.iter().any(|s| memberships.contains(s)))
                    && !exclude.iter().any(|s| memberships.contains(s))
            }
        }
    }
}

/// A validated send.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    audience: Audience,
    target: Target,
    content: Content,
    promo: Option<PromoOffer>,
    channels: Vec<Channel>,
    schedule: Schedule,
    quiet_hours: Option<QuietHours>,
    expiry: Option<Expiry>,
    collapse_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl Send {
    /// Reads and checks a send request created at `now`. Re-reading a stored request
    /// with its creation time gives the same send (as long as the definitions it names
    /// are unchanged).
    pub fn parse(
        json: &str,
        definitions: &impl Definitions,
        now: DateTime<Utc>,
    ) -> Result<Send, SendError> {
        if json.len() > MAX_SEND_BYTES {
            return Err(SendError::one(
                "request",
                format!(
                    "is {} bytes, over the {MAX_SEND_BYTES}-byte limit",
                    json.len()
                ),
            ));
        }
        let value: Value = serde_json::from_str(json).map_err(|e| SendError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Send::from_value(&value, definitions, now)
    }

    /// [`Send::parse`] for a request already parsed as JSON.
    pub fn from_value(
        value: &Value,
        definitions: &impl Definitions,
        now: DateTime<Utc>,
    ) -> Result<Send, SendError> {
        check_schema_version(value)?;
        let raw: RawRequest = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            // An unknown field named "" adds an empty last segment (`content.`, or
            // nothing at the top): the object holding it is where the problem is.
            let path = match path.trim_end_matches('.') {
                "" => "request",
                path => path,
            };
            SendError::one(path, e.into_inner().to_string())
        })?;
        let mut problems = Problems::default();
        let send = raw.validate(definitions, now, &mut problems);
        match send {
            Some(send) if problems.is_empty() => Ok(send),
            _ => Err(SendError::Invalid(problems.into_errors())),
        }
    }

    /// Who the request named.
    pub fn audience(&self) -> &Audience {
        &self.audience
    }
    /// Who receives it.
    pub fn target(&self) -> &Target {
        &self.target
    }
    /// The stored campaign the send is for, which attribution reports.
    pub fn campaign_id(&self) -> Option<&str> {
        match &self.audience {
            Audience::Campaign(id) => Some(id),
            _ => None,
        }
    }
    pub fn content(&self) -> &Content {
        &self.content
    }
    /// The promo the push carries, in the payload's own type.
    pub fn promo(&self) -> Option<&PromoOffer> {
        self.promo.as_ref()
    }
    /// The channels to try, in order; never empty, no repeats.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    pub fn quiet_hours(&self) -> Option<&QuietHours> {
        self.quiet_hours.as_ref()
    }
    pub fn expiry(&self) -> Option<&Expiry> {
        self.expiry.as_ref()
    }
    /// Messages with the same collapse id replace each other on the device.
    pub fn collapse_id(&self) -> Option<&str> {
        self.collapse_id.as_deref()
    }
    /// When the send was created: the instant of a send to go `now`.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// The version is checked first: another version is refused with no further checks,
/// as its fields may mean something else.
fn check_schema_version(value: &Value) -> Result<(), SendError> {
    let Some(object) = value.as_object() else {
        return Err(SendError::one("request", "must be a JSON object"));
    };
    match object.get("schema_version") {
        Some(v) if v.as_u64() == Some(u64::from(SEND_SCHEMA_VERSION)) => Ok(()),
        Some(v) => Err(SendError::one(
            "schema_version",
            format!("{v} is not supported; this server reads {SEND_SCHEMA_VERSION}"),
        )),
        None => Err(SendError::one(
            "schema_version",
            format!("is required; this server reads {SEND_SCHEMA_VERSION}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    #[allow(dead_code)]
    schema_version: u32,
    audience: RawAudience,
    content: Option<RawContent>,
    channels: Option<Vec<Channel>>,
    schedule: Option<RawSchedule>,
    quiet_hours: Option<RawQuietHours>,
    ttl_seconds: Option<u64>,
    expires_at: Option<String>,
    collapse_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawAudience {
    UserKey(String),
    Segment(String),
    Campaign(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawSchedule {
    Now,
    At(String),
    Local(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuietHours {
    start: String,
    end: String,
}

impl RawRequest {
    fn validate(
        self,
        definitions: &impl Definitions,
        now: DateTime<Utc>,
        problems: &mut Problems,
    ) -> Option<Send> {
        let (audience, target, campaign) = match self.read_audience(definitions, problems) {
            Some((audience, target, campaign)) => (Some(audience), Some(target), campaign),
            None => (None, None, None),
        };
        let raw_promo = self.content.as_ref().and_then(|c| c.promo.as_ref());
        // A promo given but invalid still counts as given, so its problems are not
        // repeated as "uses {{promo_code}} but the send has no promo".
        let promo = match raw_promo {
            Some(raw) => raw.validate("content.promo", now, problems).map(Some),
            None => Some(None),
        };
        let content = self.read_content(campaign.as_ref(), raw_promo.is_some(), problems);
        let channels = read_channels(self.channels.as_deref(), problems);
        let schedule = read_schedule(self.schedule.as_ref(), now, problems);
        let quiet_hours = match &self.quiet_hours {
            Some(raw) => read_quiet_hours(raw, problems).map(Some),
            None => Some(None),
        };
        let expiry = self.read_expiry(schedule.as_ref(), now, problems);
        let collapse_id = match &self.collapse_id {
            Some(id) => problems
                .check("collapse_id", check_collapse_id(id))
                .then(|| Some(id.clone())),
            None => Some(None),
        };
        Some(Send {
            audience: audience?,
            target: target?,
            content: content?,
            promo: promo?,
            channels: channels?,
            schedule: schedule?,
            quiet_hours: quiet_hours?,
            expiry: expiry?,
            collapse_id: collapse_id?,
            created_at: now,
        })
    }

    fn read_audience(
        &self,
        definitions: &impl Definitions,
        problems: &mut Problems,
    ) -> Option<(Audience, Target, Option<Campaign>)> {
        match &self.audience {
            RawAudience::UserKey(key) => match check_id("audience.user_key", key) {
                Ok(()) => Some((
                    Audience::UserKey(key.clone()),
                    Target::User(key.clone()),
                    None,
                )),
                Err(e) => {
                    problems.add(&e.field, e.problem);
                    None
                }
            },
            RawAudience::Segment(id) => match definitions.segment(id) {
                Ok(()) => Some((
                    Audience::Segment(id.clone()),
                    Target::Segments {
                        any_of: vec![id.clone()],
                        exclude: Vec::new(),
                    },
                    None,
                )),
                Err(why) => {
                    problems.add("audience.segment", why);
                    None
                }
            },
            RawAudience::Campaign(id) => {
                let campaign = definitions
                    .campaign(id)
                    .map_err(|why| problems.add("audience.campaign", why))
                    .ok()?;
                read_campaign_audience(&campaign, definitions, problems)
                    .map(|target| (Audience::Campaign(id.clone()), target, Some(campaign)))
            }
        }
    }

    fn read_content(
        &self,
        campaign: Option<&Campaign>,
        has_promo: bool,
        problems: &mut Problems,
    ) -> Option<Content> {
        let raw = self.content.as_ref();
        // Read before the texts but not returned from early, so both report problems.
        let deep_link = match raw.and_then(|c| c.deep_link.as_deref()) {
            Some(text) => read_deep_link(text, has_promo, problems).map(Some),
            None => Some(None),
        };
        let content = match (&self.audience, raw) {
            (RawAudience::Campaign(id), raw) => {
                let mut own_texts = false;
                for (key, given) in [
                    ("variants", raw.is_some_and(|c| c.variants.is_some())),
                    (
                        "default_locale",
                        raw.is_some_and(|c| c.default_locale.is_some()),
                    ),
                ] {
                    if given {
                        problems.add(
                            &format!("content.{key}"),
                            format!("comes from campaign \"{id}\"; leave it out"),
                        );
                        own_texts = true;
                    }
                }
                if own_texts {
                    return None;
                }
                campaign.map(Content::from_campaign)
            }
            (_, Some(raw)) => read_content(raw, has_promo, problems),
            (_, None) => {
                problems.add(
                    "content",
                    "is required unless the audience is a campaign, whose texts are used",
                );
                None
            }
        };
        Some(content?.with_deep_link(deep_link?))
    }

    fn read_expiry(
        &self,
        schedule: Option<&Schedule>,
        now: DateTime<Utc>,
        problems: &mut Problems,
    ) -> Option<Option<Expiry>> {
        match (self.ttl_seconds, &self.expires_at) {
            (None, None) => Some(None),
            (Some(_), Some(_)) => {
                problems.add(
                    "expires_at",
                    "give either ttl_seconds or expires_at, not both",
                );
                None
            }
            (Some(ttl), None) => {
                if TTL_SECONDS.contains(&ttl) {
                    Some(Some(Expiry::After(Duration::from_secs(ttl))))
                } else {
                    problems.add(
                        "ttl_seconds",
                        format!(
                            "{ttl} is outside {}..={} (a minute to 28 days)",
                            TTL_SECONDS.start(),
                            TTL_SECONDS.end()
                        ),
                    );
                    None
                }
            }
            (None, Some(text)) => {
                let at = parse_instant(text)
                    .map_err(|problem| problems.add("expires_at", problem))
                    .ok()?;
                let earliest_delivery = match schedule {
                    Some(Schedule::Now) | None => now,
                    Some(Schedule::At(t)) => (*t).max(now),
                    // The wall-clock time comes first where the clock is furthest ahead.
                    Some(Schedule::Local(local)) => (local.and_utc() - EASTMOST_OFFSET).max(now),
                };
                if at <= earliest_delivery {
                    let when = if at <= now {
                        "is in the past"
                    } else {
                        "is before the scheduled time"
                    };
                    problems.add("expires_at", format!("{text} {when}"));
                    return None;
                }
                Some(Some(Expiry::At(at)))
            }
        }
    }
}

/// A campaign's audience: only an active campaign is sent, and every segment it names
/// must still be usable.
fn read_campaign_audience(
    campaign: &Campaign,
    definitions: &impl Definitions,
    problems: &mut Problems,
) -> Option<Target> {
    const PATH: &str = "audience.campaign";
    if campaign.status() != CampaignStatus::Active {
        problems.add(
            PATH,
            format!(
                "campaign \"{}\" is {}; only active campaigns are sent",
                campaign.id(),
                campaign.status()
            ),
        );
        return None;
    }
    let audience = campaign.audience();
    let mut ok = true;
    for id in audience.segments.iter().chain(&audience.exclude) {
        if let Err(why) = definitions.segment(id) {
            problems.add(
                PATH,
                format!(
                    "campaign \"{}\" names segment \"{id}\": {why}",
                    campaign.id()
                ),
            );
            ok = false;
        }
    }
    ok.then(|| Target::Segments {
        any_of: audience.segments.clone(),
        exclude: audience.exclude.clone(),
    })
}

fn read_channels(channels: Option<&[Channel]>, problems: &mut Problems) -> Option<Vec<Channel>> {
    let Some(channels) = channels else {
        return Some(Channel::ALL.to_vec());
    };
    if channels.is_empty() {
        problems.add("channels", "must name at least one channel");
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for channel in channels {
        if !seen.insert(channel) {
            problems.add("channels", format!("lists {channel} twice"));
            ok = false;
        }
    }
    ok.then(|| channels.to_vec())
}

fn read_schedule(
    schedule: Option<&RawSchedule>,
    now: DateTime<Utc>,
    problems: &mut Problems,
) -> Option<Schedule> {
    match schedule {
        None | Some(RawSchedule::Now) => Some(Schedule::Now),
        Some(RawSchedule::At(text)) => {
            let at = parse_instant(text)
                .map_err(|problem| problems.add("schedule.at", problem))
                .ok()?;
            if at < now - AT_LEEWAY {
                problems.add(
                    "schedule.at",
                    format!("{text} is in the past; use \"now\" to send at once"),
                );
                return None;
            }
            Some(Schedule::At(at))
        }
        Some(RawSchedule::Local(text)) => {
            let local = parse_local(text)
                .map_err(|problem| problems.add("schedule.local", problem))
                .ok()?;
            // The last place to reach that wall-clock time is the furthest behind UTC.
            if local.and_utc() + WESTMOST_OFFSET < now {
                problems.add(
                    "schedule.local",
                    format!("{text} has already passed in every time zone"),
                );
                return None;
            }
            Some(Schedule::Local(local))
        }
    }
}

fn read_quiet_hours(raw: &RawQuietHours, problems: &mut Problems) -> Option<QuietHours> {
    let start = parse_clock(&raw.start).map_err(|p| problems.add("quiet_hours.start", p));
    let end = parse_clock(&raw.end).map_err(|p| problems.add("quiet_hours.end", p));
    let (start, end) = (start.ok()?, end.ok()?);
    QuietHours::new(start, end)
        .map_err(|p| problems.add("quiet_hours", p))
        .ok()
}

/// Collapse ids travel in HTTP headers: 1 to 64 bytes of visible ASCII.
fn check_collapse_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty".into());
    }
    if id.len() > MAX_COLLAPSE_ID_BYTES {
        return Err(format!(
            "is {} bytes, over the {MAX_COLLAPSE_ID_BYTES}-byte limit",
            id.len()
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("may only have visible ASCII characters, no spaces".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
