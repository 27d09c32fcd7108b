//! How the API and the worker log: one JSON object per line when their output is not a
//! terminal (a log file, the CloudWatch agent, the local fleet's shipper), the human format
//! on a terminal. `FLIGHTDECK_LOG_FORMAT=json|text` overrides the choice.
//!
//! In a JSON line the fields of every span the event is in come first-level, next to the
//! event's own: a line logged inside a job's span carries that job's `correlation_id` and
//! `video_id`, so one filter on either id finds every line about it, across instances.
//!
//! ```text
//! {"timestamp":"2026-12-03T23:59:01.123Z","level":"WARN","target":"worker::consumer","message":"permanent failure: dead-lettering","correlation_id":"c0ffee","error":"...","span":"job","video_id":"0b8e..."}
//! ```

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

/// The environment variable that overrides the log format: `json`, `text` (or `auto`).
pub const LOG_FORMAT_ENV: &str = "FLIGHTDECK_LOG_FORMAT";

/// The longest value a field keeps in a JSON line; longer ones end in `…` (a line stays
/// well under CloudWatch Logs' 256 KiB event limit even with many fields).
pub const MAX_FIELD_CHARS: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// The format for an output that is (or is not) a terminal, unless `override_` (the
    /// value of [`LOG_FORMAT_ENV`]) names one. An unknown value is an error naming the choices.
    pub fn choose(override_: Option<&str>, terminal: bool) -> Result<LogFormat, String> {
        match override_.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(if terminal {
                LogFormat::Text
            } else {
                LogFormat::Json
            }),
            Some(v) if v.eq_ignore_ascii_case("auto") => LogFormat::choose(None, terminal),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(v) => Err(format!(
                "{LOG_FORMAT_ENV}={v:?} is not a log format; use json, text or auto"
            )),
        }
    }
}

/// Install the global subscriber of a service (`flightdeck-api`, `flightdeck-worker`): logs go
/// to stderr, filtered by `RUST_LOG` (default `default_filter`), in the format
/// [`LogFormat::choose`] picks for stderr. A bad [`LOG_FORMAT_ENV`] is reported on stderr
/// and the automatic choice used.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let wanted = std::env::var(LOG_FORMAT_ENV).ok();
    let format = LogFormat::choose(wanted.as_deref(), terminal).unwrap_or_else(|e| {
        eprintln!("{e}; using the automatic choice");
        LogFormat::choose(None, terminal).unwrap_or(LogFormat::Json)
    });
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry.with(JsonLines::new(std::io::stderr)).init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours only on a terminal, and not under NO_COLOR.
                    .with_ansi(
                        terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                    ),
            )
            .init(),
    }
}

/// A layer that writes each event as one JSON object and a newline.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(make_writer: W) -> JsonLines<W> {
        JsonLines { make_writer }
    }
}

/// A span's fields, kept in the span's extensions as they are recorded.
struct SpanFields(Map<String, Value>);

struct Collect<'a>(&'a mut Map<String, Value>);

impl Collect<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

fn bounded(mut s: String) -> String {
    if s.chars().count() > MAX_FIELD_CHARS {
        s = s.chars().take(MAX_FIELD_CHARS).collect();
        s.push('…');
    }
    s
}

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(bounded(value.to_owned())));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(bounded(value.to_string())));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.put(field, Value::String(bounded(s)));
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut Collect(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SpanFields>() {
            Some(SpanFields(fields)) => values.record(&mut Collect(fields)),
            None => {
                let mut fields = Map::new();
                values.record(&mut Collect(&mut fields));
                ext.insert(SpanFields(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let line = json_line(event, &ctx);
        let mut writer = self.make_writer.make_writer_for(event.metadata());
        let _ = writer.write_all(line.as_bytes());
    }
}

/// The line for one event: timestamp, level, target and message first, then the fields of
/// its spans (outermost first, inner ones win) and its own, in name order.
fn json_line<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> String
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut fields = Map::new();
    let mut innermost = None;
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope.from_root() {
            if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                for (k, v) in f {
                    fields.insert(k.clone(), v.clone());
                }
            }
            innermost = Some(span.name());
        }
    }
    event.record(&mut Collect(&mut fields));
    let message = fields
        .remove("message")
        .unwrap_or(Value::String(String::new()));
    let meta = event.metadata();
    let head: [(&str, Value); 4] = [
        (
            "timestamp",
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        ),
        ("level", meta.level().as_str().into()),
        ("target", meta.target().into()),
        ("message", message),
    ];
    if let Some(name) = innermost {
        fields.entry("span").or_insert_with(|| name.into());
    }
    // serde_json's Map keeps keys sorted; the head is written first, in this order, so that
    // a person reading the raw file sees time, level and message before the fields.
    let mut out = String::from("{");
    let rest = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "timestamp" | "level" | "target"));
    for (i, (k, v)) in head
        .iter()
        .map(|(k, v)| (*k, v))
        .chain(rest.map(|(k, v)| (k.as_str(), v)))
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.to_owned()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines(buf: &Buffer) -> Vec<Value> {
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    #[test]
    fn a_line_in_a_job_span_carries_the_ids_recorded_later() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any job");
            let job = tracing::info_span!(
                "job",
                message_id = "m-1",
                video_id = tracing::field::Empty,
                correlation_id = tracing::field::Empty,
            );
            let _entered = job.enter();
            job.record("video_id", tracing::field::display("0b8e-video"));
            job.record("correlation_id", "corr-42");
            let inner = tracing::info_span!("transform", step = 2);
            inner.in_scope(|| tracing::warn!(reason = "undecodable", "permanent failure"));
        });
        let lines = lines(&buf);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].get("correlation_id").is_none());
        assert_eq!(lines[0]["message"], "outside any job");
        let l = &lines[1];
        assert_eq!(l["correlation_id"], "corr-42");
        assert_eq!(l["video_id"], "0b8e-video");
        assert_eq!(l["message_id"], "m-1");
        assert_eq!(l["reason"], "undecodable");
        assert_eq!(l["step"], 2);
        assert_eq!(l["level"], "WARN");
        assert_eq!(l["span"], "transform");
        assert_eq!(l["message"], "permanent failure");
        assert!(l["timestamp"].as_str().unwrap().ends_with('Z'));
        let raw = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            raw.lines().nth(1).unwrap().starts_with("{\"timestamp\":"),
            "{raw}"
        );
    }

    #[test]
    fn long_values_are_cut_and_lines_stay_one_line() {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(JsonLines::new(buf.clone()));
        let long = "x".repeat(MAX_FIELD_CHARS + 10);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(detail = %long, "two\nlines");
        });
        let raw = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(raw.lines().count(), 1);
        let l = &lines(&buf)[0];
        assert_eq!(l["message"], "two\nlines");
        assert_eq!(
            l["detail"].as_str().unwrap().chars().count(),
            MAX_FIELD_CHARS + 1
        );
    }

    #[test]
    fn the_format_follows_the_terminal_unless_overridden() {
        assert_eq!(LogFormat::choose(None, true), Ok(LogFormat::Text));
        assert_eq!(LogFormat::choose(None, false), Ok(LogFormat::Json));
        assert_eq!(LogFormat::choose(Some("auto"), true), Ok(LogFormat::Text));
        assert_eq!(LogFormat::choose(Some("JSON"), true), Ok(LogFormat::Json));
        assert_eq!(LogFormat::choose(Some("text"), false), Ok(LogFormat::Text));
        assert_eq!(LogFormat::choose(Some(""), false), Ok(LogFormat::Json));
        let err = LogFormat::choose(Some("yaml"), false).unwrap_err();
        assert!(err.contains("json, text or auto"), "{err}");
    }
}
