//! The board-paper chart, drawn with plotters' SVG backend. Amounts are plotted in whole pounds
//! (integers): a chart needs no pence, and no floating point touches money.
//!
//! Left: for the previous year and this one, the budget available (after carry-forwards), what
//! is committed with the draft pipeline stacked on it, and what is paid, each bar labelled with
//! its value and each year with its headroom. Right: committed and paid by category, both years.
//! The axis is fitted to the largest bar; the SVG carries a `<title>` and a `<desc>` that say
//! the figures in words, for screen readers and for anyone who cannot see the bars.

use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use super::{YearReport, escape};
use crate::domain::Money;

const BUDGET: RGBColor = RGBColor(0xbd, 0xc3, 0xc7);
const COMMITTED: RGBColor = RGBColor(0x1f, 0x4e, 0x79);
const PIPELINE: RGBColor = RGBColor(0x8f, 0xb3, 0xd9);
const PAID: RGBColor = RGBColor(0x2e, 0x8b, 0x57);

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;

fn pounds(m: Money) -> i64 {
    m.to_decimal().trunc().to_i64().unwrap_or(0)
}

/// `1300000` as `£1,300,000`.
fn label(pounds: &i64) -> String {
    format!("{}£{}", if *pounds < 0 { "-" } else { "" }, super::thousands(&pounds.abs().to_string()))
}

/// A bar's value in three significant figures at most: `£1.29m`, `£643k`, `£950`.
fn short(pounds: i64) -> String {
    let sign = if pounds < 0 { "-" } else { "" };
    let n = pounds.unsigned_abs();
    let scaled = |unit: u64, suffix: &str| {
        // Tenths (or hundredths below 10 units), rounded half up, trailing zeros dropped.
        let places: u32 = if n / unit >= 100 {
            0
        } else if n / unit >= 10 {
            1
        } else {
            2
        };
        let factor = 10u64.pow(places);
        let rounded = (n * factor + unit / 2) / unit;
        let whole = rounded / factor;
        let fraction = rounded % factor;
        let fraction = if places == 0 || fraction == 0 {
            String::new()
        } else {
            format!(".{:0width$}", fraction, width = places as usize).trim_end_matches('0').to_string()
        };
        format!("{sign}£{whole}{fraction}{suffix}")
    };
    match n {
        0..=9_999 => format!("{sign}£{n}"),
        10_000..=999_999 => scaled(1_000, "k"),
        _ => scaled(1_000_000, "m"),
    }
}

/// The top of an axis that holds `largest` with room for a label above it: the next step of
/// 1, 2 or 5 times a power of ten past 108% of it (a £1.3m budget gets a £1.5m axis).
fn axis_top(largest: i64) -> i64 {
    let want = (largest.max(1) as i128 * 108 / 100).max(1);
    let mut power: i128 = 1;
    while power * 10 <= want {
        power *= 10;
    }
    let step = [1, 2, 5, 10].iter().map(|m| m * power / 10).find(|s| *s > 0 && (want / s) < 15).unwrap_or(power);
    (((want + step - 1) / step) * step).min(i64::MAX as i128) as i64
}

/// The chart's words: what a screen reader says, and what the figures are without the bars.
fn description(this: &YearReport, previous: &YearReport) -> String {
    let year = |y: &YearReport| {
        format!(
            "{}: budget available {}, committed {}, in draft {}, paid {}, headroom {}",
            y.financial_year,
            label(&available(y)),
            label(&pounds(y.committed)),
            label(&pounds(y.pipeline)),
            label(&pounds(y.paid)),
            label(&pounds(y.headroom)),
        )
    };
    let categories = this
        .by_category
        .iter()
        .map(|c| {
            format!("{} committed {}, paid {}", c.category.title(), label(&pounds(c.committed)), label(&pounds(c.paid)))
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!("{}. {}. By category in {}: {}.", year(this), year(previous), this.financial_year, categories)
}

/// The budget the year may commit: its funds' budgets with carry-forwards in and out.
fn available(y: &YearReport) -> i64 {
    pounds(y.available())
}

/// Draws the year beside the previous one as SVG text.
pub fn year_chart(this: &YearReport, previous: &YearReport) -> Result<String, String> {
    let title =
        format!("Crime and disorder reduction grants {} (beside {})", this.financial_year, previous.financial_year);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root.titled(&title, ("sans-serif", 22)).map_err(|e| e.to_string())?;
        let (body, legend) = root.split_vertically(HEIGHT - 70);
        let (left, right) = body.split_horizontally(430);
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let value_style = ("sans-serif", 11).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Bottom));

        // Left: budget available, committed (+ pipeline) and paid, previous year then this year.
        let years = [previous, this];
        let largest = years
            .iter()
            .map(|y| available(y).max(pounds(y.committed) + pounds(y.pipeline)).max(pounds(y.paid)))
            .max()
            .unwrap_or(0);
        let top = axis_top(largest);
        let mut chart = ChartBuilder::on(&left)
            .caption("Budget, committed and paid", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(90)
            // Two x units a bar, so that a label can stand at a bar's centre.
            .build_cartesian_2d(0i64..14, 0i64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(15)
            .x_label_formatter(&|x| match x {
                3 => format!("{} (headroom {})", previous.financial_year, short(pounds(previous.headroom))),
                11 => format!("{} (headroom {})", this.financial_year, short(pounds(this.headroom))),
                _ => String::new(),
            })
            .y_label_formatter(&label)
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, year) in years.iter().enumerate() {
            let x = i as i64 * 4;
            let (budget, committed, pipeline, paid) =
                (available(year), pounds(year.committed), pounds(year.pipeline), pounds(year.paid));
            let bars = [
                (x, 0, budget, BUDGET.mix(1.0)),
                (x + 1, 0, committed, COMMITTED.mix(1.0)),
                (x + 1, committed, committed + pipeline, PIPELINE.mix(1.0)),
                (x + 2, 0, paid, PAID.mix(1.0)),
            ];
            chart
                .draw_series(
                    bars.iter().map(|(x, from, to, colour)| {
                        Rectangle::new([(2 * *x, *from), (2 * *x + 2, *to)], colour.filled())
                    }),
                )
                .map_err(|e| e.to_string())?;
            let labels = [(x, budget), (x + 1, committed + pipeline), (x + 2, paid)];
            chart
                .draw_series(
                    labels.iter().map(|(x, value)| Text::new(short(*value), (2 * *x + 1, *value), value_style.clone())),
                )
                .map_err(|e| e.to_string())?;
        }

        // Right: committed and paid by category, previous year (light) and this year (dark).
        let categories = &this.by_category;
        let largest = categories
            .iter()
            .chain(previous.by_category.iter())
            .map(|c| pounds(c.committed).max(pounds(c.paid)))
            .max()
            .unwrap_or(0);
        let top = axis_top(largest);
        let n = categories.len() as i64;
        let mut chart = ChartBuilder::on(&right)
            .caption("Committed and paid by category", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(0i64..n * 10, 0i64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels((n * 10 + 1) as usize)
            .x_label_formatter(&|x| {
                if x % 10 == 4 {
                    categories.get((x / 10) as usize).map(|c| c.category.title().to_string()).unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&label)
            .draw()
            .map_err(|e| e.to_string())?;
        let series = [
            (previous, true, COMMITTED.mix(0.35)),
            (previous, false, PAID.mix(0.35)),
            (this, true, COMMITTED.mix(1.0)),
            (this, false, PAID.mix(1.0)),
        ];
        for (k, (report, committed, colour)) in series.into_iter().enumerate() {
            let value = move |c: &super::CategoryLine| pounds(if committed { c.committed } else { c.paid });
            chart
                .draw_series(report.by_category.iter().enumerate().map(move |(i, c)| {
                    let x = 2 * (i as i64 * 5 + k as i64);
                    Rectangle::new([(x, 0), (x + 2, value(c))], colour.filled())
                }))
                .map_err(|e| e.to_string())?;
            if std::ptr::eq(report, this) {
                chart
                    .draw_series(report.by_category.iter().enumerate().map(|(i, c)| {
                        let x = 2 * (i as i64 * 5 + k as i64) + 1;
                        Text::new(short(value(c)), (x, value(c)), value_style.clone())
                    }))
                    .map_err(|e| e.to_string())?;
            }
        }

        // The legend, in words a board reads.
        let keys: [(&str, RGBAColor); 6] = [
            ("Budget available", BUDGET.mix(1.0)),
            ("Committed", COMMITTED.mix(1.0)),
            ("In draft (pipeline)", PIPELINE.mix(1.0)),
            ("Paid", PAID.mix(1.0)),
            ("Committed, previous year", COMMITTED.mix(0.35)),
            ("Paid, previous year", PAID.mix(0.35)),
        ];
        let mut x = 20;
        for (name, colour) in keys {
            legend.draw(&Rectangle::new([(x, 24), (x + 12, 36)], colour.filled())).map_err(|e| e.to_string())?;
            legend.draw(&Text::new(name, (x + 18, 24), ("sans-serif", 13))).map_err(|e| e.to_string())?;
            x += 34 + 6 * name.len() as i32;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    // Name it for assistive technology: a title and a description as the SVG's first children.
    let open = svg.find("<svg").and_then(|at| svg[at..].find('>').map(|end| at + end + 1)).ok_or("no <svg> element")?;
    let words = format!("<title>{}</title><desc>{}</desc>", escape(&title), escape(&description(this, previous)));
    svg.insert_str(open, &words);
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_labelled_in_three_figures_at_most() {
        for (pounds, text) in [
            (0, "£0"),
            (950, "£950"),
            (9_999, "£9999"),
            (10_000, "£10k"),
            (45_000, "£45k"),
            (642_500, "£643k"),
            (99_950, "£100k"),
            (1_285_000, "£1.29m"),
            (1_300_000, "£1.3m"),
            (20_000_000, "£20m"),
            (-4_250, "-£4250"),
        ] {
            assert_eq!(short(pounds), text, "{pounds}");
        }
    }

    #[test]
    fn the_axis_fits_the_largest_bar_with_room_for_its_label() {
        // 1,389 wants 1,500: exactly 15 steps of 100 is too many, so steps of 200 (to 1,600).
        for (largest, top) in
            [(1_300_000, 1_500_000), (1_000_000, 1_100_000), (45_000, 50_000), (0, 1), (95, 110), (1_389, 1_600)]
        {
            assert_eq!(axis_top(largest), top, "{largest}");
        }
        for largest in [1, 7, 99, 1_234, 55_555, 1_300_000, 7_654_321] {
            let top = axis_top(largest);
            assert!(top >= largest * 108 / 100 && top <= largest * 2 + 2, "{largest} -> {top}");
        }
    }

    #[test]
    fn the_budget_available_counts_carry_forwards_in_and_out() {
        let money = |text: &str| Money::parse(text).unwrap();
        let year = YearReport {
            financial_year: crate::domain::FinancialYear::parse("2021-22").unwrap(),
            budget: money("1000000.00"),
            committed: money("400000.00"),
            paid: money("100000.00"),
            carried_in: money("250000.00"),
            carried_out: money("50000.00"),
            headroom: money("800000.00"),
            pipeline: money("0.00"),
            released: money("0.00"),
            by_category: Vec::new(),
            by_theme: Vec::new(),
            as_of: None,
        };
        assert_eq!(available(&year), 1_200_000);
        assert!(description(&year, &year).contains("budget available £1,200,000"), "{}", description(&year, &year));
    }
}
