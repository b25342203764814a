"""From a shop's typed rows (the ``stage_<table>`` tables of ``typed_rows``) to the warehouse
tables, incrementally: keys already stored are updated where the new values differ, new keys
are inserted, nothing else is touched. Orders come from an orders file, from the order-level
columns of the order lines (the first non-empty value of each order, as in a Shopify export,
where only an order's first row has them), or from both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from knowledge.importers.keyword_categories import category_sql
from knowledge.importers.upsert import Counts, insert_new, replace_children, replace_groups, upsert

USER_COLUMNS = ["first_name", "last_name", "email", "country", "address1", "address2", "city",
                "state", "zip", "signup_at"]


def has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary",
                       [table]).fetchone()[0] > 0


def merge_customers(con: duckdb.DuckDBPyConnection) -> Counts:
    cols = ", ".join(f'"{c}"' for c in USER_COLUMNS)
    _claim(con, "users", "SELECT customer_id FROM stage_customers")
    return upsert(con, "users", f"SELECT customer_id AS user_id, {cols} FROM stage_customers",
                  ["user_id"], USER_COLUMNS)


def merge_products(con: duckdb.DuckDBPyConnection,
                   category_keywords: Mapping[str, Sequence[str]] | None = None) -> Counts:
    """Products of a products file; with ``category_keywords``, one without a category gets
    the category its title's words say."""
    _claim(con, "products", "SELECT product_id FROM stage_products")
    category = (f"coalesce(category, {category_sql('title', category_keywords)})"
                if category_keywords else "category")
    return upsert(con, "products", f"SELECT product_id, title, description, {category} AS "
                  f"category, price FROM stage_products", ["product_id"],
                  ["title", "description", "category", "price"])


def _stage_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Order lines numbered within their order (the file's order unless line_no is given);
    an order whose every line has a negative quantity is a cancellation (a credit note):
    its quantities become positive and it gets the status cancelled."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _lines AS
        SELECT *, coalesce(line_no, row_number() OVER (PARTITION BY order_id ORDER BY _line))
                  AS _no,
               bool_and(quantity < 0) OVER (PARTITION BY order_id) AS _credit
        FROM stage_order_lines""")


def _order_rows() -> str:
    first = "arg_min({c}, _line) FILTER (WHERE {c} IS NOT NULL) AS {c}"
    from_lines = ", ".join(first.format(c=c) for c in ("customer_id", "status", "country"))
    return f"""SELECT order_id, {from_lines}, min(ordered_at) AS ordered_at,
                   round(sum(abs(quantity) * unit_price), 2) AS total, bool_and(_credit) AS _credit
               FROM _lines GROUP BY order_id"""


def merge_orders(con: duckdb.DuckDBPyConnection) -> dict[str, Counts]:
    """orders (from an orders file and/or the lines) and order_items; the lines stay staged
    (``_lines``) for ``purchase_events``."""
    out: dict[str, Counts] = {}
    with_lines = has(con, "stage_order_lines")
    with_orders = has(con, "stage_orders")
    if with_lines:
        _stage_lines(con)
    parts = []
    if with_orders:
        parts.append("SELECT order_id, customer_id, status, country, ordered_at, total, "
                     "NULL::BOOLEAN AS _credit FROM stage_orders")
    if with_lines:
        parts.append(_order_rows())
    if not parts:
        return out
    merged = " UNION ALL ".join(f"({p})" for p in parts)
    incoming = f"""SELECT order_id,
            arg_min(customer_id, _src) FILTER (WHERE customer_id IS NOT NULL) AS user_id,
            arg_min(ordered_at, _src) FILTER (WHERE ordered_at IS NOT NULL) AS ordered_at,
            coalesce(arg_min(status, _src) FILTER (WHERE status IS NOT NULL),
                     CASE WHEN bool_or(_credit) THEN 'cancelled' END) AS status,
            arg_min(country, _src) FILTER (WHERE country IS NOT NULL) AS country,
            arg_min(total, _src) FILTER (WHERE total IS NOT NULL) AS total
        FROM (SELECT *, CASE WHEN _credit IS NULL THEN 0 ELSE 1 END AS _src FROM ({merged}))
        GROUP BY order_id"""
    out["orders"] = upsert(con, "orders", incoming, ["order_id"],
                           ["user_id", "ordered_at", "status", "country", "total"],
                           insert_defaults={"status": "'completed'"})
    if with_lines:
        out["order_items"] = replace_children(
            con, "order_items", """SELECT order_id, _no AS line_no, product_id, item_id, title,
                CASE WHEN _credit THEN -quantity ELSE quantity END AS quantity, unit_price
                FROM _lines""", "order_id", "line_no",
            ["product_id", "item_id", "title", "quantity", "unit_price"])
    return out


def purchase_events(con: duckdb.DuckDBPyConnection) -> Counts:
    """One purchase event per line with a positive quantity of every imported order that is
    not cancelled; session_id is the order id, so re-deriving an order replaces its events.
    Drops the staged ``_lines`` of ``merge_orders``."""
    incoming = """SELECT o.user_id, i.product_id, p.category, 'purchase' AS event_type,
            o.ordered_at AS ts, o.order_id AS session_id, i.quantity, i.unit_price AS price
        FROM order_items i JOIN orders o USING (order_id)
        LEFT JOIN products p USING (product_id)
        WHERE i.order_id IN (SELECT DISTINCT order_id FROM _lines)
          AND o.status <> 'cancelled' AND o.user_id IS NOT NULL AND o.ordered_at IS NOT NULL
          AND i.quantity > 0"""
    counts = replace_groups(con, "events", incoming, "session_id",
                            ["user_id", "product_id", "category", "event_type", "ts",
                             "session_id", "quantity", "price"], scope="event_type = 'purchase'",
                            groups="SELECT DISTINCT order_id FROM _lines")
    con.execute("DROP TABLE _lines")
    return counts


def merge_payments(con: duckdb.DuckDBPyConnection) -> Counts:
    return replace_children(con, "payments", """SELECT order_id,
            coalesce(seq, row_number() OVER (PARTITION BY order_id ORDER BY _line)) AS seq,
            coalesce(transaction_type, 'payment') AS transaction_type, amount,
            coalesce(payment_method_id, 'unknown') AS payment_method_id
        FROM stage_payments""", "order_id", "seq",
        ["transaction_type", "amount", "payment_method_id"])


def merge_events(con: duckdb.DuckDBPyConnection) -> Counts:
    columns = ["user_id", "product_id", "category", "event_type", "ts", "session_id", "quantity",
               "price"]
    return insert_new(con, "events", """SELECT customer_id AS user_id, e.product_id,
            coalesce(e.category, p.category) AS category, event_type, ts, session_id, quantity,
            price FROM stage_events e LEFT JOIN products p USING (product_id)""",
            ["user_id", "product_id", "event_type", "ts", "session_id"], columns)


def _claim(con: duckdb.DuckDBPyConnection, table: str, keys: str) -> None:
    """Rows a file names are no longer derived."""
    con.execute(f"DELETE FROM derived_rows WHERE tbl = '{table}' AND key IN ({keys})")


def _derive(con: duckdb.DuckDBPyConnection, table: str, key: str, named: str, values: str,
            columns: list[str]) -> Counts:
    """Rows that only other tables name: new keys become derived rows; every derived row the
    import touches gets ``values`` (SQL over all stored rows, grouped by ``key``) again."""
    con.execute(f"""INSERT INTO derived_rows SELECT DISTINCT '{table}', k FROM ({named}) n(k)
        WHERE k IS NOT NULL AND k NOT IN (SELECT "{key}" FROM {table})
        AND k NOT IN (SELECT key FROM derived_rows WHERE tbl = '{table}')""")
    return upsert(con, table, f"""SELECT * FROM ({values}) v WHERE "{key}" IN
        (SELECT key FROM derived_rows WHERE tbl = '{table}' AND key IN ({named}))""",
        [key], columns)


def _most_common(value: str, key: str, rows: str) -> str:
    """The most frequent non-empty ``value`` per ``key`` over ``rows`` (ties: the smallest)."""
    return f"""SELECT "{key}", arg_min({value}, (-n, {value})) AS {value}
        FROM (SELECT "{key}", {value}, count(*) AS n FROM ({rows}) WHERE {value} IS NOT NULL
              GROUP BY ALL) GROUP BY "{key}" """


def add_missing_products(con: duckdb.DuckDBPyConnection,
                         category_keywords: Mapping[str, Sequence[str]] | None = None) -> Counts:
    """Products named by order lines or events but not by a products file: the most common
    line title (else the id), the median unit price paid over every stored line, and with
    ``category_keywords`` the category their title's words say."""
    named = []
    if has(con, "stage_order_lines"):
        named.append("SELECT product_id FROM stage_order_lines")
    if has(con, "stage_events"):
        named.append("SELECT product_id FROM stage_events")
    if not named:
        return Counts()
    titles = _most_common("title", "product_id", "SELECT product_id, title FROM order_items")
    title = "coalesce(t.title, p.product_id)"
    category = category_sql(title, category_keywords) if category_keywords else "NULL::VARCHAR"
    values = f"""SELECT p.product_id, {title} AS title, p.price, {category} AS category
        FROM (SELECT product_id, median(price) AS price FROM (
                SELECT product_id, unit_price AS price FROM order_items
                UNION ALL SELECT product_id, price FROM events WHERE product_id NOT IN
                    (SELECT product_id FROM order_items)) GROUP BY product_id) p
        LEFT JOIN ({titles}) t USING (product_id)"""
    return _derive(con, "products", "product_id", " UNION ".join(named), values,
                   ["title", "price", *(["category"] if category_keywords else [])])


def add_missing_users(con: duckdb.DuckDBPyConnection) -> Counts:
    """Users named by orders, events or experiments but not by a customers file; their country
    is the most common country of all their stored orders."""
    named = []
    if has(con, "stage_order_lines") or has(con, "stage_orders"):
        named.append("SELECT user_id FROM orders WHERE user_id IS NOT NULL")
    for table in ("stage_events", "stage_assignments", "stage_skipped_customers"):
        if has(con, table):
            named.append(f"SELECT customer_id FROM {table}")
    if not named:
        return Counts()
    rows = "SELECT user_id, country FROM orders"
    if has(con, "stage_skipped_customers"):
        rows += " UNION ALL SELECT customer_id, country FROM stage_skipped_customers"
    countries = _most_common("country", "user_id", rows)
    values = f"""SELECT u.user_id, c.country FROM (SELECT DISTINCT k AS user_id FROM
        ({" UNION ".join(named)}) n(k)) u LEFT JOIN ({countries}) c USING (user_id)"""
    return _derive(con, "users", "user_id", " UNION ".join(named), values, ["country"])
