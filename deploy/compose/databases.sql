-- One database per service (deploy/services.json), made at PostgreSQL's
-- first start; each service migrates its own at its start.
CREATE DATABASE identity;
CREATE DATABASE catalog;
CREATE DATABASE cart;
CREATE DATABASE payments;
CREATE DATABASE notifications;
CREATE DATABASE orders;
