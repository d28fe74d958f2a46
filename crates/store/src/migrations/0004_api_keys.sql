-- API keys, usage counters and UpdateUsage grants in their own tables, so that a command touches
-- only the rows it changes (an account may hold millions of keys). The change feed names the
-- object a change was about.

-- `body` is the key's JSON without `id` and `value`, which are the columns.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    value       TEXT NOT NULL UNIQUE,
    name        TEXT,
    customer_id TEXT,
    body        TEXT NOT NULL
);
CREATE INDEX api_keys_name ON api_keys(name);
CREATE INDEX api_keys_customer ON api_keys(customer_id);
INSERT INTO api_keys (id, value, name, customer_id, body)
    SELECT id, json_extract(body, '$.value'), json_extract(body, '$.name'),
           json_extract(body, '$.customerId'), json_remove(body, '$.id', '$.value')
    FROM account_objects WHERE kind = 'apikey' ORDER BY rowid;
DELETE FROM account_objects WHERE kind = 'apikey';

CREATE INDEX usage_plan_keys_key ON usage_plan_keys(key_id);

-- Requests counted per (plan, key, UTC day), flushed by the data plane; not configuration: no
-- change feed rows.
CREATE TABLE usage_counts (
    plan_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    day     TEXT NOT NULL,
    used    INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id, day)
) WITHOUT ROWID;
INSERT INTO usage_counts (plan_id, key_id, day, used)
    SELECT json_extract(body, '$[0]'), json_extract(body, '$[1]'), json_extract(body, '$[2]'),
           sum(json_extract(body, '$[3]'))
    FROM account_objects WHERE kind = 'usage' GROUP BY 1, 2, 3;

-- UpdateUsage grants: the remaining requests of a key in a plan's current period, and when.
CREATE TABLE usage_remaining (
    plan_id   TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    set_at    INTEGER NOT NULL,
    PRIMARY KEY (plan_id, key_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO usage_remaining (plan_id, key_id, remaining, set_at)
    SELECT json_extract(body, '$[0]'), json_extract(body, '$[1]'), json_extract(body, '$[2]'),
           CAST(strftime('%s', 'now') AS INTEGER)
    FROM account_objects WHERE kind = 'remaining' ORDER BY rowid;
DELETE FROM account_objects WHERE kind IN ('usage', 'remaining');

-- Stable ids for the objects that were stored under their list position.
UPDATE account_objects SET id = json_extract(body, '$[0].domainNameAccessAssociationArn')
    WHERE kind = 'accessassociation';
UPDATE account_objects SET id = json_extract(body, '$[0]') || '/' || json_extract(body, '$[1].basePath')
    WHERE kind = 'basepathmapping';

-- Which object a change was about ('' for whole-API changes).
ALTER TABLE changes ADD COLUMN object_id TEXT NOT NULL DEFAULT '';
