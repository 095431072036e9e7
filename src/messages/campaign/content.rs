//! Reading a campaign's content: the locale variants, their buttons and templates.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::checks::{check_locale_tag, check_slug};
use super::read::{as_array, index, Errors, Object};
use super::{
    Button, Variant, MAX_BODY_CHARS, MAX_BUTTONS, MAX_LABEL_CHARS, MAX_TITLE_CHARS, MAX_VARIANTS,
};
use crate::messages::locale::normalize;
use crate::messages::template::Template;
use crate::text::quote;
use crate::text::url::{check_image_url, check_link};

pub(super) fn read_variants(value: &Value, errs: &mut Errors) -> Option<BTreeMap<String, Variant>> {
    let obj = Object::new("variants", value, errs)?;
    if obj.map.is_empty() {
        errs.add("variants", "needs at least one locale variant");
        return None;
    }
    if obj.map.len() > MAX_VARIANTS {
        errs.add(
            "variants",
            format!(
                "has {} variants, over the limit of {MAX_VARIANTS}",
                obj.map.len()
            ),
        );
        return None;
    }
    let mut variants = BTreeMap::new();
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut ok = true;
    for (tag, content) in obj.map {
        let path = obj.at(tag);
        if !errs.check(&path, check_locale_tag(tag)) {
            ok = false;
            continue;
        }
        if let Some(first) = seen.insert(normalize(tag), tag) {
            errs.add(&path, format!("is the same locale as {}", quote(first)));
            ok = false;
            continue;
        }
        match read_variant(&path, content, errs) {
            Some(variant) => {
                variants.insert(tag.clone(), variant);
            }
            None => ok = false,
        }
    }
    ok.then_some(variants)
}

fn read_variant(path: &str, value: &Value, errs: &mut Errors) -> Option<Variant> {
    let obj = Object::new(path, value, errs)?;
    obj.deny_unknown(&["title", "body", "image_url", "buttons"], errs);
    let title = read_template(&obj, "title", MAX_TITLE_CHARS, errs);
    let body = read_template(&obj, "body", MAX_BODY_CHARS, errs);
    let image_url = match obj.optional_str("image_url", errs) {
        Some(url) => errs
            .check(&obj.at("image_url"), check_image_url(url))
            .then(|| Some(url.to_owned())),
        None => obj.get("image_url").is_none().then_some(None),
    };
    let buttons = match obj.get("buttons") {
        Some(v) => read_buttons(&obj.at("buttons"), v, errs),
        None => Some(Vec::new()),
    };
    Some(Variant {
        title: title?,
        body: body?,
        image_url: image_url?,
        buttons: buttons?,
    })
}

fn read_buttons(path: &str, value: &Value, errs: &mut Errors) -> Option<Vec<Button>> {
    let items = as_array(path, value, errs)?;
    if items.len() > MAX_BUTTONS {
        errs.add(
            path,
            format!(
                "has {} buttons, over the limit of {MAX_BUTTONS}",
                items.len()
            ),
        );
        return None;
    }
    let mut buttons = Vec::with_capacity(items.len());
    let mut ids = BTreeSet::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let button = read_button(&index(path, i), item, errs);
        match button {
            Some(b) if !ids.insert(b.id.clone()) => {
                errs.add(
                    &format!("{}.id", index(path, i)),
                    format!("{} is used by another button", quote(&b.id)),
                );
                ok = false;
            }
            Some(b) => buttons.push(b),
            None => ok = false,
        }
    }
    ok.then_some(buttons)
}

fn read_button(path: &str, value: &Value, errs: &mut Errors) -> Option<Button> {
    let obj = Object::new(path, value, errs)?;
    obj.deny_unknown(&["id", "label", "url"], errs);
    let id = obj
        .required_str("id", errs)
        .filter(|id| errs.check(&obj.at("id"), check_slug(id)));
    let label = read_template(&obj, "label", MAX_LABEL_CHARS, errs);
    let url = obj
        .required_str("url", errs)
        .filter(|url| errs.check(&obj.at("url"), check_link(url)));
    Some(Button {
        id: id?.to_owned(),
        label: label?,
        url: url?.to_owned(),
    })
}

/// A required, non-blank template of at most `max_chars` characters.
fn read_template(obj: &Object, key: &str, max_chars: usize, errs: &mut Errors) -> Option<Template> {
    let path = obj.at(key);
    let text = obj.required_str(key, errs)?;
    if text.trim().is_empty() {
        errs.add(&path, "must not be empty");
        return None;
    }
    let chars = text.chars().count();
    if chars > max_chars {
        errs.add(
            &path,
            format!("is {chars} characters, over the {max_chars}-character limit"),
        );
        return None;
    }
    match Template::parse(text) {
        Ok(template) => Some(template),
        Err(e) => {
            errs.add(&path, e.to_string());
            None
        }
    }
}
