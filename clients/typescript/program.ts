// A small client of the grants API, written against the types openapi-typescript generates
// from openapi/openapi.json and the openapi-fetch client. CI generates the types, compiles this
// file with `tsc --strict` and runs it against a demo service (see .ci/clients.sh).
//
//   GRANTS_URL=http://127.0.0.1:8080 GRANTS_TOKEN=<finance token> node dist/program.js

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Fund = components["schemas"]["Fund"];
type CreateAward = components["schemas"]["CreateAward"];

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const client = createClient<paths>({
  baseUrl: env("GRANTS_URL"),
  headers: { Authorization: `Bearer ${env("GRANTS_TOKEN")}` },
});

/** Every open fund of the year: a list item is a `Fund`, the same type `GET /funds/{id}` gives. */
async function openFunds(year: string): Promise<Fund[]> {
  const { data, error } = await client.GET("/api/v1/funds", { params: { query: { financial_year: year } } });
  if (error || !data) throw new Error(`listing funds failed: ${JSON.stringify(error)}`);
  return data.items.filter((fund: Fund) => fund.status === "open");
}

async function main(): Promise<void> {
  const year = process.env.GRANTS_YEAR ?? "2020-21";
  const funds = await openFunds(year);
  const fund = funds[0];
  if (!fund) throw new Error(`no open fund in ${year}`);
  console.log(`${fund.name}: budget ${fund.budget}, headroom ${fund.headroom}`);

  const recipients = await client.GET("/api/v1/recipients", { params: { query: { limit: 1 } } });
  const programmes = await client.GET("/api/v1/programmes", { params: { query: { limit: 1 } } });
  const recipient = recipients.data?.items[0];
  const programme = programmes.data?.items[0];
  if (!recipient || !programme) throw new Error("listing recipients or programmes failed");
  const startYear = Number(fund.financial_year.slice(0, 4));
  const draft: CreateAward = {
    fund_id: fund.id,
    recipient_id: recipient.id,
    programme_id: programme.id,
    title: "Client check (generated TypeScript types)",
    purpose: "Proves the generated types create a draft",
    conditions: "None: this draft is never approved",
    crime_reduction_rationale: "None: a client test",
    amount: "1.00",
    start_date: `${startYear}-04-01`,
    end_date: `${startYear + 1}-03-31`,
  };
  const created = await client.POST("/api/v1/awards", { body: draft });
  if (created.error || !created.data) throw new Error(`creating a draft failed: ${JSON.stringify(created.error)}`);
  console.log(`draft ${created.data.reference} (${created.data.status}) for ${created.data.amount}`);

  const exported = await client.GET("/api/v1/exports/360giving", {
    params: { query: { financial_year: fund.financial_year } },
  });
  if (exported.error || !exported.data) throw new Error(`the 360Giving export failed: ${JSON.stringify(exported.error)}`);
  const grants = exported.data.grants;
  console.log(`360Giving ${fund.financial_year}: ${grants.length} grants, first ${grants[0]?.id ?? "none"}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
