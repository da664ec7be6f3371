//! HTML for the console, written by hand around one escaping function: every value that is
//! not a literal of this crate goes through [`esc`] (text and attribute values alike, so
//! quotes are escaped too). A templating crate would give the same escaping at the cost of
//! a dependency and a second syntax; the pages are small and regular enough without one.

use std::fmt::Write;

use crate::api::ErrorDetail;
use crate::service::session::Live;

/// `s` safe inside element text and inside a double- or single-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `s` as one path segment or query value of a URL we write into a page.
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A navigation entry: shown only when the session's roles allow its page. Entries of one
/// `group` (next to each other) are shown under its name; `""` is no group.
pub struct Nav {
    pub href: &'static str,
    pub label: &'static str,
    pub group: &'static str,
}

/// The whole document: header with the navigation and the session, `body`, sign-out.
pub fn page(title: &str, live: Option<&Live>, nav: &[Nav], body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · hsm-pki</title>\
         <link rel=\"icon\" href=\"/console/assets/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
         <script src=\"/console/assets/console.js\" defer></script></head><body>\
         <header><a class=\"brand\" href=\"/console\">hsm-pki</a>",
        esc(title)
    );
    if let Some(live) = live {
        out.push_str("<nav aria-label=\"main\"><ul>");
        let mut open = "";
        for n in nav {
            if n.group != open {
                if !open.is_empty() {
                    out.push_str("</ul></li>");
                }
                if !n.group.is_empty() {
                    let _ = write!(out, "<li class=\"group\"><span>{}</span><ul>", esc(n.group));
                }
                open = n.group;
            }
            let _ = write!(out, "<li><a href=\"{}\">{}</a></li>", n.href, esc(n.label));
        }
        if !open.is_empty() {
            out.push_str("</ul></li>");
        }
        let roles: Vec<&str> = live.principal.roles.iter().map(|r| r.name()).collect();
        let _ = write!(
            out,
            "</ul></nav><div class=\"who\"><span>{} · {} · token {}</span>\
             <form method=\"post\" action=\"/console/sign-out\">{}\
             <button type=\"submit\">Sign out</button></form></div>",
            esc(&live.principal.tenant),
            esc(&roles.join(", ")),
            esc(&live.principal.token_id),
            csrf_field(live)
        );
    }
    let _ = writeln!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(live: &Live) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&live.csrf)
    )
}

/// The error summary of a refused action: the API's message and code, and the details that
/// name no field of the form (those are shown next to their field by [`field`]).
pub fn error_summary(
    message: &str,
    code: &str,
    details: &[ErrorDetail],
    fields: &[&str],
) -> String {
    let mut out = format!(
        "<div class=\"error\" role=\"alert\"><p><strong>{}</strong> <code>{}</code></p>",
        esc(message),
        esc(code)
    );
    let loose: Vec<&ErrorDetail> = details
        .iter()
        .filter(|d| !fields.iter().any(|f| concerns(d, f)))
        .collect();
    if !loose.is_empty() {
        out.push_str("<ul>");
        for d in loose {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&d.param),
                esc(&d.msg)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    out
}

/// Whether an error detail is about the form field `name`: its own, its object's (a
/// missing `issuerAlternativeNameConf` is shown at `issuerAlternativeNameConf.uri`), or one
/// element's of the list the field holds (`keyUsage[1]` at `keyUsage`).
fn concerns(d: &ErrorDetail, name: &str) -> bool {
    name == d.param
        || name
            .strip_prefix(d.param.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
        || d.param
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('['))
}

/// The kind of input a form field is.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Text,
    /// A multi-line value (PEM).
    Area,
    /// A multi-line value that console.js also offers to fill from a file of these types
    /// (`accept` syntax); without JavaScript it is a plain text area.
    AreaFromFile(&'static str),
    Select(&'a [(&'a str, &'a str)]),
}

/// A labelled form field named `name` (the API's field name, so that an error detail's
/// `param` finds it), with its current value and the errors the API gave for it.
pub fn field(
    label: &str,
    name: &str,
    input: Input<'_>,
    value: &str,
    hint: &str,
    details: &[ErrorDetail],
) -> String {
    let errors: Vec<&ErrorDetail> = details.iter().filter(|d| concerns(d, name)).collect();
    let id = format!("f-{}", esc(name));
    let invalid = if errors.is_empty() {
        String::new()
    } else {
        format!(" aria-invalid=\"true\" aria-describedby=\"{id}-err\"")
    };
    let mut out = format!(
        "<div class=\"field\"><label for=\"{id}\">{}</label>",
        esc(label)
    );
    match input {
        Input::Text => {
            let _ = write!(
                out,
                "<input id=\"{id}\" name=\"{}\" value=\"{}\"{invalid}>",
                esc(name),
                esc(value)
            );
        }
        Input::Area | Input::AreaFromFile(_) => {
            let file = match input {
                Input::AreaFromFile(types) => format!(" data-file=\"{}\"", esc(types)),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<textarea{file} id=\"{id}\" name=\"{}\" rows=\"8\"{invalid}>{}</textarea>",
                esc(name),
                esc(value)
            );
        }
        Input::Select(options) => {
            let _ = write!(out, "<select id=\"{id}\" name=\"{}\"{invalid}>", esc(name));
            for (v, l) in options {
                let sel = if *v == value { " selected" } else { "" };
                let _ = write!(out, "<option value=\"{}\"{sel}>{}</option>", esc(v), esc(l));
            }
            out.push_str("</select>");
        }
    }
    if !hint.is_empty() {
        let _ = write!(out, "<small>{}</small>", esc(hint));
    }
    if !errors.is_empty() {
        let _ = write!(out, "<p class=\"field-error\" id=\"{id}-err\">");
        for e in errors {
            let _ = write!(out, "{} ", esc(&e.msg));
        }
        out.push_str("</p>");
    }
    out.push_str("</div>");
    out
}

/// A one-button form posting `action` (and the CSRF token) to `href`.
pub fn button(live: &Live, href: &str, action: &str, label: &str, extra: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\">{}\
         <input type=\"hidden\" name=\"action\" value=\"{}\">{extra}\
         <button type=\"submit\">{}</button></form>",
        esc(href),
        csrf_field(live),
        esc(action),
        esc(label)
    )
}

/// A table: header cells, then rows of already-escaped cells.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "<p class=\"empty\">None yet.</p>".to_owned();
    }
    let mut out = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(esc("CN=Ünïcode"), "CN=Ünïcode");
        // An attribute value cannot be closed from inside.
        let f = field("L", "n", Input::Text, "\" onfocus=\"x", "", &[]);
        assert!(f.contains("value=\"&quot; onfocus=&quot;x\""), "{f}");
        let a = field("L", "n", Input::Area, "</textarea><b>", "", &[]);
        assert!(a.contains("&lt;/textarea&gt;&lt;b&gt;</textarea>"), "{a}");
        assert_eq!(url("a b/ü"), "a%20b%2F%C3%BC");
    }

    #[test]
    fn errors_go_next_to_their_field() {
        let d = vec![ErrorDetail {
            value: None,
            msg: "must be <2 letters>".into(),
            param: "country".into(),
            location: "body".into(),
        }];
        let f = field("Country", "country", Input::Text, "USA", "", &d);
        assert!(f.contains("aria-invalid") && f.contains("must be &lt;2 letters&gt;"));
        assert!(!field("CN", "commonName", Input::Text, "", "", &d).contains("field-error"));
        assert!(!error_summary("m", "C", &d, &["country"]).contains("<li>"));
        assert!(error_summary("m", "C", &d, &[]).contains("<li>"));
        let item = vec![ErrorDetail {
            param: "keyUsage[1]".into(),
            ..d[0].clone()
        }];
        assert!(field("KU", "keyUsage", Input::Text, "", "", &item).contains("field-error"));
        assert!(!field("KU", "key", Input::Text, "", "", &item).contains("field-error"));
    }
}
