//! SVG chart of hit ratio versus capacity: one panel per trace, one line per policy (OPT, LRU,
//! ours, moka, quick_cache), capacity on a log axis.
//!
//! Owns drawing only (plotters' SVG backend, no fonts or system libraries needed beyond it); the
//! rows come from [`crate::replay`].

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use crate::adapters::Kind;
use crate::replay::Row;

/// Width and height of one panel, in pixels.
const PANEL: (u32, u32) = (420, 300);

/// Renders `rows` (any order) into an SVG at `path`, panels in order of first appearance.
///
/// # Errors
/// Fails when the file cannot be written.
pub fn render(rows: &[Row], kinds: &[Kind], path: &Path) -> Result<()> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_trace: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if !by_trace.contains_key(r.trace.as_str()) {
            order.push(&r.trace);
        }
        by_trace.entry(&r.trace).or_default().push(r);
    }
    let cols = order.len().clamp(1, 3) as u32;
    let lines = (order.len() as u32).div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (PANEL.0 * cols, PANEL.1 * lines)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let panels = root.split_evenly((lines as usize, cols as usize));
    for (panel, name) in panels.iter().zip(&order) {
        let mut trace_rows = by_trace[name].clone();
        trace_rows.sort_by_key(|r| r.capacity);
        draw_panel(panel, name, &trace_rows, kinds).map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// One line of a panel: label, colour, (capacity, hit %) points.
type Series = (String, RGBColor, Vec<(f64, f64)>);

type Panel<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_panel(area: &Panel<'_>, name: &str, rows: &[&Row], kinds: &[Kind]) -> Result<(), Box<dyn std::error::Error>> {
    let lo = rows.first().map_or(1, |r| r.capacity) as f64;
    let hi = rows.last().map_or(2, |r| r.capacity) as f64;
    let (lo, hi) = if hi > lo { (lo / 1.25, hi * 1.25) } else { (lo / 2.0, hi * 2.0) };
    let ticks: Vec<f64> = rows.iter().map(|r| r.capacity as f64).collect();
    let top = rows.iter().map(|r| r.opt_pct).fold(0.0, f64::max);
    let top = ((top / 10.0).ceil() * 10.0).clamp(10.0, 100.0);
    let mut chart = ChartBuilder::on(area)
        .caption(name, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(40)
        .build_cartesian_2d((lo..hi).log_scale().with_key_points(ticks), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("capacity (entries)")
        .y_desc("hit ratio %")
        .x_label_formatter(&|x| short(*x))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    let mut series: Vec<Series> = vec![
        ("OPT".into(), BLACK, pts(rows, |r| Some(r.opt_pct))),
        ("LRU (exact)".into(), RGBColor(170, 170, 170), pts(rows, |r| Some(r.lru_pct))),
    ];
    let palette = [RGBColor(214, 39, 40), RGBColor(255, 127, 14), RGBColor(31, 119, 180), RGBColor(44, 160, 44)];
    for (i, &k) in kinds.iter().enumerate() {
        let color = palette[i % palette.len()];
        series.push((k.label().into(), color, pts(rows, |r| r.get(k).map(|c| c.hit_pct))));
    }
    for (label, color, points) in series {
        // Exact LRU is drawn wide so that our Lru policy, which tracks it, does not hide it.
        let width = if label.starts_with("LRU") { 6 } else { 2 };
        let style = ShapeStyle::from(&color).stroke_width(width);
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, ShapeStyle::from(&color).filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()?;
    Ok(())
}

/// Capacity tick label: `512`, `2,000` → `2000`, `160,000` → `160k`.
fn short(x: f64) -> String {
    if x >= 10_000.0 { format!("{:.0}k", x / 1000.0) } else { format!("{x:.0}") }
}

fn pts(rows: &[&Row], f: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter().filter_map(|r| Some((r.capacity as f64, f(r)?))).collect()
}
