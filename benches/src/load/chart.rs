//! SVG chart of the server comparison: left, throughput per workload (one horizontal bar per server,
//! ours beside its peer); right, latency percentiles (p50, p99, p99.9) of every server at the
//! equal-load workload. Same plotters SVG backend and palette as [`crate::chart`].
//!
//! Owns drawing only; the medians come from [`super::summary`].

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::summary::{Cell, peer_of};

type Panel<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// One group of bars: a label and (series name, colour, value) per bar.
type Group = (String, Vec<(&'static str, RGBColor, f64)>);

const OURS: RGBColor = RGBColor(214, 39, 40);
const REDIS: RGBColor = RGBColor(31, 119, 180);
const MEMCACHED: RGBColor = RGBColor(44, 160, 44);

fn colour(server: &str) -> RGBColor {
    match server {
        "ours" => OURS,
        "redis" => REDIS,
        _ => MEMCACHED,
    }
}

/// Renders the chart of `cells` (latency panel from the `equal_load` workload) into `path`.
///
/// # Errors
/// When the file cannot be written.
pub fn render(cells: &[Cell], equal_load: &str, path: &Path) -> Result<()> {
    let mut throughput: Vec<Group> = Vec::new();
    for protocol in ["resp", "memcache"] {
        let peer = peer_of(protocol);
        for c in cells.iter().filter(|c| c.protocol == protocol && c.server == "ours" && c.workload != equal_load) {
            let Some(p) = cells.iter().find(|p| p.workload == c.workload && p.protocol == protocol && p.server == peer)
            else {
                continue;
            };
            let label = format!("{} ({protocol})", c.workload);
            let bars = vec![("ours", OURS, c.ops_per_sec / 1000.0), (peer, colour(peer), p.ops_per_sec / 1000.0)];
            throughput.push((label, bars));
        }
    }
    let mut latency: Vec<Group> = Vec::new();
    for c in cells.iter().filter(|c| c.workload == equal_load) {
        let shade = |f: f64| {
            let RGBColor(r, g, b) = colour(&c.server);
            let mix = |x: u8| (f64::from(x) + (255.0 - f64::from(x)) * f) as u8;
            RGBColor(mix(r), mix(g), mix(b))
        };
        let bars = vec![("p50", shade(0.6), c.p50_us), ("p99", shade(0.3), c.p99_us), ("p99.9", shade(0.0), c.p999_us)];
        latency.push((format!("{} ({})", c.server, c.protocol), bars));
    }
    let height = 120 + 34 * throughput.len().max(latency.len()) as u32;
    let root = SVGBackend::new(path, (1200, height.max(360))).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = root.split_horizontally(640);
    bars(&left, "throughput (k ops/s, median)", &throughput).map_err(|e| anyhow!("{e}"))?;
    let title = format!("latency µs at equal load: {equal_load}");
    bars(&right, &title, &latency).map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Horizontal grouped bars, one group per row, labelled on the y axis; the legend names each bar
/// kind once (in the latency panel its colour is the first server's shade).
fn bars(area: &Panel<'_>, title: &str, groups: &[Group]) -> Result<(), Box<dyn std::error::Error>> {
    let n = groups.len().max(1);
    let top = groups.iter().flat_map(|g| g.1.iter().map(|b| b.2)).fold(0.0, f64::max).max(1.0) * 1.1;
    let labels: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(170)
        .build_cartesian_2d(0.0..top, -0.5..(n as f64 - 0.5))?;
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| {
            let i = y.round();
            let row = n as f64 - 1.0 - i;
            if (y - i).abs() < 1e-6 && row >= 0.0 {
                labels.get(row as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 11))
        .draw()?;
    let mut seen: Vec<&str> = Vec::new();
    for (row, (_, group)) in groups.iter().enumerate() {
        let k = group.len().max(1) as f64;
        let h = 0.8 / k;
        for (j, &(name, color, v)) in group.iter().enumerate() {
            // First group at the top, its bars in legend order from the top down.
            let y0 = (n - 1 - row) as f64 + 0.4 - (j + 1) as f64 * h;
            let rect = Rectangle::new([(0.0, y0), (v, y0 + h * 0.9)], color.filled());
            let series = chart.draw_series(std::iter::once(rect))?;
            if !seen.contains(&name) {
                seen.push(name);
                series.label(name).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            }
            chart.draw_series(std::iter::once(Text::new(
                format!("{v:.0}"),
                (v, y0 + h * 0.2),
                ("sans-serif", 10).into_font(),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()?;
    Ok(())
}
