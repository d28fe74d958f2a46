-- The Lambda API's functions: one row per function ($LATEST configuration and code), per
-- published version, per alias, per resource-policy statement (on the function, a version or an
-- alias; `qualifier` '' for the function) and per reserved concurrency. Changes name the
-- function (kind 'function').
CREATE TABLE lambda_functions (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE lambda_versions (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE lambda_aliases (
    name  TEXT NOT NULL,
    alias TEXT NOT NULL,
    body  TEXT NOT NULL,
    PRIMARY KEY (name, alias)
);
-- Statements keep their insertion order (rowid): GetPolicy lists them as they were added.
CREATE TABLE lambda_permissions (
    name      TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    sid       TEXT NOT NULL,
    body      TEXT NOT NULL,
    UNIQUE (name, qualifier, sid)
);
CREATE TABLE lambda_concurrency (
    name     TEXT PRIMARY KEY,
    reserved INTEGER NOT NULL
);
