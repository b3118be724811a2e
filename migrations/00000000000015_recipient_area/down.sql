ALTER TABLE recipients DROP CONSTRAINT recipients_area_whole,
    DROP COLUMN area_name, DROP COLUMN area_type, DROP COLUMN area_code, DROP COLUMN postcode;
