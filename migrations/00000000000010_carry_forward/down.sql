DROP TRIGGER carry_forwards_no_change ON carry_forwards;
DROP FUNCTION carry_forwards_refuse_change();
DROP TABLE carry_forwards;
