"""The customer-service tables as serving uses them: finding a customer, the changes a
customer-service action writes back, and the customers to try the assistant with.

Whole records (a user, an order, a product as tau-bench's JSON files hold them) are rebuilt by
``knowledge/tau_records.py``; this module holds the other queries on the same tables
(users, payment_methods, orders, order_items, payments, products), so the tools
(``tools/customer_service.py``), the API and the server call functions, not SQL. Every function
takes an open connection; ``knowledge.warehouse.reading`` / ``transaction`` give one.
"""

from __future__ import annotations

import json

import duckdb

from knowledge import warehouse
from knowledge.settings import Settings
from knowledge.tau_records import line_item, line_units, order_lines

# An order's pending return or exchange request, kept as JSON in orders.request.
REQUEST_KEYS = ("return_items", "return_payment_method_id", "exchange_items", "exchange_new_items",
                "exchange_payment_method_id", "exchange_price_difference")


# --- look-ups -----------------------------------------------------------------------------------

def user_id_by_email(con: duckdb.DuckDBPyConnection, email: str) -> str | None:
    """The user with this email (case-insensitive), if any."""
    found = con.execute("SELECT user_id FROM users WHERE lower(email) = lower(?)",
                        [email]).fetchone()
    return found[0] if found else None


def user_id_by_name_zip(con: duckdb.DuckDBPyConnection, first_name: str, last_name: str,
                        zip_code: str) -> str | None:
    """The first user (by id) with this name (case-insensitive) and zip code, if any."""
    found = con.execute(
        "SELECT user_id FROM users WHERE lower(first_name) = lower(?) AND "
        "lower(last_name) = lower(?) AND zip = ? ORDER BY user_id LIMIT 1",
        [first_name, last_name, zip_code]).fetchone()
    return found[0] if found else None


def is_user(con: duckdb.DuckDBPyConnection, user_id: str) -> bool:
    return con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone() is not None


def payment_methods(con: duckdb.DuckDBPyConnection, user_id: str) -> list[dict]:
    """The user's payment methods ({"id", "source", "balance"}), in the order they were added."""
    rows = con.execute("SELECT payment_method_id, source, balance FROM payment_methods "
                       "WHERE user_id = ? ORDER BY rowid", [user_id]).fetchall()
    return [{"id": method_id, "source": source, "balance": balance}
            for method_id, source, balance in rows]


def product_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every product's title -> product id, by title."""
    return dict(con.execute(
        "SELECT title, product_id FROM products ORDER BY title, product_id").fetchall())


def customers_with_pending_orders(settings: Settings, limit: int | None = None,
                                  ) -> list[tuple[str, str, str]]:
    """(email, user id, first pending order) of the customers with an email and a pending
    order, by email (the first ``limit``, or all); empty when the warehouse is not built."""
    if not settings.warehouse.is_file():
        return []
    con = warehouse.open_shared(settings.warehouse)
    try:
        return [tuple(row) for row in con.execute(
            "SELECT u.email, u.user_id, min(o.order_id) FROM users u JOIN orders o "
            "USING (user_id) WHERE o.status = 'pending' AND u.email IS NOT NULL "
            "GROUP BY ALL ORDER BY u.email LIMIT ?", [limit]).fetchall()]
    finally:
        con.close()


def demo_customer(settings: Settings) -> tuple[str, str, str] | None:
    """(email, user id, pending order) of a customer to try the assistant with, if any."""
    return next(iter(customers_with_pending_orders(settings, limit=1)), None)


# --- changes ------------------------------------------------------------------------------------

def save_order(con: duckdb.DuckDBPyConnection, order: dict, items_changed: bool = False) -> None:
    """Write a (changed) tau-bench order dict back: status, address, reason, request, payments,
    and, when ``items_changed``, its lines (``_regroup_lines``) and total."""
    order_id = order["order_id"]
    request = {k: order[k] for k in REQUEST_KEYS if k in order} or None
    con.execute(
        "UPDATE orders SET status = ?, ship_address = ?, cancel_reason = ?, request = ? "
        "WHERE order_id = ?",
        [order["status"], None if order["address"] is None else json.dumps(order["address"]),
         order.get("cancel_reason"),
         json.dumps(request) if request else None, order_id])
    con.execute("DELETE FROM payments WHERE order_id = ?", [order_id])
    for seq, p in enumerate(order["payment_history"], start=1):
        con.execute("INSERT INTO payments VALUES (?, ?, ?, ?, ?)",
                    [order_id, seq, p["transaction_type"], p["amount"], p["payment_method_id"]])
    if items_changed:
        lines = order_lines(con, order_id)
        new_lines = _regroup_lines(lines, order["items"])
        if new_lines != lines:
            columns = list(lines[0])
            con.execute("DELETE FROM order_items WHERE order_id = ?", [order_id])
            con.executemany(
                f"INSERT INTO order_items ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [[line[c] for c in columns] for line in new_lines])
        con.execute("UPDATE orders SET total = (SELECT round(sum(quantity * unit_price), 2) "
                    "FROM order_items WHERE order_id = ?) WHERE order_id = ?", [order_id, order_id])


def _regroup_lines(lines: list[dict], items: list[dict]) -> list[dict]:
    """The order_items rows for the per-unit ``items`` (``knowledge.tau_records``) of an order
    whose rows were ``lines``: each line takes its units back in order; a line whose units now
    differ is split into one line per run of identical units (quantity: the run's length,
    the line's sign). A split shifts later line numbers only as far as it must; every other
    column stays as it was, and an unchanged line is returned as it was."""
    if len(items) != sum(line_units(line) for line in lines):
        raise ValueError(f"{len(items)} items for {len(lines)} order lines of "
                         f"{sum(line_units(line) for line in lines)} units")
    units, out, last_no = iter(items), [], 0
    for line in lines:
        runs: list[list] = []  # [unit, count]
        for _ in range(line_units(line)):
            unit = next(units)
            if runs and runs[-1][0] == unit:
                runs[-1][1] += 1
            else:
                runs.append([unit, 1])
        original = line_item(line)
        if len(runs) <= 1 and (not runs or runs[0][0] == original):
            new = [dict(line)]
        else:
            sign = -1 if (line["quantity"] or 1) < 0 else 1
            new = [line | {"quantity": sign * count} | (
                {} if unit == original else
                {"item_id": unit["item_id"], "unit_price": unit["price"],
                 "options": json.dumps(unit["options"])}) for unit, count in runs]
        for n, row in enumerate(new):
            keep = n == 0 and line["line_no"] > last_no
            row["line_no"] = last_no = line["line_no"] if keep else last_no + 1
        out.extend(new)
    return out


def add_to_balance(con: duckdb.DuckDBPyConnection, method: dict, amount: float) -> None:
    """Add ``amount`` (negative: take) to a gift card's balance, in ``method`` and the table."""
    method["balance"] = round(method["balance"] + amount, 2)
    con.execute("UPDATE payment_methods SET balance = ? WHERE payment_method_id = ?",
                [method["balance"], method["id"]])


def save_user_address(con: duckdb.DuckDBPyConnection, user_id: str, address: dict) -> None:
    """The user's default address (address1, address2, city, state, country, zip)."""
    con.execute("UPDATE users SET address1 = ?, address2 = ?, city = ?, state = ?, country = ?, "
                "zip = ? WHERE user_id = ?",
                [address["address1"], address["address2"], address["city"], address["state"],
                 address["country"], address["zip"], user_id])
