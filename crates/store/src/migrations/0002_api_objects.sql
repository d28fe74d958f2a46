-- API-level objects that are not resources: gateway responses (and later models, request
-- validators, authorizers), one row per object, keyed by kind and name/id.
CREATE TABLE api_objects (
    api_id  TEXT NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (api_id, kind, key)
);
