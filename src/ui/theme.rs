//! The window's two themes: egui's, with every text colour the window uses at 4.5:1 or more
//! against what it is drawn on (WCAG AA), and a focus ring that shows which control the
//! keyboard is on.

use egui::{Color32, Theme, Visuals};

/// Sets both themes' colours on the context.
pub fn apply(ctx: &egui::Context) {
    for theme in [Theme::Dark, Theme::Light] {
        ctx.style_mut_of(theme, |style| adjust(theme, &mut style.visuals));
    }
}

/// egui's colours where they fall short of 4.5:1: on the light theme the warning, error and
/// link texts, on the dark one the error red; in both, weak text is set rather than faded
/// from the text colour.
fn adjust(theme: Theme, v: &mut Visuals) {
    match theme {
        Theme::Light => {
            v.warn_fg_color = Color32::from_rgb(150, 80, 0);
            v.error_fg_color = Color32::from_rgb(185, 25, 25);
            v.hyperlink_color = Color32::from_rgb(0, 90, 180);
            v.weak_text_color = Some(Color32::from_gray(95));
        }
        Theme::Dark => {
            v.error_fg_color = Color32::from_rgb(255, 95, 95);
            v.weak_text_color = Some(Color32::from_gray(150));
        }
    }
}

/// A status colour made readable on the theme: on the light theme's white the bright greens
/// and oranges fall under 3:1, so they are darkened to about 5:1.
pub fn tone(dark: bool, c: Color32) -> Color32 {
    if dark {
        c
    } else {
        let d = |v: u8| (f32::from(v) * 0.5) as u8;
        Color32::from_rgb(d(c.r()), d(c.g()), d(c.b()))
    }
}

/// A 2 px ring around the control that has the keyboard's focus (egui marks it only by a
/// slightly different fill), drawn above everything. Returns the ring's rectangle.
pub fn focus_ring(ctx: &egui::Context) -> Option<egui::Rect> {
    let id = ctx.memory(|m| m.focused())?;
    let rect = ctx.read_response(id)?.rect.expand(2.0);
    let color = ctx.global_style().visuals.selection.stroke.color;
    let layer = egui::LayerId::new(egui::Order::Tooltip, egui::Id::unique("focus-ring"));
    ctx.layer_painter(layer).rect_stroke(
        rect,
        3.0,
        egui::Stroke::new(2.0, color),
        egui::StrokeKind::Outside,
    );
    Some(rect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{ERROR_FILL, WARN_FILL};

    /// WCAG 2 relative luminance of an opaque colour.
    fn luminance(c: Color32) -> f64 {
        let lin = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }

    /// `fg` (premultiplied, perhaps translucent) drawn over the opaque `bg`.
    fn over(fg: Color32, bg: Color32) -> Color32 {
        let a = f32::from(fg.a()) / 255.0;
        let mix = |f: u8, b: u8| (f32::from(f) + f32::from(b) * (1.0 - a)).round().min(255.0) as u8;
        Color32::from_rgb(
            mix(fg.r(), bg.r()),
            mix(fg.g(), bg.g()),
            mix(fg.b(), bg.b()),
        )
    }

    fn contrast(fg: Color32, bg: Color32) -> f64 {
        let (a, b) = (luminance(over(fg, bg)), luminance(bg));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    #[test]
    fn contrast_is_measured_the_wcag_way() {
        assert!((contrast(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 0.01);
        assert!((contrast(Color32::from_gray(118), Color32::WHITE) - 4.54).abs() < 0.05);
    }

    /// Every text colour the window uses, on every background it is drawn on, in both
    /// themes: at least 4.5:1.
    #[test]
    fn every_text_colour_reads_at_4_5_to_1_in_both_themes() {
        let mut low = Vec::new();
        for theme in [Theme::Dark, Theme::Light] {
            let mut v = theme.default_visuals();
            adjust(theme, &mut v);
            let dark = v.dark_mode;
            let grounds = [
                ("panel", v.panel_fill),
                ("window", v.window_fill),
                ("stripe", over(v.faint_bg_color, v.panel_fill)),
                ("text field", v.text_edit_bg_color()),
            ];
            let texts = [
                ("text", v.text_color()),
                ("strong", v.strong_text_color()),
                ("weak", v.weak_text_color()),
                ("link", v.hyperlink_color),
                ("warning", v.warn_fg_color),
                ("error", v.error_fg_color),
                ("good", tone(dark, crate::ui::screens::GOOD)),
                ("amber", tone(dark, crate::ui::screens::AMBER)),
                ("bad", tone(dark, crate::ui::screens::BAD)),
            ];
            for (t, fg) in texts {
                for (g, bg) in grounds {
                    let c = contrast(fg, bg);
                    if c < 4.5 {
                        low.push(format!("{theme:?}: {t} on {g}: {c:.2}"));
                    }
                }
            }
            // A selected row or label: its text on the selection.
            let c = contrast(v.selection.stroke.color, v.selection.bg_fill);
            if c < 4.5 {
                low.push(format!("{theme:?}: selected text: {c:.2}"));
            }
        }
        // The coloured panels (banners, audit findings): white and light grey text.
        for fill in [
            ERROR_FILL,
            WARN_FILL,
            crate::ui::screens::MEDIUM_FILL,
            crate::ui::screens::LOW_FILL,
            crate::ui::TOAST_ERROR,
            crate::ui::TOAST_INFO,
        ] {
            // White titles and texts; the object names and notes in light grey.
            for fg in [Color32::WHITE, Color32::from_gray(220)] {
                let c = contrast(fg, fill);
                if c < 4.5 {
                    low.push(format!("{fg:?} on panel {fill:?}: {c:.2}"));
                }
            }
        }
        assert!(low.is_empty(), "under 4.5:1:\n{}", low.join("\n"));
    }
}
