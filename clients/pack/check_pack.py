"""The board pack as its readers meet it (issue 16, item 4), against a running demo service.

Finance opens pack.xlsx in a spreadsheet: openpyxl reads it as Excel would, and every amount
must be a number in a £ format, every header frozen, every sheet set to print A4 landscape one
page wide with its title rows repeated; the schedule's totals must be the year-on-year report's.
The board prints pack.html: Chromium renders it (and the chart) to PNG, and each image must be a
drawn page, not a blank one.

Usage: check_pack.py BASE_URL TOKEN OUT_DIR CHROMIUM
"""

import io
import json
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import openpyxl
from PIL import Image

BASE, TOKEN, OUT, CHROMIUM = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
YEAR = "2020-21"
MONEY = "£#,##0.00;[Red]-£#,##0.00"


def get(path: str) -> bytes:
    request = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, (path, response.status)
        return response.read()


def pounds(value: object) -> Decimal:
    assert isinstance(value, (int, float)), f"not a number: {value!r}"
    return Decimal(str(value)).quantize(Decimal("0.01"))


book = openpyxl.load_workbook(io.BytesIO(get(f"/api/v1/reports/years/{YEAR}/pack.xlsx")))
assert book.sheetnames == ["Summary", "Schedule", "Totals", "Monitoring", "Payments"], book.sheetnames
for sheet in book.worksheets:
    assert sheet.freeze_panes == "A5", (sheet.title, sheet.freeze_panes)
    assert sheet.page_setup.orientation == "landscape", sheet.title
    assert str(sheet.page_setup.paperSize) == "9", (sheet.title, sheet.page_setup.paperSize)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
    assert sheet.print_title_rows == "$1:$4", (sheet.title, sheet.print_title_rows)

schedule = book["Schedule"]
header = [c.value for c in schedule[4]]
assert header[:9] == ["Line", "Reference", "Recipient", "Programme", "Category", "Theme",
                      "Awarded last year (2019-20)", "Awarded this year (2020-21)", "Change"], header
lines = [row for row in schedule.iter_rows(min_row=5) if isinstance(row[0].value, int)]
assert len(lines) >= 10, f"the demo's schedule has {len(lines)} lines"
for row in lines:
    for cell in row[6:9]:
        if cell.value is not None:
            assert cell.data_type == "n" and cell.number_format == MONEY, (cell.coordinate, cell.value, cell.number_format)
    assert pounds(row[7].value) - pounds(row[6].value or 0) == pounds(row[8].value), row[1].value
total = next(row for row in schedule.iter_rows(min_row=5) if row[1].value == "Total")
yoy = json.loads(get(f"/api/v1/reports/year-on-year?from=2019-20&to={YEAR}"))
assert pounds(total[7].value) == Decimal(yoy["totals"]["to_amount"]), (total[7].value, yoy["totals"])
assert pounds(total[7].value) == sum(pounds(r[7].value) for r in lines)

report = json.loads(get(f"/api/v1/reports/years/{YEAR}"))
# The figures come first; the notes below them repeat some words ("Headroom") with their meaning.
summary: dict = {}
for row in book["Summary"].iter_rows(min_row=5):
    if row[0].value:
        summary.setdefault(row[0].value, row[1].value)
assert pounds(summary["Headroom"]) == Decimal(report["headroom"]), (summary["Headroom"], report["headroom"])
assert book["Summary"]["B5"].number_format == MONEY
assert summary["Head event (seq)"].isdigit(), summary
assert summary["What the figures mean"] is None and summary["Committed"].startswith("what holds the budget"), summary
print(f"pack.xlsx: {len(lines)} schedule lines, numbers in £ formats, headers frozen, A4 landscape")

OUT.mkdir(parents=True, exist_ok=True)
(OUT / "pack.html").write_bytes(get(f"/api/v1/reports/years/{YEAR}/pack.html"))
(OUT / "chart.svg").write_bytes(get(f"/api/v1/reports/years/{YEAR}/chart.svg"))
for name, size in [("pack.html", "1240,1754"), ("chart.svg", "1000,560")]:
    png = OUT / (name.split(".")[0] + ".png")
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size}", f"--screenshot={png}", (OUT / name).resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    image = Image.open(png).convert("L")
    drawn = sum(image.histogram()[:200]) / (image.width * image.height)
    assert image.size == tuple(int(n) for n in size.split(",")), image.size
    assert drawn > 0.02, f"{png} is almost blank ({drawn:.1%} drawn)"
    print(f"{name} rendered to {png}: {image.width}x{image.height}, {drawn:.1%} of pixels drawn")
