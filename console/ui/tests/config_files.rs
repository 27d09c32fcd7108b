//! Config and theme files on disk: the example loads; each file in `tests/invalid_configs/` fails
//! with its file, the key at fault and the reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ui::keymap::Action;
use ui::{ConfigError, ThemeSet, UiConfig};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn check(err: &ConfigError, file: &Path, key: Option<&str>, reason: &str) {
    let text = err.to_string();
    assert_eq!(err.file(), file, "{text}");
    assert_eq!(err.key(), key, "{text}");
    assert!(text.starts_with(&file.display().to_string()), "{text}");
    assert!(text.contains(reason), "`{reason}` not in: {text}");
}

#[test]
fn the_example_config_loads() {
    let c = UiConfig::load(&dir("valid_configs").join("example.toml")).unwrap();
    assert_eq!(c.theme, "high-contrast");
    assert_eq!(c.stale_after, Duration::from_secs(45));
    assert_eq!(c.keymap.keys(Action::Freeze)[0].to_string(), "p");
    assert_eq!(c.pairing.explicit("batch-asg"), Some("batch_jobs"));
}

#[test]
fn a_user_theme_file_patches_its_parent() {
    let mut themes = ThemeSet::builtin();
    let name = themes
        .load_file(&dir("valid_configs").join("theme_dusk.toml"))
        .unwrap();
    assert_eq!(name, "theme_dusk");
    let dusk = themes.get("theme_dusk").unwrap();
    let parent = themes.get("high-contrast").unwrap();
    assert_eq!(
        dusk.s.chart_cpu.fg,
        Some(ratatui::style::Color::Rgb(0xff, 0xaf, 0))
    );
    assert_eq!(dusk.s.warn, parent.s.warn);
}

#[test]
fn invalid_configs_name_file_key_and_reason() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "unknown_action.toml",
            Some("keys.quitt"),
            "unknown field `quitt`",
        ),
        (
            "bad_key_name.toml",
            Some("keys.freeze"),
            "`ctrl-shift-` is not a key",
        ),
        (
            "key_conflict.toml",
            Some("keys.quit"),
            "`j` is bound to both `down` and `quit`",
        ),
        ("wrong_type.toml", Some("stale_after_s"), "invalid type"),
        (
            "bad_marker.toml",
            Some("chart_marker"),
            "unknown variant `line`",
        ),
        ("syntax.toml", None, "invalid"),
        (
            "unknown_top_level.toml",
            Some("colour"),
            "unknown field `colour`",
        ),
        (
            "pairing_not_a_name.toml",
            Some("pairing.worker-asg"),
            "invalid type",
        ),
        (
            "rate_window_too_short.toml",
            Some("rate_window_s"),
            "between 5 and 3600",
        ),
    ];
    for (file, key, reason) in cases {
        let path = dir("invalid_configs").join(file);
        let err = UiConfig::load(&path).expect_err(file);
        check(&err, &path, *key, reason);
    }
}

#[test]
fn invalid_themes_name_file_key_and_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "theme_bad_colour.toml",
            "warn.fg",
            "`orange-ish` is not a colour",
        ),
        (
            "theme_unknown_style_field.toml",
            "warn.blink",
            "unknown field `blink`",
        ),
        (
            "theme_bad_border.toml",
            "border_type",
            "unknown variant `wavy`",
        ),
        (
            "theme_unknown_parent.toml",
            "extends",
            "no theme named `solarized`",
        ),
    ];
    for (file, key, reason) in cases {
        let path = dir("invalid_configs").join(file);
        let err = ThemeSet::builtin().load_file(&path).expect_err(file);
        check(&err, &path, Some(key), reason);
    }
}

#[test]
fn every_invalid_file_is_covered() {
    let covered = 13;
    let files = std::fs::read_dir(dir("invalid_configs")).unwrap().count();
    assert_eq!(
        files, covered,
        "add a case for each new file in tests/invalid_configs/"
    );
}

#[test]
fn a_missing_file_names_itself() {
    let path = dir("invalid_configs").join("nope.toml");
    let err = UiConfig::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().starts_with(&path.display().to_string()));
}
