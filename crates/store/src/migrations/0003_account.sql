-- Account-level objects: API keys, usage plans, account settings; and usage plan membership.
CREATE TABLE account_objects (
    kind  TEXT NOT NULL,
    id    TEXT NOT NULL,
    body  TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE usage_plan_keys (
    plan_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    PRIMARY KEY (plan_id, key_id)
);
