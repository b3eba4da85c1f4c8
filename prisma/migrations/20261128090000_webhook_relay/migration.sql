-- deputy: the webhook relay. The audit trail is the outbox of outbound webhooks: every notified
-- change already writes its audit event in the transaction of the change. The relay hands the
-- notified events to the delivery queues (pg-boss) in seq order, only up to the sealed horizon
-- (nothing can commit at or below it any more), and records here through which seq it has done
-- so, in the same transaction as the deliveries it enqueues. One row; one relay at a time.
--
-- through_seq is NULL until the first deputy with WEBHOOK_ENDPOINTS starts: it then sets it to the
-- sealed horizon of that moment, so turning webhooks on notifies what happens from then on and
-- does not replay the history before it.

CREATE TABLE "webhook_relay_cursor" (
    "id"          BOOLEAN NOT NULL DEFAULT true,
    "through_seq" BIGINT,
    "updated_at"  TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_relay_cursor_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_relay_cursor_single_row" CHECK ("id"),
    CONSTRAINT "webhook_relay_cursor_seq_check" CHECK ("through_seq" >= 0)
);
INSERT INTO "webhook_relay_cursor" ("id") VALUES (true);
