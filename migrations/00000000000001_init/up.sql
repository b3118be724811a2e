-- The grants ledger: funds, recipients, programmes, awards, payments and the audit chain.
-- Rules that must hold whatever the application does are constraints here.

CREATE TABLE funds (
    id uuid PRIMARY KEY,
    code text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,19}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    financial_year text NOT NULL CHECK (financial_year ~ '^[0-9]{4}-[0-9]{2}$'),
    budget numeric(14, 2) NOT NULL CHECK (budget >= 0),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    -- Next number for award references (CDRG-2020-21-0007); not part of the fund's version.
    next_award_number integer NOT NULL DEFAULT 1,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT funds_code_year_key UNIQUE (code, financial_year)
);
CREATE INDEX funds_financial_year_idx ON funds (financial_year);

CREATE TABLE recipients (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind text NOT NULL CHECK (kind IN ('local_authority', 'community_safety_partnership',
        'statutory_partnership', 'voluntary_sector', 'health', 'other')),
    org_identifier text,
    district text,
    contact_email text,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recipients_org_identifier_key UNIQUE (org_identifier)
);

CREATE TABLE programmes (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    category text NOT NULL CHECK (category IN ('statutory_contribution', 'csp_allocation',
        'commissioned_service')),
    plan_theme text NOT NULL CHECK (plan_theme IN ('victims', 'offenders', 'communities',
        'transformation')),
    description text NOT NULL DEFAULT '',
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT programmes_name_key UNIQUE (name)
);

CREATE TABLE awards (
    id uuid PRIMARY KEY,
    reference text NOT NULL,
    fund_id uuid NOT NULL REFERENCES funds (id),
    -- Copied from the fund and the programme when the award is made, so that filters and
    -- reports read one table; the fund never changes, the programme only while draft.
    financial_year text NOT NULL,
    programme_id uuid NOT NULL REFERENCES programmes (id),
    category text NOT NULL,
    recipient_id uuid NOT NULL REFERENCES recipients (id),
    title text NOT NULL,
    purpose text NOT NULL,
    conditions text NOT NULL,
    crime_reduction_rationale text NOT NULL,
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    original_amount numeric(14, 2) NOT NULL CHECK (original_amount > 0),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'closed',
        'withdrawn')),
    decision_ref text,
    start_date date NOT NULL,
    end_date date NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    approved_by text,
    approved_at timestamptz,
    withdrawn_reason text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT awards_reference_key UNIQUE (reference),
    CONSTRAINT awards_dates_check CHECK (end_date >= start_date),
    CONSTRAINT awards_approval_check CHECK (
        status IN ('draft') OR status = 'withdrawn' OR (approved_by IS NOT NULL AND decision_ref IS NOT NULL))
);
CREATE INDEX awards_fund_status_idx ON awards (fund_id, status);
CREATE INDEX awards_recipient_idx ON awards (recipient_id);
CREATE INDEX awards_programme_idx ON awards (programme_id);
CREATE INDEX awards_financial_year_idx ON awards (financial_year);

CREATE TABLE payments (
    id uuid PRIMARY KEY,
    award_id uuid NOT NULL REFERENCES awards (id),
    amount numeric(14, 2) NOT NULL CHECK (amount > 0),
    status text NOT NULL CHECK (status IN ('scheduled', 'paid', 'cancelled')),
    due_on date,
    paid_on date,
    reference text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT payments_paid_check CHECK (status <> 'paid' OR paid_on IS NOT NULL)
);
CREATE INDEX payments_award_idx ON payments (award_id, status);

-- The audit trail: one hash chain, append only.
CREATE TABLE audit_events (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    id uuid NOT NULL UNIQUE,
    at timestamptz NOT NULL,
    actor_sub text NOT NULL,
    actor_name text,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id uuid NOT NULL,
    award_id uuid,
    data jsonb NOT NULL,
    prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_id, seq);
CREATE INDEX audit_events_award_idx ON audit_events (award_id, seq) WHERE award_id IS NOT NULL;

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
