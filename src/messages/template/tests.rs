use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::common::money::Money;
use crate::messages::behaviour::{BehaviourSnapshot, CartLine, ViewedProduct};

fn err(text: &str) -> TemplateError {
    Template::parse(text).expect_err(text)
}

fn render(text: &str, ctx: &RenderContext) -> Rendered {
    Template::parse(text).expect(text).render(ctx)
}

fn line(id: &str, name: &str, price: f64, quantity: u32) -> CartLine {
    CartLine {
        product_id: id.into(),
        name: Some(name.into()),
        category: None,
        unit_price: Some(price),
        currency: Some("EUR".into()),
        quantity,
    }
}

fn eur(amount: f64) -> Money {
    Money::from_decimal(amount, "EUR").unwrap()
}

/// Anna, with 37.50 EUR in her cart and a 50 EUR free-shipping threshold.
fn anna() -> RenderContext {
    let mut behaviour = BehaviourSnapshot::default();
    behaviour.cart.lines = vec![
        line("p1", "Sneakers", 25.0, 1),
        line("p2", "Socks", 6.25, 2),
    ];
    behaviour.last_viewed = Some(ViewedProduct {
        product_id: Some("p9".into()),
        name: Some("Trail Boots".into()),
        category: Some("Shoes".into()),
        url: Some("https://shop.example/p9".into()),
        image_url: Some("https://cdn.example/p9.jpg".into()),
        viewed_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
    });
    behaviour.favourite_category = Some("Shoes".into());
    RenderContext {
        traits: json!({"first_name": "Anna", "last_name": "Silva", "city": "Porto", "points": 120, "vip": true, "tags": ["a"], "nothing": null})
            .as_object()
            .unwrap()
            .clone(),
        behaviour,
        promo_code: Some("SAVE10".into()),
        free_shipping_thresholds: BTreeMap::from([("EUR".into(), eur(50.0))]),
        output: OutputMode::PlainText,
    }
}

// ---- parsing ----

#[test]
fn parses_literals_and_fields_with_whitespace_and_fallbacks() {
    let t = Template::parse("Hi {{first_name | there}}, add {{  free_shipping_remaining  }} more")
        .unwrap();
    assert_eq!(
        t.parts,
        vec![
            Part::Literal("Hi ".into()),
            Part::Field {
                field: Field::FirstName,
                fallback: Some("there".into())
            },
            Part::Literal(", add ".into()),
            Part::Field {
                field: Field::FreeShippingRemaining,
                fallback: None
            },
            Part::Literal(" more".into()),
        ]
    );
    assert_eq!(
        t.fields().collect::<Vec<_>>(),
        vec![&Field::FirstName, &Field::FreeShippingRemaining]
    );
    assert_eq!(
        t.source(),
        "Hi {{first_name | there}}, add {{  free_shipping_remaining  }} more"
    );
}

#[test]
fn parses_every_named_field_and_traits() {
    for field in Field::NAMED {
        let t = Template::parse(&format!("{{{{{}}}}}", field.name())).unwrap();
        assert_eq!(t.fields().collect::<Vec<_>>(), vec![&field]);
    }
    let t = Template::parse("{{trait.loyalty_tier|gold}}").unwrap();
    assert_eq!(
        t.parts,
        vec![Part::Field {
            field: Field::Trait("loyalty_tier".into()),
            fallback: Some("gold".into())
        }]
    );
}

#[test]
fn fallbacks_keep_quoted_text_and_everything_after_the_first_bar() {
    let fallback = |text: &str| match &Template::parse(text).unwrap().parts[0] {
        Part::Field { fallback, .. } => fallback.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fallback("{{first_name|}}").as_deref(), Some(""));
    assert_eq!(fallback("{{first_name | \"\" }}").as_deref(), Some(""));
    assert_eq!(
        fallback("{{first_name | \"  dear friend \"}}").as_deref(),
        Some("  dear friend ")
    );
    assert_eq!(fallback("{{first_name | a | b}}").as_deref(), Some("a | b"));
    assert_eq!(fallback("{{first_name | {x} }}").as_deref(), Some("{x}"));
    assert_eq!(fallback("{{first_name}}"), None);
}

#[test]
fn doubled_braces_are_literal_braces() {
    let t = Template::parse("{{{{first_name}}}} is {{first_name}}; {a} }{").unwrap();
    assert_eq!(t.parts[0], Part::Literal("{{first_name}} is ".into()));
    assert_eq!(t.render(&anna()).text, "{{first_name}} is Anna; {a} }{");
    assert_eq!(Template::parse("{{{{").unwrap().render(&anna()).text, "{{");
    assert_eq!(Template::parse("").unwrap().parts, vec![]);
}

#[test]
fn unknown_field_names_the_field_its_column_and_a_suggestion() {
    let e = err("Hi {{frist_name}}");
    assert_eq!((e.line, e.column), (1, 4));
    assert_eq!(
        e.to_string(),
        "\"{{frist_name}}\" at column 4 is not a known field; did you mean first_name?"
    );
    assert_eq!(
        e.kind,
        TemplateErrorKind::UnknownField {
            snippet: "{{frist_name}}".into(),
            name: "frist_name".into(),
            suggestion: Some("first_name".into())
        }
    );
}

#[test]
fn unknown_field_without_a_near_name_lists_the_fields() {
    let e = err("{{ what is this }}").to_string();
    assert!(e.starts_with("\"{{ what is this }}\" at column 1 is not a known field; known fields are first_name, last_name,"), "{e}");
    assert!(e.ends_with("promo_code and trait.<key>"), "{e}");
    assert_eq!(
        err("{{city}}").to_string(),
        "\"{{city}}\" at column 1 is not a known field; did you mean trait.city?"
    );
}

#[test]
fn reports_lines_and_columns_in_characters() {
    let e = err("Olá Zoë,\nadd {{cart_totl}}");
    assert_eq!((e.line, e.column), (2, 5));
    assert!(
        e.to_string().starts_with(
            "\"{{cart_totl}}\" at line 2, column 5 is not a known field; did you mean cart_total?"
        ),
        "{e}"
    );
    let e = err("ééé {{x_x_x_x_x_x}}");
    assert_eq!(e.column, 5);
}

#[test]
fn rejects_empty_fields() {
    for (text, column) in [("a {{}}", 3), ("{{ }}", 1), ("{{ | fallback }}", 1)] {
        let e = err(text);
        assert!(
            matches!(e.kind, TemplateErrorKind::EmptyField { .. }),
            "{text}: {e:?}"
        );
        assert_eq!(e.column, column, "{text}");
    }
    assert_eq!(
        err("a {{ }}").to_string(),
        "\"{{ }}\" at column 3 has no field name"
    );
}

#[test]
fn rejects_unclosed_fields_saying_what_came_first() {
    assert_eq!(
        err("Hi {{first_name").to_string(),
        "\"{{\" at column 4 is not closed with \"}}\" before the end of the text"
    );
    assert_eq!(
        err("Hi {{first_name, get {{promo_code}}").to_string(),
        "\"{{\" at column 4 is not closed with \"}}\" before the next \"{{\" at column 22"
    );
    let e = err("Hi {{first_name\n}}");
    assert_eq!(
        e.kind,
        TemplateErrorKind::Unclosed(Unclosed::BeforeEndOfLine)
    );
    assert_eq!(
        e.to_string(),
        "\"{{\" at column 4 is not closed with \"}}\" before the end of its line"
    );
    assert_eq!(err("{{first_name }").column, 1);
}

#[test]
fn rejects_stray_closing_braces() {
    let e = err("Hi {first_name}}");
    assert_eq!(e.kind, TemplateErrorKind::StrayClose);
    assert_eq!(e.column, 15);
    assert_eq!(
        e.to_string(),
        "\"}}\" at column 15 closes no field; write }}}} for a literal }}"
    );
    assert_eq!(err("{{{{first_name}}").kind, TemplateErrorKind::StrayClose);
}

#[test]
fn rejects_triple_braces_and_braces_in_names() {
    let e = err("Hi {{{first_name}}}");
    assert_eq!(e.column, 4);
    assert_eq!(
        e.to_string(),
        "\"{{{first_name}}\" at column 4 has a brace inside the field name; write {{{{ for a literal {{"
    );
}

#[test]
fn rejects_bad_trait_keys() {
    assert_eq!(
        err("{{trait.}}").to_string(),
        "\"{{trait.}}\" at column 1 needs a trait key after \"trait.\", as in trait.city"
    );
    assert!(matches!(
        err("{{trait.a b}}").kind,
        TemplateErrorKind::BadTraitKey { .. }
    ));
}

#[test]
fn rejects_control_characters_but_not_line_breaks_or_tabs() {
    let e = err("Hi\u{7} there");
    assert_eq!(e.kind, TemplateErrorKind::ControlCharacter('\u{7}'));
    assert_eq!(
        e.to_string(),
        "control character U+0007 at column 3 is not allowed"
    );
    assert!(Template::parse("a\r\n\tb").is_ok());
}

#[test]
fn rejects_overlong_templates() {
    assert!(Template::parse(&"é".repeat(MAX_TEMPLATE_CHARS)).is_ok());
    let e = err(&"é".repeat(MAX_TEMPLATE_CHARS + 1));
    assert_eq!(
        e.kind,
        TemplateErrorKind::TooLong {
            chars: MAX_TEMPLATE_CHARS + 1,
            max: MAX_TEMPLATE_CHARS
        }
    );
}

#[test]
fn serializes_as_its_source_and_parses_on_deserialize() {
    let t = Template::parse("Hi {{ first_name | there }}").unwrap();
    assert_eq!(
        serde_json::to_string(&t).unwrap(),
        "\"Hi {{ first_name | there }}\""
    );
    assert_eq!(
        serde_json::from_str::<Template>("\"Hi {{ first_name | there }}\"").unwrap(),
        t
    );
    let e = serde_json::from_str::<Template>("\"{{frist_name}}\"").unwrap_err();
    assert!(e.to_string().contains("did you mean first_name?"), "{e}");
    assert_eq!(
        "{{promo_code}}".parse::<Template>().unwrap().to_string(),
        "{{promo_code}}"
    );
}

// ---- rendering ----

#[test]
fn renders_every_field_from_the_context() {
    let ctx = anna();
    let cases = [
        ("{{first_name}}", "Anna"),
        ("{{last_name}}", "Silva"),
        ("{{last_viewed_product}}", "Trail Boots"),
        ("{{last_viewed_product_url}}", "https://shop.example/p9"),
        (
            "{{last_viewed_product_image_url}}",
            "https://cdn.example/p9.jpg",
        ),
        ("{{favourite_category}}", "Shoes"),
        ("{{cart_item_count}}", "3"),
        ("{{cart_items}}", "Sneakers, Socks"),
        ("{{cart_subtotal}}", "37.50 EUR"),
        ("{{cart_total}}", "37.50 EUR"),
        ("{{free_shipping_remaining}}", "12.50 EUR"),
        ("{{promo_code}}", "SAVE10"),
        ("{{trait.city}}", "Porto"),
        ("{{trait.points}}", "120"),
        ("{{trait.vip}}", "true"),
    ];
    for (text, expected) in cases {
        let r = render(text, &ctx);
        assert_eq!(r.text, expected, "{text}");
        assert!(r.is_complete(), "{text}: {r:?}");
    }
}

#[test]
fn renders_the_free_shipping_sentence() {
    let r = render(
        "Hi {{first_name | there}}, add {{free_shipping_remaining}} more for free shipping",
        &anna(),
    );
    assert_eq!(r.text, "Hi Anna, add 12.50 EUR more for free shipping");
    assert!(r.fell_back.is_empty());
}

#[test]
fn free_shipping_is_floored_at_zero_and_needs_a_threshold_in_the_cart_currency() {
    let mut ctx = anna();
    ctx.behaviour.cart.lines.push(line("p3", "Jacket", 80.0, 1));
    assert_eq!(render("{{free_shipping_remaining}}", &ctx).text, "0.00 EUR");

    let mut usd_only = anna();
    usd_only.free_shipping_thresholds =
        BTreeMap::from([("USD".into(), Money::from_decimal(60.0, "USD").unwrap())]);
    let r = render("{{free_shipping_remaining | almost there}}", &usd_only);
    assert_eq!(r.text, "almost there");
    assert_eq!(r.fell_back, vec![Field::FreeShippingRemaining]);

    let mut lower_key = anna();
    lower_key.free_shipping_thresholds = BTreeMap::from([("eur".into(), eur(40.0))]);
    assert_eq!(
        render("{{free_shipping_remaining}}", &lower_key).text,
        "2.50 EUR"
    );
}

#[test]
fn campaign_thresholds_take_precedence_over_the_context() {
    let t = Template::parse("{{free_shipping_remaining}}").unwrap();
    let overrides = BTreeMap::from([("EUR".into(), eur(40.0))]);
    assert_eq!(t.render_with(&anna(), &overrides).text, "2.50 EUR");
    let other_currency = BTreeMap::from([("USD".into(), Money::from_decimal(1.0, "USD").unwrap())]);
    assert_eq!(t.render_with(&anna(), &other_currency).text, "12.50 EUR");
}

#[test]
fn missing_values_use_the_fallback_then_the_default_and_are_reported_once() {
    let ctx = RenderContext::default();
    let r = render(
        "Hi {{first_name | there}}{{last_name}}! {{cart_item_count}} items, {{cart_total | \"\"}}{{first_name|friend}}",
        &ctx,
    );
    assert_eq!(r.text, "Hi there! 0 items, friend");
    assert_eq!(
        r.fell_back,
        vec![Field::FirstName, Field::LastName, Field::CartTotal]
    );
    assert!(!r.is_complete());
    let defaults = render("[{{promo_code}}][{{cart_items}}][{{trait.city}}]", &ctx);
    assert_eq!(defaults.text, "[][][]");
}

#[test]
fn blank_null_and_structured_values_count_as_missing() {
    let mut ctx = anna();
    ctx.traits.insert("first_name".into(), json!("  \n "));
    let r = render(
        "{{first_name|you}} {{trait.tags|-}} {{trait.nothing|-}} {{trait.absent|-}}",
        &ctx,
    );
    assert_eq!(r.text, "you - - -");
    assert_eq!(r.fell_back.len(), 4);
}

#[test]
fn camel_case_name_traits_are_accepted() {
    let ctx = RenderContext {
        traits: json!({"firstName": "Bo", "lastName": "Li"})
            .as_object()
            .unwrap()
            .clone(),
        ..RenderContext::default()
    };
    assert_eq!(render("{{first_name}} {{last_name}}", &ctx).text, "Bo Li");
}

#[test]
fn unsafe_product_urls_are_never_inserted() {
    let mut ctx = anna();
    let viewed = ctx.behaviour.last_viewed.as_mut().unwrap();
    viewed.url = Some("javascript:alert(1)".into());
    viewed.image_url = Some("/relative.png".into());
    let r = render(
        "{{last_viewed_product_url|https://shop.example}} {{last_viewed_product_image_url}}",
        &ctx,
    );
    assert_eq!(r.text, "https://shop.example ");
    assert_eq!(
        r.fell_back,
        vec![
            Field::LastViewedProductUrl,
            Field::LastViewedProductImageUrl
        ]
    );
}

// ---- injection ----

#[test]
fn values_are_never_parsed_as_templates() {
    let mut ctx = anna();
    ctx.traits
        .insert("first_name".into(), json!("{{promo_code}}"));
    ctx.traits.insert("city".into(), json!("}}}}{{{{"));
    let r = render("Hi {{first_name}} from {{trait.city}}", &ctx);
    assert_eq!(r.text, "Hi {{promo_code}} from }}}}{{{{");
    assert!(!r.text.contains("SAVE10"));
}

#[test]
fn html_mode_escapes_values_but_trusts_the_template() {
    let mut ctx = anna();
    ctx.output = OutputMode::Html;
    ctx.traits.insert(
        "first_name".into(),
        json!("<b>Anna</b><script>x()</script>"),
    );
    let r = render(
        "<p>Hi {{first_name}} & {{trait.absent | <i>friend</i>}}</p>",
        &ctx,
    );
    assert_eq!(
        r.text,
        "<p>Hi &lt;b&gt;Anna&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt; & <i>friend</i></p>"
    );
    ctx.traits
        .insert("city".into(), json!("\" onmouseover=\"x()"));
    assert_eq!(
        render("<a title=\"{{trait.city}}\">", &ctx).text,
        "<a title=\"&quot; onmouseover=&quot;x()\">"
    );
}

#[test]
fn url_mode_encodes_values_as_components_but_keeps_a_leading_link() {
    let mut ctx = anna();
    ctx.output = OutputMode::Url;
    ctx.traits
        .insert("city".into(), json!("São Paulo&admin=1#x"));
    let r = render(
        "shop://stores/{{trait.city}}?code={{promo_code}}&n={{cart_item_count}}",
        &ctx,
    );
    assert_eq!(
        r.text,
        "shop://stores/S%C3%A3o%20Paulo%26admin%3D1%23x?code=SAVE10&n=3"
    );
    // The product's own link is the whole link when it starts the template...
    assert_eq!(
        render("{{last_viewed_product_url}}?utm_source=push", &ctx).text,
        "https://shop.example/p9?utm_source=push"
    );
    // ...and a parameter anywhere else.
    assert_eq!(
        render("shop://open?next={{last_viewed_product_url}}", &ctx).text,
        "shop://open?next=https%3A%2F%2Fshop.example%2Fp9"
    );
    // A leading text field is still a component: it cannot pick the scheme.
    ctx.traits
        .insert("first_name".into(), json!("javascript:alert(1)//"));
    assert_eq!(
        render("{{first_name}}", &ctx).text,
        "javascript%3Aalert%281%29%2F%2F"
    );
    // Fallbacks are template text, trusted as written.
    let r = render("{{trait.absent | shop://home}}", &ctx);
    assert_eq!(r.text, "shop://home");
    assert_eq!(r.fell_back, vec![Field::Trait("absent".into())]);
}

#[test]
fn plain_text_mode_inserts_markup_as_text() {
    let mut ctx = anna();
    ctx.traits.insert("first_name".into(), json!("<b>Anna</b>"));
    assert_eq!(render("Hi {{first_name}}", &ctx).text, "Hi <b>Anna</b>");
}

#[test]
fn values_lose_control_characters_and_are_length_capped() {
    let mut ctx = anna();
    ctx.traits
        .insert("first_name".into(), json!("An\u{0}na\u{1b}\n\u{202E}X"));
    assert_eq!(render("Hi {{first_name}}!", &ctx).text, "Hi Anna X!");
    ctx.traits.insert("first_name".into(), json!("\u{7}\u{8}"));
    let r = render("Hi {{first_name|there}}!", &ctx);
    assert_eq!(r.text, "Hi there!");
    ctx.traits
        .insert("first_name".into(), json!("x".repeat(10_000)));
    let r = render("{{first_name}}", &ctx);
    assert_eq!(r.text.chars().count(), MAX_VALUE_CHARS);
    assert!(r.text.ends_with('…'));
}

#[test]
fn html_escaping_applies_after_the_cap_so_entities_are_never_cut() {
    let mut ctx = anna();
    ctx.output = OutputMode::Html;
    ctx.traits
        .insert("first_name".into(), json!("&".repeat(1000)));
    let text = render("{{first_name}}", &ctx).text;
    assert!(text.ends_with("&amp;…"), "{}", &text[text.len() - 20..]);
    assert_eq!(text.matches("&amp;").count(), MAX_VALUE_CHARS - 1);
}
