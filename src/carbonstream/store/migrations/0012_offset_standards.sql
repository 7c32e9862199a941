-- Offsets under the 2026 zero-carbon factory guidance: CCER first, qualifying
-- international credits after. A holding records the programme it was issued
-- under, whether the host country made a corresponding adjustment (Paris Art. 6)
-- and whether its credits were surrendered for national ETS compliance (then
-- they are cancelled and can never be retired for a claim). The rules with
-- readable reasons are carbonstream.ledger.offsets; the trigger is the backstop.

ALTER TABLE offsets
    ADD COLUMN standard text NOT NULL DEFAULT 'ccer'
        CHECK (standard IN ('ccer', 'vcs', 'gold_standard', 'cdm', 'article_6_4')),
    ADD COLUMN corresponding_adjustment text NOT NULL DEFAULT 'not_applicable'
        CHECK (corresponding_adjustment IN ('applied', 'not_applied', 'unknown', 'not_applicable')),
    ADD COLUMN ets_surrendered boolean NOT NULL DEFAULT false;

CREATE FUNCTION carbonstream_not_surrendered_for_ets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM offsets WHERE id = NEW.offset_id AND ets_surrendered) THEN
        RAISE EXCEPTION 'credits of % were surrendered for ETS compliance', NEW.offset_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER offset_retirements_not_surrendered BEFORE INSERT ON offset_retirements
    FOR EACH ROW EXECUTE FUNCTION carbonstream_not_surrendered_for_ets();
