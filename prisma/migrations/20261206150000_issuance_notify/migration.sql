-- deputy: what ends a session deputy may hand out again (CREDENTIAL_REUSE) is announced on the
-- channel deputy_issuance as it commits, so every replica drops the sessions it holds for it:
-- a connection's status, an external ID's retirement, a customer's suspension or offboarding (and
-- a change of its name or reference, which session tags may carry), a client's revocation (or
-- deletion), and the issuance freeze. Payload: "<kind>:<id>", or
-- "freeze". Nothing else about the row is sent.
CREATE FUNCTION "issuance_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind TEXT := TG_ARGV[0];
BEGIN
    IF kind = 'freeze' THEN
        PERFORM pg_notify('deputy_issuance', 'freeze');
    ELSE
        PERFORM pg_notify('deputy_issuance', kind || ':' || COALESCE(NEW."id", OLD."id")::TEXT);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER "connections_issuance_notify" AFTER UPDATE OF "status" OR DELETE ON "connections"
    FOR EACH ROW EXECUTE FUNCTION "issuance_notify"('connection');
CREATE TRIGGER "external_ids_issuance_notify" AFTER UPDATE OF "status" OR DELETE ON "external_ids"
    FOR EACH ROW EXECUTE FUNCTION "issuance_notify"('external_id');
CREATE TRIGGER "customers_issuance_notify" AFTER UPDATE OF "status", "name", "external_ref" OR DELETE ON "customers"
    FOR EACH ROW EXECUTE FUNCTION "issuance_notify"('customer');
CREATE TRIGGER "api_clients_issuance_notify" AFTER UPDATE OF "revoked_at" OR DELETE ON "api_clients"
    FOR EACH ROW EXECUTE FUNCTION "issuance_notify"('client');
CREATE TRIGGER "issuance_freeze_issuance_notify" AFTER UPDATE ON "issuance_freeze"
    FOR EACH ROW EXECUTE FUNCTION "issuance_notify"('freeze');
