// Written to match migrations/; `diesel print-schema` against a migrated database gives the same tables.

diesel::table! {
    funds (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        financial_year -> Text,
        budget -> Numeric,
        status -> Text,
        next_award_number -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        budget_decision_ref -> Nullable<Text>,
        budget_decision_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    recipients (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        org_identifier -> Nullable<Text>,
        district -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        postcode -> Nullable<Text>,
        area_code -> Nullable<Text>,
        area_type -> Nullable<Text>,
        area_name -> Nullable<Text>,
    }
}

diesel::table! {
    programmes (id) {
        id -> Uuid,
        name -> Text,
        category -> Text,
        plan_theme -> Text,
        description -> Text,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        plan_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    awards (id) {
        id -> Uuid,
        reference -> Text,
        fund_id -> Uuid,
        financial_year -> Text,
        programme_id -> Uuid,
        category -> Text,
        recipient_id -> Uuid,
        title -> Text,
        purpose -> Text,
        conditions -> Text,
        crime_reduction_rationale -> Text,
        amount -> Numeric,
        original_amount -> Numeric,
        status -> Text,
        decision_ref -> Nullable<Text>,
        start_date -> Date,
        end_date -> Date,
        created_by -> Text,
        created_at -> Timestamptz,
        approved_by -> Nullable<Text>,
        approved_at -> Nullable<Timestamptz>,
        withdrawn_reason -> Nullable<Text>,
        updated_at -> Timestamptz,
        version -> Int4,
        decision_id -> Nullable<Uuid>,
        awarded_on -> Nullable<Date>,
        previous_award_id -> Nullable<Uuid>,
        change_reason -> Nullable<Text>,
        amount_requested -> Nullable<Numeric>,
        requested_on -> Nullable<Date>,
        plan_id -> Nullable<Uuid>,
        plan_theme -> Nullable<Text>,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        award_id -> Uuid,
        amount -> Numeric,
        status -> Text,
        due_on -> Nullable<Date>,
        paid_on -> Nullable<Date>,
        reference -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        paid_by -> Nullable<Text>,
        cancelled_reason -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    variations (id) {
        id -> Uuid,
        award_id -> Uuid,
        amount -> Numeric,
        previous_amount -> Numeric,
        reason -> Text,
        status -> Text,
        proposed_by -> Text,
        decided_by -> Nullable<Text>,
        decision_ref -> Nullable<Text>,
        decision_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
        version -> Int4,
        decision_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    idempotency_keys (subject, key) {
        subject -> Text,
        key -> Text,
        request_hash -> Text,
        status_code -> Int4,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> Int8,
        id -> Uuid,
        at -> Timestamptz,
        actor_sub -> Text,
        actor_name -> Nullable<Text>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Uuid,
        award_id -> Nullable<Uuid>,
        data -> Jsonb,
        prev_hash -> Text,
        hash -> Text,
        data_text -> Nullable<Text>,
    }
}

diesel::table! {
    activities (id) {
        id -> Uuid,
        award_id -> Uuid,
        title -> Text,
        description -> Text,
        measure -> Text,
        target -> Nullable<Numeric>,
        created_by -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    returns (id) {
        id -> Uuid,
        award_id -> Uuid,
        recipient_id -> Uuid,
        period -> Text,
        revision -> Int4,
        status -> Text,
        spend_to_date -> Numeric,
        narrative -> Text,
        submitted_by -> Text,
        submitted_at -> Timestamptz,
        reviewed_by -> Nullable<Text>,
        reviewed_at -> Nullable<Timestamptz>,
        review_comment -> Nullable<Text>,
        version -> Int4,
        risks -> Nullable<Jsonb>,
        received_on -> Nullable<Date>,
    }
}

diesel::table! {
    documents (id) {
        id -> Uuid,
        award_id -> Nullable<Uuid>,
        return_id -> Nullable<Uuid>,
        filename -> Text,
        media_type -> Text,
        size -> Int8,
        sha256 -> Text,
        uploaded_by -> Text,
        uploaded_at -> Timestamptz,
        version -> Int4,
        decision_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    document_chunks (document_id, n) {
        document_id -> Uuid,
        n -> Int4,
        data -> Bytea,
    }
}

diesel::table! {
    reminders (id) {
        id -> Uuid,
        award_id -> Uuid,
        period -> Text,
        stage -> Text,
        sent_to -> Text,
        subject -> Text,
        sent_at -> Timestamptz,
    }
}

diesel::table! {
    monitoring_plans (id) {
        id -> Uuid,
        award_id -> Uuid,
        frequency -> Text,
        days_allowed -> Int4,
        set_by -> Text,
        set_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    indicators (id) {
        id -> Uuid,
        award_id -> Uuid,
        title -> Text,
        unit -> Text,
        baseline -> Nullable<Numeric>,
        target -> Nullable<Numeric>,
        direction -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
        version -> Int4,
        period_targets -> Nullable<Jsonb>,
    }
}

diesel::table! {
    return_results (return_id, indicator_id) {
        return_id -> Uuid,
        position -> Int4,
        indicator_id -> Uuid,
        actual -> Nullable<Numeric>,
        commentary -> Text,
    }
}

diesel::table! {
    return_lines (return_id, activity_id) {
        return_id -> Uuid,
        position -> Int4,
        activity_id -> Uuid,
        status -> Text,
        output_value -> Nullable<Numeric>,
        commentary -> Text,
    }
}

diesel::table! {
    decisions (id) {
        id -> Uuid,
        reference -> Text,
        title -> Text,
        decided_on -> Date,
        decided_by -> Text,
        url -> Nullable<Text>,
        summary -> Text,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    plans (id) {
        id -> Uuid,
        title -> Text,
        starts_on -> Date,
        ends_on -> Date,
        themes -> Jsonb,
        created_by -> Text,
        created_at -> Timestamptz,
        ends_on_decision_id -> Nullable<Uuid>,
    }
}

diesel::joinable!(awards -> funds (fund_id));
diesel::joinable!(awards -> decisions (decision_id));
diesel::joinable!(activities -> awards (award_id));
diesel::joinable!(returns -> awards (award_id));
diesel::joinable!(return_lines -> returns (return_id));
diesel::joinable!(return_results -> returns (return_id));
diesel::joinable!(return_results -> indicators (indicator_id));
diesel::joinable!(indicators -> awards (award_id));
diesel::joinable!(monitoring_plans -> awards (award_id));
diesel::joinable!(documents -> awards (award_id));
diesel::joinable!(reminders -> awards (award_id));
diesel::joinable!(document_chunks -> documents (document_id));
diesel::joinable!(awards -> programmes (programme_id));
diesel::joinable!(awards -> recipients (recipient_id));
diesel::joinable!(payments -> awards (award_id));
diesel::joinable!(repayments -> awards (award_id));
diesel::joinable!(variations -> awards (award_id));

diesel::allow_tables_to_appear_in_same_query!(
    funds,
    recipients,
    programmes,
    awards,
    payments,
    variations,
    audit_events,
    idempotency_keys,
    activities,
    returns,
    return_lines,
    monitoring_plans,
    indicators,
    documents,
    document_chunks,
    reminders,
    return_results,
    decisions,
    plans,
    repayments,
    carry_forwards,
    import_batches,
    releases,
    document_withdrawals
);

diesel::table! {
    carry_forwards (id) {
        id -> Uuid,
        from_fund_id -> Uuid,
        to_fund_id -> Uuid,
        amount -> Numeric,
        decision_id -> Uuid,
        decision_ref -> Text,
        recorded_by -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    repayments (id) {
        id -> Uuid,
        award_id -> Uuid,
        amount -> Numeric,
        received_on -> Date,
        reference -> Text,
        reason -> Text,
        recorded_by -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::define_sql_function! {
    /// What an award has paid, net of repayments (a function of migration 9).
    fn award_paid(award: diesel::sql_types::Uuid) -> diesel::sql_types::Numeric;
}

diesel::define_sql_function! {
    /// What an award commits of its fund: approved its amount, closed its net paid, else 0.
    fn award_committed(
        award: diesel::sql_types::Uuid,
        status: diesel::sql_types::Text,
        amount: diesel::sql_types::Numeric
    ) -> diesel::sql_types::Numeric;
}

diesel::table! {
    audit_keys (key_id) {
        key_id -> Text,
        algorithm -> Text,
        public_key -> Text,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        subject -> Text,
        name -> Nullable<Text>,
        roles -> Array<Text>,
        recipient_id -> Nullable<Uuid>,
        csrf -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_checkpoints (number) {
        number -> Int8,
        seq -> Int8,
        head_hash -> Text,
        at -> Timestamptz,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    import_batches (id) {
        id -> Uuid,
        media_type -> Text,
        fund_code -> Nullable<Text>,
        body -> Bytea,
        sha256 -> Text,
        rows -> Int4,
        status -> Text,
        staged_by -> Text,
        staged_at -> Timestamptz,
        confirmed_by -> Nullable<Text>,
        confirmed_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    releases (id) {
        id -> Uuid,
        award_id -> Uuid,
        amount -> Numeric,
        decision_id -> Uuid,
        decision_ref -> Text,
        released_by -> Text,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    document_withdrawals (id) {
        id -> Uuid,
        document_id -> Uuid,
        award_id -> Nullable<Uuid>,
        reason -> Text,
        withdrawn_by -> Text,
        withdrawn_at -> Timestamptz,
        version -> Int4,
    }
}
