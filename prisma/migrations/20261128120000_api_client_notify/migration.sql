-- deputy: every change to an API client (a revocation) is announced on the channel
-- deputy_api_clients with the client's id, so each replica's token cache drops that client as
-- the change commits (PostgreSQL delivers notifications at commit, to every listening session).
CREATE FUNCTION "api_clients_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('deputy_api_clients', COALESCE(NEW."id", OLD."id")::TEXT);
    RETURN NULL;
END
$$;
CREATE TRIGGER "api_clients_notify" AFTER UPDATE OR DELETE ON "api_clients"
    FOR EACH ROW EXECUTE FUNCTION "api_clients_notify"();
