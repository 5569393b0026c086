-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d): the
-- product's own database and login (the sent ledger and the product's other stores), apart from
-- Temporal's. The password comes from the container's environment (APP_DB_PASSWORD, from .env),
-- so it is never committed. Temporal's databases are created by temporalio/auto-setup.
\getenv app_db_password APP_DB_PASSWORD
CREATE ROLE csr LOGIN PASSWORD :'app_db_password';
CREATE DATABASE csr OWNER csr;
