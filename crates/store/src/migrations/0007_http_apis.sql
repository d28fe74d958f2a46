-- HTTP APIs (apigatewayv2): one row per API holding the API with its routes, integrations and
-- authorizers (they change together and are small); deployments freeze that document; stages
-- point at a deployment (or at none yet).
CREATE TABLE http_apis (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE http_deployments (
    api_id      TEXT NOT NULL REFERENCES http_apis(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    body        TEXT NOT NULL,
    snapshot    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (api_id, id)
);

CREATE TABLE http_stages (
    api_id        TEXT NOT NULL REFERENCES http_apis(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    deployment_id TEXT,
    body          TEXT NOT NULL,
    PRIMARY KEY (api_id, name)
);
