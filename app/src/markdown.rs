//! Markdown to HTML for messages, safely: raw HTML in the text is shown as text, and links
//! and images keep only `http`, `https` and `mailto` addresses.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// `text` rendered as HTML that is safe to insert into the page.
pub fn to_safe_html(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        // Raw HTML never passes through: it becomes visible text.
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// `url` when its scheme is harmless (or it is relative), `#` otherwise.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(scheme, _)| scheme);
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(scheme) if scheme.contains(['/', '?', '#']) => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_raw_html_does_not() {
        assert_eq!(to_safe_html("**bold**"), "<p><strong>bold</strong></p>\n");
        let html = to_safe_html("<script>alert(1)</script> and <b onclick=x>hi</b>");
        assert!(!html.contains("<script") && !html.contains("<b "), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_harmless_link_schemes_are_kept() {
        assert!(to_safe_html("[a](https://example.com)").contains("href=\"https://example.com\""));
        assert!(to_safe_html("[a](/agents)").contains("href=\"/agents\""));
        let evil = to_safe_html("[a](javascript:alert(1)) ![i](data:image/svg+xml,x)");
        assert!(
            !evil.contains("javascript") && !evil.contains("data:"),
            "{evil}"
        );
    }
}
