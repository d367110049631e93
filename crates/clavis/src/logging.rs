//! The process's log subscriber: tracing-subscriber's `fmt`, text or JSON lines on stderr,
//! filtered by `CLAVIS_LOG`.
//!
//! In JSON, span fields are written by [`JsonSpanFields`] instead of tracing-subscriber's
//! `JsonFields`. Every request runs in a span whose tenant and client are recorded after it
//! starts. `JsonFields` builds a map of JSON values for every span, and on each later
//! record it parses the span's JSON back and writes it again. That was the largest
//! single cost of a token request outside its signature (see docs/benchmarks.md,
//! 2026-12-02). `JsonSpanFields` writes the same JSON object directly and appends a later
//! record to it.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

use crate::Config;

/// Installs the global subscriber, as `config` says (`log`, `log_json`).
pub fn init(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into());
    // Colours only for a person at a terminal: a file or a log collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if config.log_json {
        builder.json().fmt_fields(JsonSpanFields).init();
    } else {
        builder.init();
    }
}

/// A span's fields as one JSON object (`{"request_id":"…","tenant":"acme"}`), what the
/// JSON event formatter expects. A later record appends to it. A field recorded twice
/// appears twice, and a JSON reader keeps the last value.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        writer.write_char('{')?;
        let mut visitor = JsonObjectVisitor { out: &mut writer, empty: true, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result?;
        writer.write_char('}')
    }

    fn add_fields(&self, current: &'writer mut FormattedFields<Self>, fields: &tracing::span::Record<'_>) -> fmt::Result {
        if current.fields.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        // An object this formatter wrote: drop its `}`, add the fields, close it again.
        if current.fields.pop() != Some('}') {
            return Err(fmt::Error);
        }
        let empty = current.fields.ends_with('{');
        let mut visitor = JsonObjectVisitor { out: &mut current.fields, empty, result: Ok(()) };
        fields.record(&mut visitor);
        let result = visitor.result;
        current.fields.push('}');
        result
    }
}

/// Writes `"name":value` members, comma-separated, into an object being written.
struct JsonObjectVisitor<'a, W: fmt::Write> {
    out: &'a mut W,
    empty: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> JsonObjectVisitor<'_, W> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            if !self.empty {
                self.out.write_char(',')?;
            }
            self.empty = false;
            json_string(self.out, field.name())?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl<W: fmt::Write> Visit for JsonObjectVisitor<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| json_string(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Also `%value` fields (Display), such as the request id: escaped as written, with
        // no string in between.
        self.member(field, |out| {
            out.write_char('"')?;
            fmt::Write::write_fmt(&mut Escaping(&mut *out), format_args!("{value:?}"))?;
            out.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; serde_json writes them as null too.
        self.member(field, |out| if value.is_finite() { write!(out, "{value}") } else { out.write_str("null") });
    }
}

/// `s` as a JSON string literal (RFC 8259 §7).
fn json_string(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    escape(out, s)?;
    out.write_char('"')
}

/// `s` with quotes, backslashes and control characters escaped, everything else as it is.
/// The bytes escaped are ASCII, so every slice written ends on a character boundary.
fn escape(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // The usual case (ids, tenants, routes): nothing to escape.
        return out.write_str(s);
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escaped.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escaped)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])
}

/// A writer that escapes what goes through it as the inside of a JSON string.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape(self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    /// The JSON lines logged by `f` under the JSON subscriber of [`init`].
    fn json_lines(f: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt().with_writer(buffer.clone()).json().fmt_fields(JsonSpanFields).finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    #[test]
    fn span_fields_recorded_later_reach_the_events() {
        let lines = json_lines(|| {
            let span = tracing::info_span!("request", request_id = "r-1", tenant = tracing::field::Empty, client = tracing::field::Empty);
            let _in = span.enter();
            tracing::info!("before");
            span.record("tenant", "acme");
            span.record("client", "app \"one\"\n\\\u{1}é");
            tracing::info!(status = 200u64, "after");
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["span"], serde_json::json!({"name": "request", "request_id": "r-1"}));
        let span = &lines[1]["span"];
        assert_eq!(span["request_id"], "r-1");
        assert_eq!(span["tenant"], "acme");
        assert_eq!(span["client"], "app \"one\"\n\\\u{1}é");
        assert_eq!(lines[1]["fields"]["status"], 200);
        assert_eq!(lines[1]["spans"][0]["tenant"], "acme");
    }

    #[test]
    fn every_field_type_is_valid_json() {
        let lines = json_lines(|| {
            let shown = "a \"quoted\"\nline";
            let span = tracing::info_span!("s", a = 1i64, b = u64::MAX, c = true, d = 0.5f64, e = f64::NAN, f = ?Some("x"), g = %shown);
            span.record("a", -7i64);
            span.in_scope(|| tracing::info!("x"));
            let empty = tracing::info_span!("empty", later = tracing::field::Empty);
            empty.in_scope(|| tracing::info!("y"));
            empty.record("later", 3u64);
            empty.in_scope(|| tracing::info!("z"));
        });
        let s = &lines[0]["span"];
        assert_eq!((s["a"].as_i64(), s["b"].as_u64(), s["c"].as_bool(), s["d"].as_f64()), (Some(-7), Some(u64::MAX), Some(true), Some(0.5)));
        assert!(s["e"].is_null());
        assert_eq!(s["f"], "Some(\"x\")");
        assert_eq!(s["g"], "a \"quoted\"\nline");
        assert_eq!(lines[1]["span"], serde_json::json!({"name": "empty"}));
        assert_eq!(lines[2]["span"]["later"], 3);
    }
}
