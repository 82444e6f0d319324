"""SQLite persistence for the LiteLLM admin-API stand-in (test code, never shipped).

One connection, one re-entrant lock, WAL mode.  Every row is stored as a JSON
document holding the columns of the matching table in LiteLLM's
``proxy/schema.prisma``; the columns that are filtered or sorted on are also
kept as real SQLite columns so that paging stays cheap with thousands of keys.

Datetimes are stored as ISO 8601 strings in one fixed format
(``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``, UTC, millisecond precision like
PostgreSQL's ``timestamp(3)``), so they also compare correctly as text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    token TEXT PRIMARY KEY,
    key_alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked INTEGER,
    expires TEXT,
    spend REAL,
    max_budget REAL,
    created_at TEXT,
    updated_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_alias ON keys(key_alias);
CREATE INDEX IF NOT EXISTS keys_team ON keys(team_id);
CREATE INDEX IF NOT EXISTS keys_user ON keys(user_id);
CREATE INDEX IF NOT EXISTS keys_created ON keys(created_at, token);

CREATE TABLE IF NOT EXISTS deleted_keys (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    key_alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked INTEGER,
    expires TEXT,
    spend REAL,
    max_budget REAL,
    created_at TEXT,
    updated_at TEXT,
    deleted_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_keys_token ON deleted_keys(token, deleted_at);
CREATE INDEX IF NOT EXISTS deleted_keys_created ON deleted_keys(created_at, token);

CREATE TABLE IF NOT EXISTS deprecated_keys (
    token TEXT PRIMARY KEY,
    active_token_id TEXT NOT NULL,
    revoke_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    user_email TEXT,
    user_role TEXT,
    created_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS users_email ON users(user_email);

CREATE TABLE IF NOT EXISTS budgets (
    budget_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS object_permissions (
    object_permission_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS team_memberships (
    user_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (user_id, team_id)
);

CREATE TABLE IF NOT EXISTS teams (
    team_id TEXT PRIMARY KEY,
    team_alias TEXT,
    organization_id TEXT,
    created_at TEXT,
    doc TEXT NOT NULL
);
"""

_KEY_INDEXED = (
    "token",
    "key_alias",
    "user_id",
    "team_id",
    "organization_id",
    "blocked",
    "expires",
    "spend",
    "max_budget",
    "created_at",
    "updated_at",
)

# Columns /key/list may sort on (LiteLLM's _validate_sort_params) and filter on.
KEY_SORT_COLUMNS = ("spend", "max_budget", "created_at", "updated_at", "token", "key_alias")


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)


def _blocked_value(value: object) -> int | None:
    if value is None:
        return None
    return 1 if value else 0


class Store:
    """Thread-safe SQLite store.  Use ``with store.lock:`` to group operations."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    # ------------------------------------------------------------------ helpers
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self._conn.execute(sql, params).fetchall()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            return self._conn.execute(sql, params).rowcount

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    # --------------------------------------------------------------------- keys
    def get_key(self, token: str) -> dict[str, Any] | None:
        rows = self._query("SELECT doc FROM keys WHERE token = ?", (token,))
        return json.loads(rows[0]["doc"]) if rows else None

    def find_keys_by_alias(
        self, alias: str, limit: int | None = None, exclude_token: str | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT doc FROM keys WHERE key_alias = ?"
        params: list[Any] = [alias]
        if exclude_token is not None:
            sql += " AND token != ?"
            params.append(exclude_token)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [json.loads(r["doc"]) for r in self._query(sql, params)]

    def find_keys_in(self, column: str, values: Iterable[str]) -> list[dict[str, Any]]:
        if column not in ("token", "key_alias", "user_id", "team_id"):
            raise ValueError(column)
        vals = list(values)
        if not vals:
            return []
        marks = ",".join("?" for _unused in vals)
        return [json.loads(r["doc"]) for r in self._query(f"SELECT doc FROM keys WHERE {column} IN ({marks})", vals)]

    def insert_key(self, row: Mapping[str, Any]) -> None:
        values = [row.get(c) for c in _KEY_INDEXED]
        values[5] = _blocked_value(row.get("blocked"))
        self._exec(
            f"INSERT INTO keys ({', '.join(_KEY_INDEXED)}, doc) VALUES ({', '.join('?' for _unused in _KEY_INDEXED)}, ?)",
            [*values, _dumps(row)],
        )

    def replace_key(self, old_token: str, row: Mapping[str, Any]) -> None:
        """Write ``row`` over the row stored under ``old_token`` (the token itself may change)."""
        values = [row.get(c) for c in _KEY_INDEXED]
        values[5] = _blocked_value(row.get("blocked"))
        assignments = ", ".join(f"{c} = ?" for c in _KEY_INDEXED)
        self._exec(f"UPDATE keys SET {assignments}, doc = ? WHERE token = ?", [*values, _dumps(row), old_token])

    def delete_keys(self, tokens: Iterable[str]) -> int:
        toks = list(tokens)
        if not toks:
            return 0
        marks = ",".join("?" for _unused in toks)
        return self._exec(f"DELETE FROM keys WHERE token IN ({marks})", toks)

    def list_keys(
        self,
        *,
        table: str = "keys",
        where: Sequence[tuple[str, Sequence[Any]]] = (),
        order_by: str | None = None,
        order: str = "desc",
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """Page through keys (or archived keys).  ``where`` holds SQL fragments over the indexed columns."""
        if table not in ("keys", "deleted_keys"):
            raise ValueError(table)
        clauses = [w for w, _unused in where]
        params: list[Any] = [p for _unused, ps in where for p in ps]
        where_sql = (" WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else ""
        if order_by is None:
            # rowid breaks ties between keys made in the same instant: newest first.
            order_sql = " ORDER BY created_at DESC, rowid DESC"
        else:
            if order_by not in KEY_SORT_COLUMNS:
                raise ValueError(order_by)
            direction = "ASC" if order.lower() == "asc" else "DESC"
            order_sql = f" ORDER BY {order_by} {direction}"
        with self.lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM {table}{where_sql}", params).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT doc FROM {table}{where_sql}{order_sql} LIMIT ? OFFSET ?", [*params, limit, offset]
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows], int(total)

    # ------------------------------------------------------------ key archives
    def archive_key(self, archive_id: str, row: Mapping[str, Any]) -> None:
        cols = list(_KEY_INDEXED)
        values = [row.get(c) for c in cols]
        values[5] = _blocked_value(row.get("blocked"))
        self._exec(
            f"INSERT INTO deleted_keys (id, {', '.join(cols)}, deleted_at, doc) "
            f"VALUES (?, {', '.join('?' for _unused in cols)}, ?, ?)",
            [archive_id, *values, row.get("deleted_at"), _dumps(row)],
        )

    def latest_archived_key(self, token: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT doc FROM deleted_keys WHERE token = ? ORDER BY deleted_at DESC LIMIT 1",
            (token,),
        )
        return json.loads(rows[0]["doc"]) if rows else None

    def set_deprecated(self, token: str, active_token_id: str, revoke_at: str) -> None:
        self._exec(
            "INSERT INTO deprecated_keys (token, active_token_id, revoke_at) VALUES (?, ?, ?) "
            "ON CONFLICT(token) DO UPDATE SET active_token_id = excluded.active_token_id, revoke_at = excluded.revoke_at",
            (token, active_token_id, revoke_at),
        )

    def get_deprecated(self, token: str) -> tuple[str, str] | None:
        rows = self._query("SELECT active_token_id, revoke_at FROM deprecated_keys WHERE token = ?", (token,))
        return (rows[0]["active_token_id"], rows[0]["revoke_at"]) if rows else None

    def repoint_deprecated(self, old_active: str, new_active: str) -> None:
        self._exec("UPDATE deprecated_keys SET active_token_id = ? WHERE active_token_id = ?", (new_active, old_active))

    # ---------------------------------------- users, budgets, teams: one JSON doc a row
    # Table and column names below are this module's constants, never input.
    def _get_doc(self, table: str, id_column: str, value: str) -> dict[str, Any] | None:
        rows = self._query(f"SELECT doc FROM {table} WHERE {id_column} = ?", (value,))
        return json.loads(rows[0]["doc"]) if rows else None

    def _put_doc(self, table: str, id_column: str, columns: tuple[str, ...], row: Mapping[str, Any]) -> None:
        """Insert or replace a row; `columns` are indexed copies of fields (created_at is kept on update)."""
        names = (id_column,) + columns + ("doc",)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns + ("doc",) if c != "created_at")
        self._exec(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _unused in names)}) "
            f"ON CONFLICT({id_column}) DO UPDATE SET {updates}",
            (row[id_column],) + tuple(row.get(c) for c in columns) + (_dumps(row),),
        )

    def _delete_docs(self, table: str, id_column: str, values: Iterable[str]) -> int:
        ids = list(values)
        if not ids:
            return 0
        return self._exec(f"DELETE FROM {table} WHERE {id_column} IN ({','.join('?' for _unused in ids)})", ids)

    def _all_docs(self, table: str, order: str) -> list[dict[str, Any]]:
        return [json.loads(r["doc"]) for r in self._query(f"SELECT doc FROM {table} ORDER BY {order}")]

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        return self._get_doc("users", "user_id", user_id)

    def find_user_by_email(self, email: str) -> dict[str, Any] | None:
        rows = self._query("SELECT doc FROM users WHERE lower(user_email) = lower(?) LIMIT 1", (email.strip(),))
        return json.loads(rows[0]["doc"]) if rows else None

    def put_user(self, row: Mapping[str, Any]) -> None:
        self._put_doc("users", "user_id", ("user_email", "user_role", "created_at"), row)

    def delete_users(self, user_ids: Iterable[str]) -> int:
        return self._delete_docs("users", "user_id", user_ids)

    def all_users(self) -> list[dict[str, Any]]:
        return self._all_docs("users", "created_at DESC, user_id")

    def get_budget(self, budget_id: str) -> dict[str, Any] | None:
        return self._get_doc("budgets", "budget_id", budget_id)

    def put_budget(self, row: Mapping[str, Any]) -> None:
        self._put_doc("budgets", "budget_id", (), row)

    def get_object_permission(self, object_permission_id: str) -> dict[str, Any] | None:
        return self._get_doc("object_permissions", "object_permission_id", object_permission_id)

    def put_object_permission(self, row: Mapping[str, Any]) -> None:
        self._put_doc("object_permissions", "object_permission_id", (), row)

    def put_team_membership(self, row: Mapping[str, Any]) -> None:
        """LiteLLM_TeamMembership: one row per (user_id, team_id); an existing row is kept (upsert, update {})."""
        self._exec(
            "INSERT INTO team_memberships (user_id, team_id, doc) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (row["user_id"], row["team_id"], _dumps(row)),
        )

    def team_memberships(self, team_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT doc FROM team_memberships WHERE team_id = ? ORDER BY rowid", (team_id,))
        return [json.loads(r["doc"]) for r in rows]

    def delete_team_memberships(self, *, team_ids: Iterable[str] = (), user_ids: Iterable[str] = ()) -> None:
        for column, values in (("team_id", list(team_ids)), ("user_id", list(user_ids))):
            if values:
                marks = ",".join("?" for _unused in values)
                self._exec(f"DELETE FROM team_memberships WHERE {column} IN ({marks})", values)

    def get_team(self, team_id: str) -> dict[str, Any] | None:
        return self._get_doc("teams", "team_id", team_id)

    def put_team(self, row: Mapping[str, Any]) -> None:
        self._put_doc("teams", "team_id", ("team_alias", "organization_id", "created_at"), row)

    def delete_teams(self, team_ids: Iterable[str]) -> int:
        return self._delete_docs("teams", "team_id", team_ids)

    def all_teams(self) -> list[dict[str, Any]]:
        return self._all_docs("teams", "created_at, team_id")

    def count_keys(self) -> int:
        return int(self._query("SELECT COUNT(*) AS n FROM keys")[0]["n"])


class _Transaction:
    """``with store.transaction():`` holds the lock and wraps the writes in BEGIN/COMMIT."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> Store:
        self._store.lock.acquire()
        try:
            self._store._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._store.lock.release()
            raise
        return self._store

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._store._conn.execute("COMMIT")
            else:
                self._store._conn.execute("ROLLBACK")
        finally:
            self._store.lock.release()
