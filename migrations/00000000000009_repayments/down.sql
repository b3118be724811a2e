DROP FUNCTION award_committed(uuid, text, numeric);
DROP FUNCTION award_paid(uuid);
DROP TRIGGER repayments_no_change ON repayments;
DROP FUNCTION repayments_refuse_change();
DROP TABLE repayments;
