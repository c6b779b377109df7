//! Properties of the brief renderer (`TaskText::to_html` / `to_plain`) on arbitrary text: user
//! text never becomes markup, every fact is rendered in both forms, and nothing panics.

use handoffd_contract::task::{LabelledFact, TaskText};
use proptest::prelude::*;

/// Text as briefs carry it: mostly words, plus the characters HTML cares about, line breaks and
/// any Unicode (emoji, scripts, combining marks, control characters).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ a-zA-Z0-9<>&\"'/=;:#!\n]{0,40}",
        1 => "(&amp;|&lt;|&#39;|</p>|<p>|<strong>|:</strong> |<a href=\"|\">|</a>){0,6}",
        2 => any::<String>(),
    ]
}

fn task_text() -> impl Strategy<Value = TaskText> {
    let fact = (text(), text()).prop_map(|(label, value)| LabelledFact { label, value });
    (text(), prop::collection::vec(fact, 0..8), prop::option::of(text()))
        .prop_map(|(subject, facts, transcript_url)| TaskText { subject, facts, transcript_url })
}

/// Facts as `(label, value)` pairs, and the transcript link.
type Read = (Vec<(String, String)>, Option<String>);

/// The facts and transcript link read back from `to_html`'s output, or why it cannot be read:
/// only its own tags may appear, and everything between them must be escaped text.
fn read_html(mut html: &str) -> Result<Read, String> {
    let mut facts = Vec::new();
    let mut url = None;
    while !html.is_empty() {
        if url.is_some() {
            return Err(format!("markup after the transcript link: {html:?}"));
        }
        html = html.strip_prefix("<p><strong>").ok_or_else(|| format!("expected a paragraph at {html:?}"))?;
        let (label, rest) = text_until(html, ":</strong> ")?;
        if label == "Transcript"
            && let Some(rest) = rest.strip_prefix("<a href=\"")
        {
            let (href, rest) = text_until(rest, "\">")?;
            let (shown, rest) = text_until(rest, "</a></p>")?;
            if href != shown {
                return Err(format!("link target {href:?} differs from its text {shown:?}"));
            }
            url = Some(href);
            html = rest;
        } else {
            let (value, rest) = text_until(rest, "</p>")?;
            facts.push((label, value));
            html = rest;
        }
    }
    Ok((facts, url))
}

/// Escaped text up to `end`, decoded; raw `<`, `>`, quotes or a bare `&` are errors.
fn text_until<'a>(html: &'a str, end: &str) -> Result<(String, &'a str), String> {
    let at = html.find(end).ok_or_else(|| format!("no {end:?} in {html:?}"))?;
    let (mut escaped, rest) = (&html[..at], &html[at + end.len()..]);
    let mut text = String::new();
    while let Some(c) = escaped.chars().next() {
        match c {
            '<' | '>' | '"' | '\'' => return Err(format!("unescaped {c:?} in {:?}", &html[..at])),
            '&' => {
                let (entity, decoded) =
                    [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&#39;", '\'')]
                        .into_iter()
                        .find(|(entity, _)| escaped.starts_with(entity))
                        .ok_or_else(|| format!("bare '&' in {:?}", &html[..at]))?;
                text.push(decoded);
                escaped = &escaped[entity.len()..];
            }
            c => {
                text.push(c);
                escaped = &escaped[c.len_utf8()..];
            }
        }
    }
    Ok((text, rest))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The HTML is the facts and link, in order, each exactly as given once unescaped: no user
    /// text is ever read as a tag, an attribute or an entity.
    #[test]
    fn html_holds_exactly_the_escaped_facts(task in task_text()) {
        let html = task.to_html();
        let (facts, url) = read_html(&html).map_err(|e| TestCaseError::fail(format!("{e}\nin {html:?}")))?;
        let given = task.facts.iter().map(|f| (f.label.clone(), f.value.clone())).collect::<Vec<_>>();
        prop_assert_eq!(facts, given);
        prop_assert_eq!(url, task.transcript_url.clone());
    }

    /// One `Label: value` line per fact, in order, then the link: nothing dropped or added.
    #[test]
    fn plain_text_holds_every_fact_in_order(task in task_text()) {
        let expected = task
            .facts
            .iter()
            .map(|f| format!("{}: {}\n", f.label, f.value))
            .chain(task.transcript_url.iter().map(|url| format!("Transcript: {url}\n")))
            .collect::<String>();
        prop_assert_eq!(task.to_plain(), expected);
    }

    /// The subject is the action line the CRM shows apart: neither rendering repeats it, so a
    /// long subject cannot push the facts around.
    #[test]
    fn renderings_do_not_depend_on_the_subject(task in task_text(), subject in text()) {
        let other = TaskText { subject, ..task.clone() };
        prop_assert_eq!(task.to_html(), other.to_html());
        prop_assert_eq!(task.to_plain(), other.to_plain());
    }
}

#[test]
fn markup_in_user_text_is_escaped() {
    let task = TaskText {
        subject: "Call".into(),
        facts: vec![LabelledFact { label: "Need <b>".into(), value: "2BHK & \"parking\" <script>x</script>".into() }],
        transcript_url: Some("https://example.com/t?a=1&b=\"><img src=x>".into()),
    };
    let html = task.to_html();
    assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"), "{html}");
    let (facts, url) = read_html(&html).unwrap();
    assert_eq!(facts[0].1, "2BHK & \"parking\" <script>x</script>");
    assert_eq!(url.as_deref(), task.transcript_url.as_deref());
}
