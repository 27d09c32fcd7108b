//! Colour themes: built-in TOML files embedded at build time, user files that patch any subset
//! of keys, and a monochrome form for `NO_COLOR` that keeps meaning through bold/reverse.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::BorderType;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::config::{self, ConfigError};

const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../../themes/default.toml")),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    (
        "presentation",
        include_str!("../../../themes/presentation.toml"),
    ),
];

/// A colour as written in a theme file: a name, `#rrggbb` or a 256-colour index.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ColorSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a colour name, \"#rrggbb\" or \"0\"..\"255\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ColorSpec, E> {
                Color::from_str(v).map(ColorSpec).map_err(|_| {
                    E::custom(format!(
                        "`{v}` is not a colour: use a name (black, red, green, yellow, blue, magenta, cyan, \
                         gray, darkgray, light<name>, white, reset), \"#rrggbb\" or \"0\"..\"255\""
                    ))
                })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// One style key of a theme file; fields left out keep the base theme's value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<ColorSpec>,
    bg: Option<ColorSpec>,
    bold: Option<bool>,
    dim: Option<bool>,
    italic: Option<bool>,
    underlined: Option<bool>,
    reversed: Option<bool>,
}

impl StyleSpec {
    fn apply(&self, style: &mut Style) {
        if let Some(c) = self.fg {
            style.fg = Some(c.0);
        }
        if let Some(c) = self.bg {
            style.bg = Some(c.0);
        }
        let flags = [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underlined, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ];
        for (flag, m) in flags {
            match flag {
                Some(true) => *style = style.add_modifier(m),
                Some(false) => *style = style.remove_modifier(m),
                None => {}
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BorderKind {
    Plain,
    Rounded,
    Double,
    Thick,
}

impl From<BorderKind> for BorderType {
    fn from(k: BorderKind) -> BorderType {
        match k {
            BorderKind::Plain => BorderType::Plain,
            BorderKind::Rounded => BorderType::Rounded,
            BorderKind::Double => BorderType::Double,
            BorderKind::Thick => BorderType::Thick,
        }
    }
}

macro_rules! roles {
    ($($role:ident => $mono:expr, $doc:literal;)*) => {
        /// The style of every role on screen.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Styles { $(#[doc = $doc] pub $role: Style,)* }

        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ThemePatch {
            /// Theme this file patches when its name is not already a theme (default: `default`).
            extends: Option<String>,
            #[allow(dead_code)]
            description: Option<String>,
            border_type: Option<BorderKind>,
            $($role: Option<StyleSpec>,)*
        }

        impl Styles {
            pub const KEYS: &'static [&'static str] = &[$(stringify!($role)),*];

            fn blank() -> Styles {
                Styles { $($role: Style::new(),)* }
            }

            fn apply(&mut self, patch: &ThemePatch) {
                $(if let Some(spec) = &patch.$role { spec.apply(&mut self.$role); })*
            }

            fn monochrome(&self) -> Styles {
                Styles { $($role: strip(self.$role).add_modifier($mono),)* }
            }
        }

        impl ThemePatch {
            fn missing(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$role.is_none() { out.push(stringify!($role)); })*
                out
            }
        }
    };
}

roles! {
    base => Modifier::empty(), "Text and the background of the whole screen.";
    bar => Modifier::REVERSED, "The top bar.";
    border => Modifier::empty(), "Borders of unfocused panes.";
    border_focused => Modifier::BOLD, "Border of the pane keys act on.";
    title => Modifier::BOLD, "Pane titles.";
    header => Modifier::BOLD.union(Modifier::UNDERLINED), "Table header rows.";
    selected => Modifier::REVERSED, "The selected row.";
    muted => Modifier::DIM, "Labels and secondary text.";
    ok => Modifier::empty(), "Healthy values.";
    warn => Modifier::BOLD, "Needs attention: DLQ depth, pending instances.";
    error => Modifier::BOLD.union(Modifier::UNDERLINED), "Failures: unhealthy, agent errors.";
    stale => Modifier::UNDERLINED, "Data past its freshness.";
    status => Modifier::empty(), "The status line.";
    prompt => Modifier::BOLD, "The : and / input line.";
    help_key => Modifier::BOLD, "Key names in the help.";
    chart_axis => Modifier::empty(), "Chart axes and labels.";
    chart_cpu => Modifier::empty(), "CPU line.";
    chart_target => Modifier::DIM, "Target-tracking target line.";
    chart_visible => Modifier::empty(), "Visible messages line.";
    chart_in_flight => Modifier::DIM, "In-flight messages line.";
    chart_bg => Modifier::empty(), "A chart's panel: its background, border row and plain text.";
    chart_desired => Modifier::empty(), "Desired capacity steps.";
    chart_in_service => Modifier::BOLD, "In-service instances steps.";
    chart_pending => Modifier::DIM, "Instances pending or terminating.";
    chart_dlq => Modifier::BOLD, "Dead-letter queue depth line.";
    chart_event => Modifier::BOLD, "Event marks on the time axis (scaling, load runs, redrives, DLQ).";
}

fn strip(style: Style) -> Style {
    Style {
        fg: None,
        bg: None,
        ..style
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub border_type: BorderType,
    pub s: Styles,
}

impl Theme {
    /// The same theme without colours, for `NO_COLOR`.
    pub fn monochrome(&self) -> Theme {
        Theme {
            name: self.name.clone(),
            border_type: self.border_type,
            s: self.s.monochrome(),
        }
    }

    fn patched(&self, name: &str, patch: &ThemePatch) -> Theme {
        let mut theme = Theme {
            name: name.to_owned(),
            ..self.clone()
        };
        if let Some(b) = patch.border_type {
            theme.border_type = b.into();
        }
        theme.s.apply(patch);
        theme
    }
}

impl Default for Theme {
    fn default() -> Self {
        ThemeSet::builtin()
            .get("default")
            .cloned()
            .unwrap_or(Theme {
                name: "default".to_owned(),
                border_type: BorderType::Rounded,
                s: Styles::blank(),
            })
    }
}

/// The RGB a terminal shows for `c` (xterm's palette for the 16 named colours and the 256-colour
/// indices); `None` for `Reset`, whose colour only the terminal knows.
pub fn rgb(c: Color) -> Option<[u8; 3]> {
    const ANSI: [[u8; 3]; 16] = [
        [0, 0, 0],
        [205, 0, 0],
        [0, 205, 0],
        [205, 205, 0],
        [0, 0, 238],
        [205, 0, 205],
        [0, 205, 205],
        [229, 229, 229],
        [127, 127, 127],
        [255, 0, 0],
        [0, 255, 0],
        [255, 255, 0],
        [92, 92, 255],
        [255, 0, 255],
        [0, 255, 255],
        [255, 255, 255],
    ];
    let named = |i: usize| Some(ANSI[i]);
    match c {
        Color::Reset => None,
        Color::Black => named(0),
        Color::Red => named(1),
        Color::Green => named(2),
        Color::Yellow => named(3),
        Color::Blue => named(4),
        Color::Magenta => named(5),
        Color::Cyan => named(6),
        Color::Gray => named(7),
        Color::DarkGray => named(8),
        Color::LightRed => named(9),
        Color::LightGreen => named(10),
        Color::LightYellow => named(11),
        Color::LightBlue => named(12),
        Color::LightMagenta => named(13),
        Color::LightCyan => named(14),
        Color::White => named(15),
        Color::Rgb(r, g, b) => Some([r, g, b]),
        Color::Indexed(i) => Some(match i {
            0..=15 => ANSI[usize::from(i)],
            16..=231 => {
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                let n = i - 16;
                [level(n / 36), level((n / 6) % 6), level(n % 6)]
            }
            _ => {
                let v = 8 + 10 * (i - 232);
                [v, v, v]
            }
        }),
    }
}

/// WCAG 2 relative luminance of an sRGB colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG 2 contrast ratio (1 to 21) of two colours; `None` when either is `Reset`.
pub fn contrast(a: Color, b: Color) -> Option<f64> {
    let (la, lb) = (luminance(rgb(a)?), luminance(rgb(b)?));
    Some((la.max(lb) + 0.05) / (la.min(lb) + 0.05))
}

/// Themes by name: the built-ins plus any user files loaded on top.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: BTreeMap<String, Theme>,
}

impl Default for ThemeSet {
    fn default() -> Self {
        ThemeSet::builtin()
    }
}

impl ThemeSet {
    /// The embedded themes; `try_builtin` is the checked form the tests use.
    pub fn builtin() -> ThemeSet {
        ThemeSet::try_builtin().unwrap_or_else(|_| ThemeSet {
            themes: BTreeMap::new(),
        })
    }

    pub fn try_builtin() -> Result<ThemeSet, ConfigError> {
        let mut set = ThemeSet {
            themes: BTreeMap::new(),
        };
        for (name, text) in BUILTIN {
            let file = format!("themes/{name}.toml");
            set.add(name, text, Path::new(&file))?;
        }
        Ok(set)
    }

    /// Adds or patches theme `name` from TOML text; `file` names it in errors.
    pub fn add(&mut self, name: &str, text: &str, file: &Path) -> Result<(), ConfigError> {
        let patch: ThemePatch = config::parse_toml(text, file)?;
        let base = match (&patch.extends, self.themes.get(name)) {
            (Some(parent), _) => self.themes.get(parent).ok_or_else(|| {
                ConfigError::invalid(file, text, "extends", format!("no theme named `{parent}`"))
            })?,
            (None, Some(same)) => same,
            (None, None) if name == "default" => {
                // The root theme must say every key so no role is left unstyled.
                let missing = patch.missing();
                if let Some(first) = missing.first() {
                    return Err(ConfigError::invalid(
                        file,
                        text,
                        *first,
                        "the default theme must set every key",
                    ));
                }
                &Theme {
                    name: String::new(),
                    border_type: BorderType::Rounded,
                    s: Styles::blank(),
                }
            }
            (None, None) => self.themes.get("default").ok_or_else(|| {
                ConfigError::invalid(file, text, "extends", "no default theme to extend")
            })?,
        };
        let theme = base.patched(name, &patch);
        self.themes.insert(name.to_owned(), theme);
        Ok(())
    }

    /// Loads one user theme file named after its stem (`~/.config/flightdeck/themes/dusk.toml` is `dusk`).
    pub fn load_file(&mut self, file: &Path) -> Result<String, ConfigError> {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| {
                ConfigError::invalid(file, "", "", "theme file name is not valid UTF-8")
            })?
            .to_owned();
        let text = config::read(file)?;
        self.add(&name, &text, file)?;
        Ok(name)
    }

    /// Loads every `*.toml` in `dir`, in name order; a missing directory loads nothing.
    pub fn load_dir(&mut self, dir: &Path) -> Result<Vec<String>, ConfigError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(ConfigError::Read {
                    file: dir.to_owned(),
                    source,
                })
            }
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files.iter().map(|f| self.load_file(f)).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.themes.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse_and_default_is_complete() {
        let set = ThemeSet::try_builtin().unwrap();
        let names: Vec<_> = set.names().collect();
        assert_eq!(names, ["default", "high-contrast", "light", "presentation"]);
        let d = set.get("default").unwrap();
        assert_eq!(d.s.warn.fg, Some(Color::Yellow));
        assert_ne!(set.get("light").unwrap().s.base, d.s.base);
    }

    #[test]
    fn a_user_file_overrides_a_subset_and_keeps_the_rest() {
        let mut set = ThemeSet::builtin();
        set.add(
            "light",
            "warn = { fg = \"#ff8800\" }\n",
            Path::new("light.toml"),
        )
        .unwrap();
        let light = set.get("light").unwrap();
        assert_eq!(light.s.warn.fg, Some(Color::Rgb(0xff, 0x88, 0)));
        assert!(
            light.s.warn.add_modifier.contains(Modifier::BOLD),
            "bold kept from the built-in"
        );
        assert_eq!(
            light.s.base,
            ThemeSet::builtin().get("light").unwrap().s.base
        );

        set.add(
            "dusk",
            "extends = \"high-contrast\"\nok = { fg = \"blue\" }\n",
            Path::new("dusk.toml"),
        )
        .unwrap();
        let dusk = set.get("dusk").unwrap();
        assert_eq!(dusk.s.ok.fg, Some(Color::Blue));
        assert_eq!(dusk.s.error, set.get("high-contrast").unwrap().s.error);
    }

    #[test]
    fn bad_theme_files_name_file_key_and_reason() {
        let mut set = ThemeSet::builtin();
        let e = set
            .add("x", "warn = { fg = \"purplish\" }\n", Path::new("x.toml"))
            .unwrap_err();
        assert_eq!(e.key(), Some("warn.fg"));
        assert!(
            e.to_string()
                .starts_with("x.toml:1: key `warn.fg`: `purplish` is not a colour"),
            "{e}"
        );

        let e = set
            .add("x", "\n\nwarning = { fg = \"red\" }\n", Path::new("x.toml"))
            .unwrap_err();
        assert_eq!(e.key(), Some("warning"));
        assert!(
            e.to_string()
                .starts_with("x.toml:3: key `warning`: unknown field"),
            "{e}"
        );

        let e = set
            .add("x", "extends = \"nope\"\n", Path::new("x.toml"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.toml:1: key `extends`: no theme named `nope`"
        );
    }

    #[test]
    fn contrast_follows_wcag() {
        let c = |a, b| (contrast(a, b).unwrap() * 100.0).round() / 100.0;
        assert_eq!(c(Color::Black, Color::White), 21.0);
        assert_eq!(c(Color::Indexed(231), Color::Indexed(231)), 1.0);
        assert_eq!(c(Color::Rgb(0x77, 0x77, 0x77), Color::White), 4.48);
        assert_eq!(rgb(Color::Indexed(19)), Some([0, 0, 175]));
        assert_eq!(rgb(Color::Indexed(244)), Some([128, 128, 128]));
        assert_eq!(contrast(Color::Reset, Color::White), None);
    }

    /// Every chart line, label and the selection against the background it is drawn on: at
    /// least 4.5:1 in the presentation theme (projectors wash colours out), 3:1 in the others.
    /// Chart panels must set their own background so the check means something on any terminal.
    #[test]
    fn every_builtin_theme_meets_its_contrast_floor() {
        let set = ThemeSet::try_builtin().unwrap();
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        assert_eq!(set.names().count(), names.len());
        let mut failures = Vec::new();
        for name in names {
            let t = set.get(name).unwrap();
            let floor = if name == "presentation" { 4.5 } else { 3.0 };
            let bg = t.s.chart_bg.bg.filter(|c| *c != Color::Reset);
            let Some(bg) = bg else {
                failures.push(format!("{name}: chart_bg sets no background"));
                continue;
            };
            let s = &t.s;
            let on_chart = [
                ("chart_bg", s.chart_bg),
                ("chart_axis", s.chart_axis),
                ("chart_cpu", s.chart_cpu),
                ("chart_target", s.chart_target),
                ("chart_visible", s.chart_visible),
                ("chart_in_flight", s.chart_in_flight),
                ("chart_desired", s.chart_desired),
                ("chart_in_service", s.chart_in_service),
                ("chart_pending", s.chart_pending),
                ("chart_dlq", s.chart_dlq),
                ("chart_event", s.chart_event),
                ("title", s.title),
                ("muted", s.muted),
                ("warn", s.warn),
                ("stale", s.stale),
                ("selected", s.selected),
            ];
            for (role, style) in on_chart {
                // A style with its own background is read against that background.
                let under = style.bg.filter(|c| *c != Color::Reset).unwrap_or(bg);
                match style.fg.and_then(|fg| contrast(fg, under)) {
                    Some(r) if r >= floor => {}
                    Some(r) => failures.push(format!("{name}: {role} {r:.2}:1 < {floor}:1")),
                    None => failures.push(format!("{name}: {role} has no definite colour")),
                }
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn monochrome_drops_colours_but_keeps_emphasis() {
        let mono = Theme::default().monochrome();
        for style in [mono.s.selected, mono.s.warn, mono.s.base, mono.s.chart_cpu] {
            assert_eq!((style.fg, style.bg), (None, None));
        }
        assert!(mono.s.selected.add_modifier.contains(Modifier::REVERSED));
        assert!(mono.s.warn.add_modifier.contains(Modifier::BOLD));
    }
}
