-- POST /api/v1/awards/{id}/payments {"amount": "0.01", "paid_on": "2020-07-01", "reference": "BENCH"}
-- The statements the service sends for this request (captured with log_statement = all), with
-- the award id drawn at random from the same 1,000 approved 2020-21 awards the wrk script uses.
-- r2d2's connection check (SELECT 1) is the service's own overhead and is not repeated here.
\set n random(1, :awards)
-- The award row lock, the sums the overpayment rule checks (payments and repayments), the payment, then the audit event:
-- the chain lock (pg_advisory_xact_lock(CHAIN_LOCK)), the chain head, and the event whose hash
-- covers the previous hash and the event (here SHA-256 in SQL; the service hashes in Rust).
BEGIN;
SELECT "awards"."id", "awards"."reference", "awards"."fund_id", "awards"."financial_year", "awards"."programme_id", "awards"."category", "awards"."recipient_id", "awards"."title", "awards"."purpose", "awards"."conditions", "awards"."crime_reduction_rationale", "awards"."amount", "awards"."original_amount", "awards"."status", "awards"."decision_ref", "awards"."start_date", "awards"."end_date", "awards"."created_by", "awards"."created_at", "awards"."approved_by", "awards"."approved_at", "awards"."withdrawn_reason", "awards"."updated_at", "awards"."version", "awards"."decision_id", "awards"."awarded_on", "awards"."previous_award_id", "awards"."change_reason", "awards"."amount_requested", "awards"."requested_on", "awards"."plan_id", "awards"."plan_theme" FROM "awards" WHERE ("awards"."id" = (SELECT id FROM bench_ids WHERE n = :n)) LIMIT 1 FOR UPDATE \gset a_
SELECT "payments"."award_id", "payments"."status", sum("payments"."amount") FROM "payments" WHERE (("payments"."award_id" = ANY(ARRAY[:a_id::uuid])) AND ("payments"."status" = ANY('{scheduled,paid}'::text[]))) GROUP BY "payments"."award_id", "payments"."status";
SELECT "repayments"."award_id", sum("repayments"."amount") FROM "repayments" WHERE ("repayments"."award_id" = ANY(ARRAY[:a_id::uuid])) GROUP BY "repayments"."award_id";
INSERT INTO "payments" ("id", "award_id", "amount", "status", "due_on", "paid_on", "reference", "paid_by", "created_by") VALUES (gen_random_uuid(), :a_id::uuid, 0.01, 'paid', DEFAULT, '2020-07-01', 'BENCH', 'bench-finance', 'bench-finance') RETURNING "payments"."id", "payments"."award_id", "payments"."amount", "payments"."status", "payments"."due_on", "payments"."paid_on", "payments"."reference", "payments"."created_by", "payments"."created_at", "payments"."updated_at", "payments"."version", "payments"."paid_by", "payments"."cancelled_reason", "payments"."cancelled_at" \gset p_
SELECT pg_advisory_xact_lock(113740958561395);
SELECT "audit_events"."seq" AS head_seq, "audit_events"."hash" AS head_hash FROM "audit_events" ORDER BY "audit_events"."seq" DESC LIMIT 1 \gset
INSERT INTO "audit_events" ("seq", "id", "at", "actor_sub", "actor_name", "action", "entity_type", "entity_id", "award_id", "data", "data_text", "prev_hash", "hash")
  SELECT :head_seq::bigint + 1, gen_random_uuid(), now(), 'bench-finance', NULL, 'payment.paid', 'payment', :p_id::uuid, :a_id::uuid, d, d::text, :head_hash::text,
         encode(sha256(convert_to(:head_hash::text || d::text, 'UTF8')), 'hex')
  FROM (SELECT jsonb_build_object('id', :p_id::text, 'amount', :p_amount::text, 'due_on', NULL, 'status', 'paid',
          'paid_by', 'bench-finance', 'paid_on', '2020-07-01', 'version', 1, 'award_id', :a_id::text, 'reference', 'BENCH',
          'created_at', :p_created_at::text, 'created_by', 'bench-finance', 'updated_at', :p_updated_at::text,
          'cancelled_at', NULL, 'cancelled_reason', NULL) AS d) AS event;
COMMIT;
