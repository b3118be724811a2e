//! The board-paper chart, drawn with plotters' SVG backend. Amounts are plotted in whole pounds
//! (integers): a chart needs no pence, and no floating point touches money.

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use super::YearReport;
use crate::domain::Money;

const BUDGET: RGBColor = RGBColor(0xbd, 0xc3, 0xc7);
const COMMITTED: RGBColor = RGBColor(0x1f, 0x4e, 0x79);
const PAID: RGBColor = RGBColor(0x2e, 0x8b, 0x57);

fn pounds(m: Money) -> i64 {
    m.to_decimal().trunc().to_i64().unwrap_or(0)
}

/// `1300000` as `£1,300,000`.
fn label(pounds: &i64) -> String {
    let digits = pounds.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}£{out}", if *pounds < 0 { "-" } else { "" })
}

/// Draws the year beside the previous one as SVG text.
pub fn year_chart(this: &YearReport, previous: &YearReport) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(
                &format!(
                    "Crime and disorder reduction grants {} (beside {})",
                    this.financial_year, previous.financial_year
                ),
                ("sans-serif", 22),
            )
            .map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(380);

        // Left: budget, committed and paid, previous year then this year.
        let years = [previous, this];
        // Headroom above the tallest bar keeps the legend clear of the bars.
        let top = years.iter().map(|y| pounds(y.budget).max(pounds(y.committed))).max().unwrap_or(0).max(1) * 14 / 10;
        let mut chart = ChartBuilder::on(&left)
            .caption("Budget, committed and paid", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0i64..6, 0i64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(7)
            .x_label_formatter(&|x| match x {
                1 => previous.financial_year.to_string(),
                4 => this.financial_year.to_string(),
                _ => String::new(),
            })
            .y_label_formatter(&label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (j, (name, colour)) in
            [("budget", BUDGET), ("committed", COMMITTED), ("paid", PAID)].into_iter().enumerate()
        {
            chart
                .draw_series(years.iter().enumerate().map(move |(i, year)| {
                    let value = pounds([year.budget, year.committed, year.paid][j]);
                    let x = i as i64 * 3 + j as i64;
                    Rectangle::new([(x, 0), (x + 1, value)], colour.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| e.to_string())?;

        // Right: committed and paid by category, previous year (light) and this year (dark).
        let categories = &this.by_category;
        let top =
            categories.iter().chain(previous.by_category.iter()).map(|c| pounds(c.committed)).max().unwrap_or(0).max(1)
                * 11
                / 10;
        let n = categories.len() as i64;
        let mut chart = ChartBuilder::on(&right)
            .caption("Committed and paid by category", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0i64..n * 5, 0i64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels((n * 5) as usize)
            .x_label_formatter(&|x| {
                if x % 5 == 2 {
                    categories.get((x / 5) as usize).map(|c| c.category.as_str().replace('_', " ")).unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&label)
            .draw()
            .map_err(|e| e.to_string())?;
        let series = [
            ("committed, previous year", previous, true, COMMITTED.mix(0.35)),
            ("paid, previous year", previous, false, PAID.mix(0.35)),
            ("committed", this, true, COMMITTED.mix(1.0)),
            ("paid", this, false, PAID.mix(1.0)),
        ];
        for (k, (name, report, committed, colour)) in series.into_iter().enumerate() {
            chart
                .draw_series(report.by_category.iter().enumerate().map(move |(i, c)| {
                    let x = i as i64 * 5 + k as i64;
                    let value = pounds(if committed { c.committed } else { c.paid });
                    Rectangle::new([(x, 0), (x + 1, value)], colour.filled())
                }))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
