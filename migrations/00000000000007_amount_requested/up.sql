-- What the recipient asked for, and when: 360Giving's amountAppliedFor.
ALTER TABLE awards ADD COLUMN amount_requested numeric(14, 2) CHECK (amount_requested > 0);
ALTER TABLE awards ADD COLUMN requested_on date CHECK (requested_on >= DATE '1990-01-01');
