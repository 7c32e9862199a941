-- Alerting: the engine's state per rule (so alerts survive a restart without
-- re-firing), every transition (the alert history) and the webhook outbox
-- (a notification is written with its transition and delivered after the
-- commit; one left pending by a crash is delivered at the next start).

CREATE TABLE alert_state (
    rule             text PRIMARY KEY,
    status           text NOT NULL CHECK (status IN ('ok', 'pending', 'firing', 'clearing')),
    since            timestamptz NOT NULL,         -- when the current status began
    value            double precision,             -- the last evaluated signal
    fired_at         timestamptz,                  -- set while firing or clearing
    -- The rule as configured when last evaluated (what /v1/alerts/active shows).
    kind             text NOT NULL,
    severity         text NOT NULL,
    site             text,
    meter            text,
    measure          text NOT NULL,
    threshold        double precision NOT NULL,
    clear_threshold  double precision NOT NULL,
    description      text NOT NULL DEFAULT '',
    evaluated_at     timestamptz NOT NULL
);

CREATE TABLE alert_history (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule             text NOT NULL,
    status           text NOT NULL CHECK (status IN ('firing', 'resolved')),
    at               timestamptz NOT NULL,
    fired_at         timestamptz NOT NULL,
    value            double precision NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL,
    site             text,
    meter            text,
    measure          text NOT NULL,
    threshold        double precision NOT NULL,
    clear_threshold  double precision NOT NULL,
    description      text NOT NULL DEFAULT '',
    payload          jsonb NOT NULL                -- exactly what the webhooks receive
);
CREATE INDEX alert_history_at ON alert_history (at DESC, id DESC);
CREATE INDEX alert_history_rule ON alert_history (rule, id DESC);

CREATE TABLE alert_notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    history_id   bigint NOT NULL REFERENCES alert_history (id),
    webhook      text NOT NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    http_status  integer,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (history_id, webhook)
);
CREATE INDEX alert_notifications_pending ON alert_notifications (id) WHERE status = 'pending';
