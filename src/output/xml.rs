//! A small XML writer for the RSS and Atom outputs (quick-xml, indented two spaces).
//!
//! In: elements, attributes and text. Out: a UTF-8 document a person can read, one element per
//! line. Text (`<`, `>`, `&`) and attribute values are escaped, characters XML 1.0 does not allow (control
//! characters other than tab, newline and carriage return; U+FFFE, U+FFFF) are left out, and in
//! attribute values tabs and newlines are written as character references so a parser does not
//! turn them into spaces. HTML goes into CDATA sections (split where it holds `]]>`).

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesCData, BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;

/// An indented XML document being written.
pub(crate) struct Xml {
    w: Writer<Vec<u8>>,
}

/// Whether XML 1.0 allows a character.
fn allowed(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// `text` without the characters XML 1.0 does not allow.
fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

/// An attribute value escaped for a double-quoted attribute, tabs and line breaks kept.
fn attribute_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars().filter(|&c| allowed(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// A start tag with the attributes whose value is given, in order.
pub(crate) fn tag<'a>(name: &'a str, attrs: &[(&'a str, Option<&str>)]) -> BytesStart<'a> {
    let mut start = BytesStart::new(name);
    for (key, value) in attrs {
        if let Some(value) = value {
            start.push_attribute(Attribute {
                key: QName(key),
                value: Cow::Owned(attribute_value(value)),
            });
        }
    }
    start
}

impl Xml {
    /// A document with its XML declaration, `capacity` bytes reserved.
    pub(crate) fn new(capacity: usize) -> io::Result<Xml> {
        let mut w = Writer::new_with_indent(Vec::with_capacity(capacity), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        Ok(Xml { w })
    }

    /// Opens an element.
    pub(crate) fn open(&mut self, start: BytesStart<'_>) -> io::Result<()> {
        self.w.write_event(Event::Start(start))
    }

    /// Closes the element `name`.
    pub(crate) fn close(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    /// An element without content.
    pub(crate) fn empty(&mut self, start: BytesStart<'_>) -> io::Result<()> {
        self.w.write_event(Event::Empty(start))
    }

    /// An element holding `text`, escaped.
    pub(crate) fn text(&mut self, start: BytesStart<'_>, text: &str) -> io::Result<()> {
        let name = start.name().as_ref().to_string();
        self.open(start)?;
        let text = clean(text);
        if !text.is_empty() {
            self.w
                .write_event(Event::Text(BytesText::from_escaped(partial_escape(&*text))))?;
        }
        self.close(&name)
    }

    /// An element holding `html` in CDATA sections.
    pub(crate) fn cdata(&mut self, start: BytesStart<'_>, html: &str) -> io::Result<()> {
        let name = start.name().as_ref().to_string();
        self.open(start)?;
        let html = clean(html);
        for section in BytesCData::escaped(&html) {
            self.w.write_event(Event::CData(section))?;
        }
        self.close(&name)
    }

    /// An element named `name` holding `text`, escaped, without attributes.
    pub(crate) fn leaf(&mut self, name: &str, text: &str) -> io::Result<()> {
        self.text(BytesStart::new(name), text)
    }

    /// The document, ending with a line break.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = self.w.into_inner();
        out.push(b'\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_drops_what_xml_cannot_hold() {
        let mut x = Xml::new(64).expect("writes");
        x.open(tag("a", &[("t", Some("1\t2\n<\"&")), ("none", None)]))
            .expect("writes");
        x.text(tag("b", &[]), "x\u{1}<y> & ]]>").expect("writes");
        x.cdata(tag("c", &[]), "<p>]]></p>\u{0}").expect("writes");
        x.close("a").expect("writes");
        let text = String::from_utf8(x.finish()).expect("utf-8");
        assert!(text.contains(r#"<a t="1&#9;2&#10;&lt;&quot;&amp;">"#), "{text}");
        assert!(text.contains("<b>x&lt;y&gt; &amp; ]]&gt;</b>"), "{text}");
        assert!(
            text.contains("<c><![CDATA[<p>]]]]><![CDATA[></p>]]></c>"),
            "{text}"
        );
        assert!(text.contains("\n  <b>"), "indented: {text}");
    }
}
