"""Customer-service tools with the names, arguments and semantics of the tau-bench retail domain.

They read and write the warehouse's tau-bench-shaped tables (users, payment_methods, orders,
order_items, payments, fulfillments, products, product_variants). A write loads the record as a
tau-bench dict, applies exactly the change tau-bench's tool makes, and writes the changed rows
back inside one transaction, so a failed check changes nothing. The SQL (connections,
transactions, look-ups, write-backs) is in ``knowledge/warehouse.py``,
``knowledge/tau_records.py`` and ``knowledge/customer_records.py``.

Scope: in the ``customer`` role every look-up and action checks that the user or order belongs to
the signed-in customer (``ctx.customer_id``); ``find_user_id_*`` signs the conversation in. The
``operator`` role gets the read-only look-ups. Write tools are ``writes=True``: the agent only runs
them after the customer's explicit confirmation.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import duckdb
from pydantic import BaseModel, BeforeValidator, Field

from knowledge import customer_records as records
from knowledge import warehouse
from knowledge.tau_records import get_order_record, get_product_record, get_user_record
from tools.normalise import address_part_arg, order_id_arg, user_id_arg
from tools.registry import ToolContext, ToolError, ToolSpec, tool

CUSTOMER = {"customer"}
EVERYONE = {"customer", "operator"}
ORDER_ID = "The order id, such as '#W0000000'. Be careful there is a '#' symbol at the beginning."
PAYMENT_ID = ("The payment method id to pay or receive refund for the item price difference, such "
              "as 'gift_card_0000000' or 'credit_card_0000000'. Look it up in the user or order details.")
ITEM_IDS = "The item ids, each such as '1008292230'. There could be duplicate items in the list."

# Ids as the model may write them ("W1234567", "order #W1234567", 15544) are cleaned before the
# tool runs (tools/normalise.py); the schema the model sees still says "string".
OrderIdText = Annotated[str, BeforeValidator(order_id_arg)]
UserIdText = Annotated[str, BeforeValidator(user_id_arg)]


# --- warehouse access -----------------------------------------------------------------------

@contextmanager
def _session(ctx: ToolContext, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one tool call: read-only, or (``write``) one transaction that commits
    only if the call succeeds. ``ctx.extras["con"]`` (an open connection whose transaction the
    caller owns) is used as is: the gold-action replay test relies on it."""
    if "con" in ctx.extras:
        yield ctx.extras["con"]
        return
    path = ctx.settings.warehouse
    try:
        with warehouse.transaction(path) if write else warehouse.reading(path) as con:
            yield con
    except warehouse.WarehouseBusyError as err:
        raise ToolError(str(err)) from err


def preview(ctx: ToolContext, spec: ToolSpec, arguments: dict) -> dict:
    """Run a write tool in a transaction that is rolled back: every check (scope, status,
    items, balances) runs and the would-be result comes back, but nothing changes."""
    try:
        with warehouse.transaction(ctx.settings.warehouse, commit=False) as con:
            dry = ToolContext(ctx.settings, ctx.role, ctx.customer_id, {**ctx.extras, "con": con})
            return spec.invoke(dry, arguments)
    except warehouse.WarehouseBusyError as err:
        raise ToolError(str(err)) from err


# --- scope checks -----------------------------------------------------------------------------

def _require_signed_in(ctx: ToolContext) -> None:
    if ctx.role == "customer" and not ctx.customer_id:
        raise ToolError("the customer is not authenticated yet: ask for their email, or their "
                        "first name, last name and zip code, and look them up first")


def _own_user(ctx: ToolContext, con: duckdb.DuckDBPyConnection, user_id: str) -> dict:
    _require_signed_in(ctx)
    user = get_user_record(con, user_id)
    if user is None or (ctx.role == "customer" and user_id != ctx.customer_id):
        raise ToolError(f"user {user_id!r} not found" + (
            " for the signed-in customer" if ctx.role == "customer" else ""))
    return user


def _own_order(ctx: ToolContext, con: duckdb.DuckDBPyConnection, order_id: str) -> dict:
    """The order, if it exists and (for customers) belongs to the signed-in customer. Another
    customer's order reads exactly like a missing one, so ids cannot be probed."""
    _require_signed_in(ctx)
    order = get_order_record(con, order_id)
    if order is None or (ctx.role == "customer" and order["user_id"] != ctx.customer_id):
        hint = "" if order_id.startswith("#") else " (order ids start with '#', e.g. '#W0000000')"
        raise ToolError(f"order {order_id!r} not found{hint}" + (
            " among the signed-in customer's orders" if ctx.role == "customer" else ""))
    return order


def _payment_method(con: duckdb.DuckDBPyConnection, order: dict, payment_method_id: str) -> dict:
    """The order owner's payment method (source, id, balance)."""
    methods = records.payment_methods(con, order["user_id"])
    for method in methods:
        if method["id"] == payment_method_id:
            return method
    raise ToolError(f"payment method {payment_method_id!r} not found; the customer's methods "
                    f"are: {', '.join(m['id'] for m in methods) or 'none'}")


# What an order in a status can still have done, for the model's next step after a refusal
# (the quick model tried modify_pending_order_items on a delivered order, twice).
_WHAT_A_STATUS_ALLOWS = {
    "pending": "a pending order can be cancelled (cancel_pending_order) or changed "
               "(modify_pending_order_address, _payment, _items)",
    "delivered": "a delivered order's items can be returned (return_delivered_order_items) or "
                 "exchanged for another variant (exchange_delivered_order_items)",
}


def _order_in_status(ctx: ToolContext, con: duckdb.DuckDBPyConnection, order_id: str,
                     status: str, verb: str) -> dict:
    """The caller's order, which must be in ``status`` to be ``verb`` (tau-bench's rule)."""
    order = _own_order(ctx, con, order_id)
    if order["status"] != status:
        allows = _WHAT_A_STATUS_ALLOWS.get(order["status"])
        raise ToolError(f"non-{status} order cannot be {verb} (order {order['order_id']} is "
                        f"{order['status']!r})" + (f"; {allows}" if allows else ""))
    return order


def _check_items_in_order(order: dict, item_ids: list[str]) -> None:
    present = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > present.count(item_id):
            raise ToolError(f"item {item_id} not found in order {order['order_id']} "
                            f"(its items: {', '.join(map(str, present))})")


def _price_difference(con: duckdb.DuckDBPyConnection, order: dict, item_ids: list[str],
                      new_item_ids: list[str]) -> tuple[float, dict]:
    """Sum of new minus old prices, and the new variants by item id (all checked available)."""
    if len(item_ids) != len(new_item_ids):
        raise ToolError("the number of items to be exchanged should match: "
                        f"{len(item_ids)} item_ids but {len(new_item_ids)} new_item_ids")
    diff, variants = 0.0, {}
    for item_id, new_item_id in zip(item_ids, new_item_ids):
        item = next(i for i in order["items"] if i["item_id"] == item_id)
        product = get_product_record(con, item["product_id"]) or {"variants": {}}
        variant = product["variants"].get(new_item_id)
        if variant is None or not variant["available"]:
            raise ToolError(f"new item {new_item_id} not found or not available as a variant of "
                            f"{item['name']} (product {item['product_id']}); see "
                            "get_product_details for the available item ids")
        diff += variant["price"] - item["price"]
        variants[new_item_id] = variant
    return round(diff, 2), variants


# --- look-ups -----------------------------------------------------------------------------------

class FindByEmail(BaseModel):
    email: str = Field(description="The email of the user, such as 'something@example.com'.")


class FindByNameZip(BaseModel):
    first_name: str = Field(description="The first name of the customer, such as 'John'.")
    last_name: str = Field(description="The last name of the customer, such as 'Doe'.")
    zip: str = Field(description="The zip code of the customer, such as '12345'.")


def _sign_in(ctx: ToolContext, user_id: str) -> dict:
    """A customer conversation is bound to the first customer it finds, and only to them."""
    if ctx.role == "customer":
        if ctx.customer_id and ctx.customer_id != user_id:
            raise ToolError("this conversation is already signed in as another customer; "
                            "start a new conversation to help someone else")
        ctx.customer_id = user_id
    return {"user_id": user_id}


@tool("find_user_id_by_email", "Find user id by email. If the user is not found, the function "
      "will return an error message.", FindByEmail, EVERYONE)
def find_user_id_by_email(ctx: ToolContext, args: FindByEmail) -> dict:
    with _session(ctx) as con:
        found = records.user_id_by_email(con, args.email.strip())
    if not found:
        raise ToolError(f"user not found for email {args.email!r}; check the spelling, or look "
                        "the customer up by first name, last name and zip code")
    return _sign_in(ctx, found)


@tool("find_user_id_by_name_zip", "Find user id by first name, last name, and zip code. If the "
      "user is not found, the function will return an error message. By default, find user id by "
      "email, and only call this function if the user is not found by email or cannot remember "
      "email.", FindByNameZip, EVERYONE)
def find_user_id_by_name_zip(ctx: ToolContext, args: FindByNameZip) -> dict:
    with _session(ctx) as con:
        found = records.user_id_by_name_zip(con, args.first_name.strip(), args.last_name.strip(),
                                            args.zip.strip())
    if not found:
        raise ToolError("user not found for that first name, last name and zip code; check them "
                        "or look the customer up by email")
    return _sign_in(ctx, found)


class UserId(BaseModel):
    user_id: UserIdText = Field(description="The user id, such as 'sara_doe_496'.")


class OrderId(BaseModel):
    order_id: OrderIdText = Field(description=ORDER_ID)


class ProductId(BaseModel):
    product_id: str = Field(description="The product id, such as '6086499569'. Be careful the "
                            "product id is different from the item id.")


class NoArgs(BaseModel):
    pass


def order_headline(order: dict) -> str:
    """What an order-returning tool did, in words (see tools/registry.py, headline)."""
    items = order.get("items", [])
    names = ", ".join(i["name"] for i in items[:4]) + (", ..." if len(items) > 4 else "")
    total = sum(i.get("price", 0) for i in items)
    return (f"Order {order['order_id']}, status {order['status']}: {len(items)} "
            f"item{'s' if len(items) != 1 else ''} ({names}), total {total:.2f}.")


def user_headline(user: dict) -> str:
    orders = user.get("orders", [])
    return (f"{user['name']['first_name']} {user['name']['last_name']} ({user['email']}), "
            f"{user['address']['city']}, {user['address']['country']}: {len(orders)} "
            f"order{'s' if len(orders) != 1 else ''}{': ' + ', '.join(orders) if orders else ''}.")


def product_headline(product: dict) -> str:
    variants = list(product["variants"].values())
    available = [v for v in variants if v["available"]]
    prices = sorted(v["price"] for v in available)
    price = (f", {prices[0]:.2f}" + (f" to {prices[-1]:.2f}" if prices[-1] != prices[0] else "")
             if prices else "")
    return (f"{product['name']} (product {product['product_id']}): {len(available)} of "
            f"{len(variants)} variants available{price}.")


def catalogue_headline(catalogue: dict) -> str:
    types = catalogue["product_types"]
    shown = ", ".join(list(types)[:5])
    return f"{len(types)} product types, for example {shown}."


@tool("get_user_details", "Get the details of a user, including their orders.", UserId, EVERYONE,
      headline=user_headline)
def get_user_details(ctx: ToolContext, args: UserId) -> dict:
    with _session(ctx) as con:
        return _own_user(ctx, con, args.user_id)


@tool("get_order_details", "Get the status and details of an order.", OrderId, EVERYONE,
      headline=order_headline)
def get_order_details(ctx: ToolContext, args: OrderId) -> dict:
    with _session(ctx) as con:
        return _own_order(ctx, con, args.order_id)


@tool("get_product_details", "Get the inventory details of a product.", ProductId, EVERYONE,
      headline=product_headline)
def get_product_details(ctx: ToolContext, args: ProductId) -> dict:
    with _session(ctx) as con:
        product = get_product_record(con, args.product_id)
    if product is None:
        raise ToolError(f"product {args.product_id!r} not found; list_all_product_types gives "
                        "the product ids (an item id is not a product id)")
    return product


@tool("list_all_product_types", "List the name and product id of all product types. Each product "
      "type has a variety of different items with unique item ids and options.", NoArgs, EVERYONE,
      headline=catalogue_headline)
def list_all_product_types(ctx: ToolContext, args: NoArgs) -> dict:
    with _session(ctx) as con:
        # Nested (not tau-bench's flat name -> id mapping) so the headline is not a product name.
        return {"product_types": records.product_types(con)}


# --- write actions ------------------------------------------------------------------------------

class CancelArgs(BaseModel):
    order_id: OrderIdText = Field(description=ORDER_ID)
    reason: Literal["no longer needed", "ordered by mistake"] = Field(
        description="The reason for cancellation, which should be either 'no longer needed' or "
        "'ordered by mistake'.")


@tool("cancel_pending_order", "Cancel a pending order. If the order is already processed or "
      "delivered, it cannot be cancelled. The agent needs to explain the cancellation detail and "
      "ask for explicit user confirmation (yes/no) to proceed. The payment is refunded: to a gift "
      "card immediately, otherwise in 5-7 business days. Returns the order details after the "
      "cancellation.", CancelArgs, CUSTOMER, writes=True,
      headline=order_headline)
def cancel_pending_order(ctx: ToolContext, args: CancelArgs) -> dict:
    with _session(ctx, write=True) as con:
        order = _order_in_status(ctx, con, args.order_id, "pending", "cancelled")
        refunds = []
        for payment in order["payment_history"]:
            refunds.append({"transaction_type": "refund", "amount": payment["amount"],
                            "payment_method_id": payment["payment_method_id"]})
            if "gift_card" in payment["payment_method_id"]:
                method = _payment_method(con, order, payment["payment_method_id"])
                records.add_to_balance(con, method, payment["amount"])
        order["status"] = "cancelled"
        order["cancel_reason"] = args.reason
        order["payment_history"].extend(refunds)
        records.save_order(con, order)
        return order


def _part(name: str):
    return Annotated[str, BeforeValidator(address_part_arg(name))]


class AddressArgs(BaseModel):
    address1: _part("address1") = Field(
        description="The first line of the address, such as '123 Main St'.")
    address2: _part("address2") = Field(
        description="The second line of the address, such as 'Apt 1' or ''.")
    city: _part("city") = Field(description="The city, such as 'San Francisco'.")
    state: _part("state") = Field(description="The province, such as 'CA'.")
    country: _part("country") = Field(description="The country, such as 'USA'.")
    zip: _part("zip") = Field(description="The zip code, such as '12345'.")

    def as_address(self) -> dict:
        return {k: getattr(self, k) for k in ("address1", "address2", "city", "state", "country",
                                               "zip")}


class OrderAddressArgs(AddressArgs):
    order_id: OrderIdText = Field(description=ORDER_ID)


class UserAddressArgs(AddressArgs):
    user_id: UserIdText = Field(description="The user id, such as 'sara_doe_496'.")


@tool("modify_pending_order_address", "Modify the shipping address of a pending order. The agent "
      "needs to explain the modification detail and ask for explicit user confirmation (yes/no) "
      "to proceed.", OrderAddressArgs, CUSTOMER, writes=True,
      headline=order_headline)
def modify_pending_order_address(ctx: ToolContext, args: OrderAddressArgs) -> dict:
    with _session(ctx, write=True) as con:
        order = _order_in_status(ctx, con, args.order_id, "pending", "modified")
        order["address"] = args.as_address()
        records.save_order(con, order)
        return order


@tool("modify_user_address", "Modify the default address of a user. The agent needs to explain "
      "the modification detail and ask for explicit user confirmation (yes/no) to proceed.",
      UserAddressArgs, CUSTOMER, writes=True,
      headline=user_headline)
def modify_user_address(ctx: ToolContext, args: UserAddressArgs) -> dict:
    with _session(ctx, write=True) as con:
        user = _own_user(ctx, con, args.user_id)
        user["address"] = args.as_address()
        records.save_user_address(con, args.user_id, user["address"])
        return user


class OrderPaymentArgs(BaseModel):
    order_id: OrderIdText = Field(description=ORDER_ID)
    payment_method_id: str = Field(description=PAYMENT_ID)


@tool("modify_pending_order_payment", "Modify the payment method of a pending order. The agent "
      "needs to explain the modification detail and ask for explicit user confirmation (yes/no) "
      "to proceed.", OrderPaymentArgs, CUSTOMER, writes=True,
      headline=order_headline)
def modify_pending_order_payment(ctx: ToolContext, args: OrderPaymentArgs) -> dict:
    with _session(ctx, write=True) as con:
        order = _order_in_status(ctx, con, args.order_id, "pending", "modified")
        method = _payment_method(con, order, args.payment_method_id)
        history = order["payment_history"]
        if len(history) != 1 or history[0]["transaction_type"] != "payment":
            raise ToolError("there should be exactly one payment for a pending order")
        old_id, amount = history[0]["payment_method_id"], history[0]["amount"]
        if old_id == args.payment_method_id:
            raise ToolError("the new payment method should be different from the current one")
        if method["source"] == "gift_card" and method["balance"] < amount:
            raise ToolError(f"insufficient gift card balance ({method['balance']}) to pay for the "
                            f"order ({amount})")
        history.extend([
            {"transaction_type": "payment", "amount": amount,
             "payment_method_id": args.payment_method_id},
            {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id},
        ])
        if method["source"] == "gift_card":
            records.add_to_balance(con, method, -amount)
        if "gift_card" in old_id:
            records.add_to_balance(con, _payment_method(con, order, old_id), amount)
        records.save_order(con, order)
        return order


class ItemsArgs(BaseModel):
    order_id: OrderIdText = Field(description=ORDER_ID)
    item_ids: list[str] = Field(description=ITEM_IDS)
    new_item_ids: list[str] = Field(
        description="The item ids to change to, each such as '1008292230'. There could be "
        "duplicate items in the list. Each new item id should match the item id in the same "
        "position and be of the same product.")
    payment_method_id: str = Field(description=PAYMENT_ID)


def _item_change(ctx: ToolContext, con: duckdb.DuckDBPyConnection, args: ItemsArgs, status: str,
                 verb: str) -> tuple[dict, float, dict, dict]:
    """Checks shared by modify and exchange: (order, price difference, new variants, payment
    method), the method able to pay the difference."""
    order = _order_in_status(ctx, con, args.order_id, status, verb)
    _check_items_in_order(order, args.item_ids)
    diff, variants = _price_difference(con, order, args.item_ids, args.new_item_ids)
    method = _payment_method(con, order, args.payment_method_id)
    if method["source"] == "gift_card" and method["balance"] < diff:
        raise ToolError(f"insufficient gift card balance ({method['balance']}) to pay for the "
                        f"price difference ({diff})")
    return order, diff, variants, method


@tool("modify_pending_order_items", "Modify items in a pending order to new items of the same "
      "product type. For a pending order, this function can only be called once. The agent needs "
      "to explain the exchange detail and ask for explicit user confirmation (yes/no) to proceed.",
      ItemsArgs, CUSTOMER, writes=True,
      headline=order_headline)
def modify_pending_order_items(ctx: ToolContext, args: ItemsArgs) -> dict:
    with _session(ctx, write=True) as con:
        order, diff, variants, method = _item_change(ctx, con, args, "pending", "modified")
        order["payment_history"].append({
            "transaction_type": "payment" if diff > 0 else "refund", "amount": abs(diff),
            "payment_method_id": args.payment_method_id})
        if method["source"] == "gift_card":
            records.add_to_balance(con, method, -diff)
        for item_id, new_item_id in zip(args.item_ids, args.new_item_ids):
            item = next(i for i in order["items"] if i["item_id"] == item_id)
            item |= {"item_id": new_item_id, "price": variants[new_item_id]["price"],
                     "options": variants[new_item_id]["options"]}
        order["status"] = "pending (item modified)"
        records.save_order(con, order, items_changed=True)
        return order


class ReturnArgs(BaseModel):
    order_id: OrderIdText = Field(description=ORDER_ID)
    item_ids: list[str] = Field(description=ITEM_IDS)
    payment_method_id: str = Field(description=PAYMENT_ID)


@tool("return_delivered_order_items", "Return some items of a delivered order. The order status "
      "will be changed to 'return requested'. The agent needs to explain the return detail and ask "
      "for explicit user confirmation (yes/no) to proceed. The user will receive follow-up email "
      "for how and where to return the item.", ReturnArgs, CUSTOMER, writes=True,
      headline=order_headline)
def return_delivered_order_items(ctx: ToolContext, args: ReturnArgs) -> dict:
    with _session(ctx, write=True) as con:
        order = _order_in_status(ctx, con, args.order_id, "delivered", "returned")
        _payment_method(con, order, args.payment_method_id)
        original = order["payment_history"][0]["payment_method_id"]
        if "gift_card" not in args.payment_method_id and args.payment_method_id != original:
            raise ToolError("the refund must go to the original payment method "
                            f"({original}) or a gift card")
        _check_items_in_order(order, args.item_ids)
        order["status"] = "return requested"
        order["return_items"] = sorted(args.item_ids)
        order["return_payment_method_id"] = args.payment_method_id
        records.save_order(con, order)
        return order


@tool("exchange_delivered_order_items", "Exchange items in a delivered order to new items of the "
      "same product type. For a delivered order, return or exchange can be only done once by the "
      "agent. The agent needs to explain the exchange detail and ask for explicit user "
      "confirmation (yes/no) to proceed.", ItemsArgs, CUSTOMER, writes=True,
      headline=order_headline)
def exchange_delivered_order_items(ctx: ToolContext, args: ItemsArgs) -> dict:
    with _session(ctx, write=True) as con:
        order, diff, _, _ = _item_change(ctx, con, args, "delivered", "exchanged")
        order["status"] = "exchange requested"
        order["exchange_items"] = sorted(args.item_ids)
        order["exchange_new_items"] = sorted(args.new_item_ids)
        order["exchange_payment_method_id"] = args.payment_method_id
        order["exchange_price_difference"] = diff
        records.save_order(con, order)
        return order


# --- calculate, think, transfer -----------------------------------------------------------------

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.USub: operator.neg, ast.UAdd: operator.pos}


def safe_arithmetic(expression: str) -> float:
    """Evaluate + - * / and parentheses over numbers by walking the syntax tree (never eval)."""
    if len(expression) > 500:
        raise ToolError("expression too long (at most 500 characters)")
    if not all(char in "0123456789+-*/(). " for char in expression):
        raise ToolError("invalid characters in expression: only numbers, + - * / ( ) . and "
                        "spaces are allowed")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise ToolError(f"not a valid arithmetic expression: {expression!r}") from err

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](walk(node.operand))
        raise ToolError(f"unsupported syntax in expression: {expression!r}")

    try:
        return round(float(walk(tree)), 2)
    except ZeroDivisionError as err:
        raise ToolError("division by zero") from err


class CalculateArgs(BaseModel):
    expression: str = Field(description="The mathematical expression to calculate, such as "
                             "'2 + 2'. The expression can contain numbers, operators (+, -, *, /), "
                             "parentheses, and spaces.")


@tool("calculate", "Calculate the result of a mathematical expression.", CalculateArgs, EVERYONE)
def calculate(ctx: ToolContext, args: CalculateArgs) -> dict:
    return {"result": safe_arithmetic(args.expression)}


class ThinkArgs(BaseModel):
    thought: str = Field(description="A thought to think about.")


@tool("think", "Use the tool to think about something. It will not obtain new information or "
      "change the database, but just append the thought to the log.", ThinkArgs, EVERYONE)
def think(ctx: ToolContext, args: ThinkArgs) -> dict:
    return {}


class TransferArgs(BaseModel):
    summary: str = Field(description="A summary of the user's issue.")


@tool("transfer_to_human_agents", "Transfer the user to a human agent, with a summary of the "
      "user's issue. Only transfer if the user explicitly asks for a human agent, or if the user's "
      "issue cannot be resolved by the agent with the available tools.", TransferArgs, CUSTOMER)
def transfer_to_human_agents(ctx: ToolContext, args: TransferArgs) -> dict:
    """The tool only asks: the agent sees ``handoff_summary`` and puts the thread in the support
    desk's queue (assistant/desk.py); the result stays tau-bench's."""
    ctx.extras["handoff_summary"] = args.summary
    return {"result": "Transfer successful"}
