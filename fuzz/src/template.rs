//! Message templates: template text up to the first NUL byte, then the bytes the render
//! context is drawn from (traits, a history for the behaviour fields, a promo code,
//! free-shipping thresholds, the output mode).
//!
//! Checked: a refusal says where (line and column inside the text); an accepted
//! template keeps its source, parses again to itself (also through serde), and renders
//! without panicking; the fallbacks reported are fields of the template; user values
//! never add markup in HTML output nor link delimiters in URL output.

use arbitrary::Unstructured;
use beckon::messages::{FieldType, OutputMode, Template, TemplateErrorKind};

use crate::gen;

pub fn run(data: &[u8]) {
    let (text, rest) = gen::split(data);
    let template = match Template::parse(&text) {
        Ok(template) => template,
        Err(err) => {
            let _ = err.to_string();
            if !matches!(err.kind, TemplateErrorKind::TooLong { .. }) {
                assert!(err.line >= 1 && err.column >= 1, "{err:?}");
                assert!(err.line <= text.split('\n').count(), "{err:?}");
            }
            return;
        }
    };
    assert_eq!(template.source(), text);
    assert_eq!(
        Template::parse(&template.to_string()).as_ref(),
        Ok(&template)
    );
    let json = serde_json::to_string(&template).expect("a template serializes");
    assert_eq!(
        serde_json::from_str::<Template>(&json).ok().as_ref(),
        Some(&template)
    );

    let mut u = Unstructured::new(rest);
    let Ok(ctx) = gen::render_context(&mut u) else {
        return;
    };
    let rendered = template.render(&ctx);
    let fields: Vec<_> = template.fields().collect();
    for field in &rendered.fell_back {
        assert!(
            fields.contains(&field),
            "{field:?} fell back but is not used"
        );
    }
    assert_eq!(rendered.is_complete(), rendered.fell_back.is_empty());
    if template.is_blank() {
        assert!(fields.is_empty());
    }
    match ctx.output {
        OutputMode::Html if !text.contains(['<', '>']) => {
            assert!(
                !rendered.text.contains(['<', '>']),
                "user data added markup: {:?} → {:?}",
                text,
                rendered.text
            );
        }
        OutputMode::Url
            if !text.contains(['?', '&', '#', '/', ' '])
                && !fields.iter().any(|f| f.field_type() == FieldType::Url) =>
        {
            assert!(
                !rendered.text.contains(['?', '&', '#', '/', ' ']),
                "user data added link delimiters: {:?} → {:?}",
                text,
                rendered.text
            );
        }
        _ => {}
    }
}
