-- +goose Up
CREATE TABLE widgets (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE seen (event_id TEXT PRIMARY KEY, widget_id TEXT NOT NULL);
