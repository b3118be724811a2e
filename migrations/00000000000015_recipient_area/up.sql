-- Where a recipient is, for 360Giving (issue 16): its postcode (recipientOrganization's
-- postalCode) and the area it serves, as an ONS geography code with its 360Giving geoCodeType
-- (beneficiaryLocation): a Community Safety Partnership (E22…), a district (E07…), a unitary
-- authority (E06…). All optional; a code and its type go together.
ALTER TABLE recipients
    ADD COLUMN postcode text CHECK (postcode ~ '^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$'),
    ADD COLUMN area_code text CHECK (area_code ~ '^[EWSNK][0-9]{8}$'),
    ADD COLUMN area_type text CHECK (area_type ~ '^[A-Z/]{2,8}$'),
    ADD COLUMN area_name text CHECK (length(area_name) BETWEEN 1 AND 200),
    ADD CONSTRAINT recipients_area_whole CHECK ((area_code IS NULL) = (area_type IS NULL)
        AND (area_name IS NULL OR area_code IS NOT NULL));
