CREATE TABLE rest_apis (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX rest_apis_name ON rest_apis(name);

CREATE TABLE resources (
    api_id      TEXT NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    path        TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (api_id, id),
    UNIQUE (api_id, path)
);

CREATE TABLE deployments (
    api_id      TEXT NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    snapshot    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (api_id, id)
);

CREATE TABLE stages (
    api_id        TEXT NOT NULL REFERENCES rest_apis(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    body          TEXT NOT NULL,
    PRIMARY KEY (api_id, name),
    FOREIGN KEY (api_id, deployment_id) REFERENCES deployments(api_id, id)
);

-- The change feed: every committed write appends one row; gateways poll max(seq).
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    api_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL
);
