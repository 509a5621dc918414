#!/bin/sh
# docker-compose: the Host's and the Vault's databases, each with its own role.
set -e
psql -v ON_ERROR_STOP=1 -U app -d postgres <<SQL
CREATE ROLE payments LOGIN PASSWORD '${PAYMENTS_DB_PASSWORD:-payments-dev-only}';
CREATE DATABASE payments OWNER payments;
CREATE ROLE vault_owner LOGIN PASSWORD '${VAULT_OWNER_DB_PASSWORD:-vault-owner-dev-only}';
CREATE ROLE vault LOGIN PASSWORD '${VAULT_DB_PASSWORD:-vault-dev-only}';
CREATE DATABASE vault OWNER vault_owner;
-- Owns the key administration functions (docs/adr/0125): NOLOGIN, reached only through them.
CREATE ROLE vault_keyadmin NOLOGIN;
GRANT vault_keyadmin TO vault_owner;
REVOKE ALL ON DATABASE vault FROM PUBLIC;
GRANT CONNECT ON DATABASE vault TO vault;
REVOKE ALL ON DATABASE payments FROM PUBLIC;
SQL
