"""A small client of the grants API, written against the client openapi-python-client generates
from openapi/openapi.json. CI generates the client, type-checks this file with
`mypy --strict` and runs it against a demo service (see .ci/clients.sh).

    GRANTS_URL=http://127.0.0.1:8080 GRANTS_TOKEN=<finance token> python program.py
"""

import datetime
import os
import sys
from decimal import Decimal

from grants_api_client import AuthenticatedClient
from grants_api_client.api.awards import create_award
from grants_api_client.api.exports import export_360giving
from grants_api_client.api.funds import list_funds
from grants_api_client.api.programmes import list_programmes
from grants_api_client.api.recipients import list_recipients
from grants_api_client.api.reports import get_year_pack_xlsx
from grants_api_client.models import Award, CreateAward, Fund, FundStatus, GrantPackage, Problem
from grants_api_client.types import File


def open_funds(client: AuthenticatedClient, year: str) -> list[Fund]:
    """Every open fund of the year: a list item is a `Fund`, the same class `get_fund` returns."""
    page = list_funds.sync(client=client, financial_year=year)
    if not page or isinstance(page, Problem):
        raise SystemExit(f"listing funds failed: {page}")
    return [fund for fund in page.items if fund.status == FundStatus.OPEN]


def main() -> int:
    client = AuthenticatedClient(base_url=os.environ["GRANTS_URL"], token=os.environ["GRANTS_TOKEN"])
    year = os.environ.get("GRANTS_YEAR", "2020-21")
    funds = open_funds(client, year)
    if not funds:
        raise SystemExit(f"no open fund in {year}")
    fund = funds[0]
    print(f"{fund.name}: budget {Decimal(fund.budget)}, headroom {Decimal(fund.headroom)}")

    recipients = list_recipients.sync(client=client, limit=1)
    programmes = list_programmes.sync(client=client, limit=1)
    if not recipients or isinstance(recipients, Problem) or not programmes or isinstance(programmes, Problem):
        raise SystemExit("listing recipients or programmes failed")
    start = datetime.date.fromisoformat(fund.financial_year[:4] + "-04-01")
    draft = CreateAward(
        fund_id=fund.id,
        recipient_id=recipients.items[0].id,
        programme_id=programmes.items[0].id,
        title="Client check (generated Python client)",
        purpose="Proves the generated client creates a draft",
        conditions="None: this draft is never approved",
        crime_reduction_rationale="None: a client test",
        amount="1.00",
        start_date=start,
        end_date=start.replace(year=start.year + 1, month=3, day=31),
    )
    created = create_award.sync(client=client, body=draft)
    if not isinstance(created, Award):
        raise SystemExit(f"creating a draft failed: {created}")
    print(f"draft {created.reference} ({created.status}) for {Decimal(created.amount)}")

    package = export_360giving.sync(client=client, financial_year=fund.financial_year)
    if not isinstance(package, GrantPackage):
        raise SystemExit(f"the 360Giving export failed: {package}")
    total = sum((Decimal(str(grant.amount_awarded)) for grant in package.grants), Decimal(0)).quantize(Decimal("0.01"))
    print(f"360Giving {fund.financial_year}: {len(package.grants)} grants, {total} awarded")

    pack = get_year_pack_xlsx.sync(client=client, financial_year=fund.financial_year)
    if not isinstance(pack, File):
        raise SystemExit(f"the board pack failed: {pack}")
    workbook = pack.payload.read()
    if workbook[:2] != b"PK":
        raise SystemExit("the board pack is not a workbook (an XLSX is a zip)")
    print(f"board pack {fund.financial_year}: a workbook of {len(workbook)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
