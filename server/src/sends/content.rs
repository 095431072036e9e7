//! What a send says: a title and body per locale, a default locale, an optional deep
//! link. Every text is a template of the shared engine, parsed once when the send is
//! created, so rendering for each user never parses or fails.

use std::collections::BTreeMap;

use beckon::common::Money;
use beckon::messages::campaign::{check_locale_tag, MAX_BODY_CHARS, MAX_TITLE_CHARS, MAX_VARIANTS};
use beckon::messages::locale::normalize;
use beckon::messages::{
    check_link, choose_locale, Campaign, Field, OutputMode, RenderContext, Template,
};
use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::promo::RawPromo;

/// A send's content, ready to render.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Content {
    default_locale: String,
    variants: BTreeMap<String, Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deep_link: Option<DeepLink>,
    #[serde(skip)]
    tags: Vec<String>,
    #[serde(skip)]
    free_shipping_thresholds: BTreeMap<String, Money>,
}

/// One locale's texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub title: Template,
    pub body: Template,
}

/// The deep link: a template rendered in URL mode, and what it renders to when no
/// value is known (checked to be a valid link when the send is created), used for a
/// user whose own values would not make a valid link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeepLink {
    template: Template,
    #[serde(skip)]
    fallback: String,
}

impl DeepLink {
    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn fallback(&self) -> &str {
        &self.fallback
    }
}

impl Content {
    /// The content of a stored campaign: its locale variants (title and body) and its
    /// free-shipping thresholds.
    pub fn from_campaign(campaign: &Campaign) -> Content {
        let variants = campaign
            .variants()
            .iter()
            .map(|(tag, v)| {
                let message = Message {
                    title: v.title.clone(),
                    body: v.body.clone(),
                };
                (tag.clone(), message)
            })
            .collect();
        Content::new(
            campaign.default_locale().to_owned(),
            variants,
            campaign.free_shipping_threshold().clone(),
        )
    }

    fn new(
        default_locale: String,
        variants: BTreeMap<String, Message>,
        free_shipping_thresholds: BTreeMap<String, Money>,
    ) -> Content {
        Content {
            tags: variants.keys().cloned().collect(),
            default_locale,
            variants,
            deep_link: None,
            free_shipping_thresholds,
        }
    }

    /// The same content with a deep link.
    pub fn with_deep_link(mut self, deep_link: Option<DeepLink>) -> Content {
        self.deep_link = deep_link;
        self
    }

    pub fn default_locale(&self) -> &str {
        &self.default_locale
    }

    /// Messages per locale tag; never empty.
    pub fn variants(&self) -> &BTreeMap<String, Message> {
        &self.variants
    }

    pub fn deep_link(&self) -> Option<&DeepLink> {
        self.deep_link.as_ref()
    }

    /// Per currency; a campaign's own, else none.
    pub fn free_shipping_thresholds(&self) -> &BTreeMap<String, Money> {
        &self.free_shipping_thresholds
    }

    /// The variant for a user's locale (`pt-BR` → `pt` → the default; see
    /// `beckon::messages::choose_locale`), with its tag as written in the send.
    pub fn variant_for(&self, locale: &str) -> (&str, &Message) {
        let chosen = choose_locale(&self.tags, locale, &self.default_locale);
        self.variants
            .get_key_value(chosen.as_str())
            // The default names a variant, but compared as a locale (`pt_BR` for `pt-BR`).
            .or_else(|| {
                let wanted = normalize(&chosen);
                self.variants
                    .iter()
                    .find(|(tag, _)| normalize(tag) == wanted)
            })
            .or_else(|| self.variants.iter().next())
            .map(|(tag, message)| (tag.as_str(), message))
            .expect("validation guarantees at least one variant")
    }
}

/// The content as written in a send request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContent {
    pub(super) default_locale: Option<String>,
    pub(super) variants: Option<BTreeMap<String, RawMessage>>,
    pub(super) deep_link: Option<String>,
    pub(super) promo: Option<RawPromo>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMessage {
    title: String,
    body: String,
}

/// Checks the request's own locale variants and default locale, reporting under
/// `content.`; `has_promo` says whether `{{promo_code}}` has a value to show.
pub(super) fn read_content(
    raw: &RawContent,
    has_promo: bool,
    problems: &mut Problems,
) -> Option<Content> {
    let variants = match &raw.variants {
        Some(variants) => read_variants(variants, has_promo, problems),
        None => {
            problems.add(
                "content.variants",
                "is required: a title and body per locale",
            );
            None
        }
    };
    let default_locale = match &raw.default_locale {
        Some(tag) => read_default_locale(tag, raw.variants.as_ref(), problems),
        None => {
            problems.add(
                "content.default_locale",
                "is required: the locale shown when no other fits",
            );
            None
        }
    };
    Some(Content::new(default_locale?, variants?, BTreeMap::new()))
}

fn read_variants(
    raw: &BTreeMap<String, RawMessage>,
    has_promo: bool,
    problems: &mut Problems,
) -> Option<BTreeMap<String, Message>> {
    if raw.is_empty() {
        problems.add("content.variants", "needs at least one locale");
        return None;
    }
    if raw.len() > MAX_VARIANTS {
        problems.add(
            "content.variants",
            format!(
                "has {} locales, over the limit of {MAX_VARIANTS}",
                raw.len()
            ),
        );
        return None;
    }
    let mut variants = BTreeMap::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut ok = true;
    for (tag, message) in raw {
        let path = format!("content.variants.{tag}");
        if !problems.check(&path, check_locale_tag(tag)) {
            ok = false;
            continue;
        }
        if let Some(first) = seen.insert(normalize(tag), tag) {
            problems.add(&path, format!("is the same locale as \"{first}\""));
            ok = false;
            continue;
        }
        let title = read_text(
            &format!("{path}.title"),
            &message.title,
            MAX_TITLE_CHARS,
            has_promo,
            problems,
        );
        let body = read_text(
            &format!("{path}.body"),
            &message.body,
            MAX_BODY_CHARS,
            has_promo,
            problems,
        );
        match (title, body) {
            (Some(title), Some(body)) => {
                variants.insert(tag.clone(), Message { title, body });
            }
            _ => ok = false,
        }
    }
    ok.then_some(variants)
}

fn read_default_locale(
    tag: &str,
    variants: Option<&BTreeMap<String, RawMessage>>,
    problems: &mut Problems,
) -> Option<String> {
    const PATH: &str = "content.default_locale";
    if !problems.check(PATH, check_locale_tag(tag)) {
        return None;
    }
    // Without variants there is nothing to name; that is reported on its own.
    let variants = variants.filter(|v| !v.is_empty())?;
    let wanted = normalize(tag);
    if variants.keys().any(|v| normalize(v) == wanted) {
        Some(tag.to_owned())
    } else {
        let names: Vec<&str> = variants.keys().map(String::as_str).collect();
        problems.add(
            PATH,
            format!(
                "\"{tag}\" names no variant; the variants are {}",
                names.join(", ")
            ),
        );
        None
    }
}

/// A non-blank template of at most `max_chars` characters.
fn read_text(
    path: &str,
    text: &str,
    max_chars: usize,
    has_promo: bool,
    problems: &mut Problems,
) -> Option<Template> {
    if text.trim().is_empty() {
        problems.add(path, "must not be empty");
        return None;
    }
    let chars = text.chars().count();
    if chars > max_chars {
        problems.add(
            path,
            format!("is {chars} characters, over the {max_chars}-character limit"),
        );
        return None;
    }
    let template = read_template(path, text, problems)?;
    check_promo_use(path, &template, has_promo, problems).then_some(template)
}

fn read_template(path: &str, text: &str, problems: &mut Problems) -> Option<Template> {
    Template::parse(text)
        .map_err(|e| problems.add(path, e.to_string()))
        .ok()
}

/// `{{promo_code}}` in a send without a promo would always be blank: refused.
fn check_promo_use(
    path: &str,
    template: &Template,
    has_promo: bool,
    problems: &mut Problems,
) -> bool {
    let uses_promo = template.fields().any(|f| *f == Field::PromoCode);
    if uses_promo && !has_promo {
        problems.add(path, "uses {{promo_code}} but the send has no promo");
        return false;
    }
    true
}

/// A link a send may carry: one messages accept, and one every device reads from a
/// push payload (`beckon.deep_link`: at most 1024 bytes, valid percent escapes...).
pub(super) fn check_send_link(link: &str) -> Result<(), String> {
    check_link(link)?;
    beckon::protocol::check_deep_link(link)
}

/// Reads `content.deep_link`: a template whose output, with every value missing, must
/// already be a valid link (so every user gets one).
pub(super) fn read_deep_link(
    text: &str,
    has_promo: bool,
    problems: &mut Problems,
) -> Option<DeepLink> {
    const PATH: &str = "content.deep_link";
    let template = read_template(PATH, text, problems)?;
    if !check_promo_use(PATH, &template, has_promo, problems) {
        return None;
    }
    let empty = RenderContext {
        output: OutputMode::Url,
        ..RenderContext::default()
    };
    let fallback = template.render(&empty).text;
    match check_send_link(&fallback) {
        Ok(()) => Some(DeepLink { template, fallback }),
        Err(problem) => {
            problems.add(
                PATH,
                format!("with no value known it renders as \"{fallback}\": {problem}"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Value};

    use super::*;

    fn tags(content: &Content) -> BTreeSet<&str> {
        content.variants.keys().map(String::as_str).collect()
    }

    fn read(v: Value, has_promo: bool) -> Result<Content, Vec<String>> {
        let raw: RawContent = serde_json::from_value(v).map_err(|e| vec![e.to_string()])?;
        let mut problems = Problems::default();
        let link = raw
            .deep_link
            .as_deref()
            .map(|l| read_deep_link(l, has_promo, &mut problems));
        let content =
            read_content(&raw, has_promo, &mut problems).map(|c| c.with_deep_link(link.flatten()));
        match content {
            Some(c) if problems.is_empty() => Ok(c),
            _ => Err(problems.into_messages()),
        }
    }

    #[test]
    fn reads_variants_and_picks_them_by_locale() {
        let content = read(
            json!({
                "default_locale": "en",
                "variants": {
                    "en": {"title": "Hi {{first_name | there}}", "body": "Your cart misses you"},
                    "pt": {"title": "Olá {{first_name | você}}", "body": "O seu carrinho espera"},
                    "pt-BR": {"title": "Oi {{first_name | você}}", "body": "Seu carrinho te espera"}
                },
                "deep_link": "shop://cart?utm_source=push"
            }),
            false,
        )
        .unwrap();
        assert_eq!(tags(&content), BTreeSet::from(["en", "pt", "pt-BR"]));
        let pick = |locale| content.variant_for(locale).0;
        assert_eq!(pick("pt_BR"), "pt-BR");
        assert_eq!(pick("pt-PT"), "pt");
        assert_eq!(pick("de"), "en");
        assert_eq!(pick(""), "en");
        let (_, message) = content.variant_for("pt-BR");
        assert_eq!(message.title.source(), "Oi {{first_name | você}}");
        assert_eq!(
            content.deep_link().unwrap().fallback(),
            "shop://cart?utm_source=push"
        );
    }

    #[test]
    fn a_default_spelled_differently_still_finds_its_variant() {
        let content = read(
            json!({"default_locale": "pt_BR", "variants": {"pt-BR": {"title": "Oi", "body": "Tudo bem"}}}),
            false,
        )
        .unwrap();
        assert_eq!(content.variant_for("de").0, "pt-BR");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let errs = read(
            json!({
                "default_locale": "fr",
                "variants": {
                    "en": {"title": "Hi {{frist_name}}", "body": " "},
                    "pt-BR": {"title": "Oi", "body": "Use {{promo_code}}"},
                    "pt_BR": {"title": "Oi", "body": "Oi"},
                    "english": {"title": "x", "body": "y"}
                }
            }),
            false,
        )
        .unwrap_err();
        assert_eq!(
            errs,
            [
                "content.variants.en.title: \"{{frist_name}}\" at column 4 is not a known field; did you mean first_name?",
                "content.variants.en.body: must not be empty",
                "content.variants.english: \"english\" is not a language tag such as en, pt or pt-BR",
                "content.variants.pt-BR.body: uses {{promo_code}} but the send has no promo",
                "content.variants.pt_BR: is the same locale as \"pt-BR\"",
                "content.default_locale: \"fr\" names no variant; the variants are en, english, pt-BR, pt_BR",
            ]
        );
    }

    #[test]
    fn required_parts_and_limits() {
        let errs = read(json!({}), false).unwrap_err();
        assert_eq!(
            errs,
            [
                "content.variants: is required: a title and body per locale",
                "content.default_locale: is required: the locale shown when no other fits",
            ]
        );
        let errs = read(json!({"default_locale": "en", "variants": {}}), false).unwrap_err();
        assert_eq!(errs, ["content.variants: needs at least one locale"]);
        let long = "x".repeat(MAX_TITLE_CHARS + 1);
        let errs = read(
            json!({"default_locale": "en", "variants": {"en": {"title": long, "body": "b"}}}),
            false,
        )
        .unwrap_err();
        assert_eq!(
            errs,
            ["content.variants.en.title: is 201 characters, over the 200-character limit"]
        );
        let errs = read(
            json!({"default_locale": "en", "variants": {"en": {"title": "t", "body": "b", "image": "x"}}}),
            false,
        )
        .unwrap_err();
        assert!(
            errs[0].contains("unknown field `image`, expected `title` or `body`"),
            "{errs:?}"
        );
    }

    #[test]
    fn the_promo_code_may_be_used_when_there_is_a_promo() {
        let content = read(
            json!({"default_locale": "en", "variants": {"en": {"title": "t", "body": "Use {{promo_code}}"}},
                   "deep_link": "shop://cart?code={{promo_code}}"}),
            true,
        )
        .unwrap();
        assert_eq!(content.deep_link().unwrap().fallback(), "shop://cart?code=");
    }

    #[test]
    fn a_deep_link_must_be_a_link_even_with_no_value_known() {
        let link = |text: &str| {
            let mut problems = Problems::default();
            let link = read_deep_link(text, false, &mut problems);
            (
                link.map(|l| l.fallback().to_owned()),
                problems.into_messages(),
            )
        };
        assert_eq!(
            link("{{last_viewed_product_url | https://shop.example/}}?utm_source=push"),
            (
                Some("https://shop.example/?utm_source=push".to_owned()),
                vec![]
            )
        );
        assert_eq!(
            link("shop://product/{{trait.product_id | bestsellers}}"),
            (Some("shop://product/bestsellers".to_owned()), vec![])
        );
        let problems = |text: &str| link(text).1;
        assert_eq!(
            problems("{{last_viewed_product_url}}"),
            ["content.deep_link: with no value known it renders as \"\": must not be empty"]
        );
        assert_eq!(
            problems("/cart/{{first_name}}"),
            ["content.deep_link: with no value known it renders as \"/cart/\": \"/cart/\" is not absolute; start it with a scheme such as https:// or yourapp://"]
        );
        assert_eq!(
            problems("javascript:alert({{first_name}})"),
            ["content.deep_link: with no value known it renders as \"javascript:alert()\": the javascript: scheme is not allowed"]
        );
        // Found by fuzzing (fuzz/corpus/server_send): links devices would refuse in a
        // push were accepted, and every push of the send then failed.
        assert_eq!(
            problems("shop://x/%zz{{first_name}}"),
            ["content.deep_link: with no value known it renders as \"shop://x/%zz\": \"%zz\" is not a valid percent escape"]
        );
        let long = format!("shop://x/{}", "a".repeat(1100));
        assert!(
            problems(&long)[0].contains("over the 1024-byte limit"),
            "{:?}",
            problems(&long)
        );
        assert_eq!(
            problems("shop://x/{{promo_code}}"),
            ["content.deep_link: uses {{promo_code}} but the send has no promo"]
        );
        assert_eq!(
            problems("shop://x/{{cart_itemz}}"),
            ["content.deep_link: \"{{cart_itemz}}\" at column 10 is not a known field; did you mean cart_items?"]
        );
    }
}
