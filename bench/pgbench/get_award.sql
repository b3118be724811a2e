-- GET /api/v1/awards/{id}
-- The statements the service sends for this request (captured with log_statement = all), with
-- the award id drawn at random from the same 1,000 approved 2020-21 awards the wrk script uses.
-- r2d2's connection check (SELECT 1) is the service's own overhead and is not repeated here.
\set n random(1, :awards)
SELECT "awards"."id", "awards"."reference", "awards"."fund_id", "awards"."financial_year", "awards"."programme_id", "awards"."category", "awards"."recipient_id", "awards"."title", "awards"."purpose", "awards"."conditions", "awards"."crime_reduction_rationale", "awards"."amount", "awards"."original_amount", "awards"."status", "awards"."decision_ref", "awards"."start_date", "awards"."end_date", "awards"."created_by", "awards"."created_at", "awards"."approved_by", "awards"."approved_at", "awards"."withdrawn_reason", "awards"."updated_at", "awards"."version" FROM "awards" WHERE ("awards"."id" = (SELECT id FROM bench_ids WHERE n = :n)) LIMIT 1 \gset a_
SELECT "payments"."award_id", "payments"."status", sum("payments"."amount") FROM "payments" WHERE (("payments"."award_id" = ANY(ARRAY[:a_id::uuid])) AND ("payments"."status" = ANY('{scheduled,paid}'::text[]))) GROUP BY "payments"."award_id", "payments"."status";
