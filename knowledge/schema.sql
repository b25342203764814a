-- shopmind warehouse schema (DuckDB). One file = one shop.
-- Every importer fills some of these tables and leaves the others as they were.
-- Ids are VARCHAR everywhere so that "17850", "#W2611340" and "u000042" all fit.
-- Documented in docs/warehouse.md; keep the two in step.

-- People who use the shop. Customer-service fields (name, email, address) are NULL for
-- sources that do not have them (Online Retail, Taobao, Hillstrom).
CREATE TABLE IF NOT EXISTS users (
    user_id      VARCHAR PRIMARY KEY,
    first_name   VARCHAR,
    last_name    VARCHAR,
    email        VARCHAR,
    country      VARCHAR,
    address1     VARCHAR,
    address2     VARCHAR,
    city         VARCHAR,
    state        VARCHAR,
    zip          VARCHAR,
    signup_at    TIMESTAMP
);

-- The catalogue. For tau-bench a product is a product type ("T-Shirt") whose variants
-- are the items that orders reference (see product_variants).
CREATE TABLE IF NOT EXISTS products (
    product_id   VARCHAR PRIMARY KEY,
    title        VARCHAR NOT NULL,
    description  VARCHAR,
    category     VARCHAR,
    price        DOUBLE            -- list price in the shop's currency (variants may differ)
);

-- Purchasable variants of a product (size, colour, ...). Optional: a shop without
-- variants has none, and order_items.item_id is then NULL.
CREATE TABLE IF NOT EXISTS product_variants (
    item_id      VARCHAR PRIMARY KEY,
    product_id   VARCHAR NOT NULL,
    options      JSON,             -- {"color": "blue", "size": "M"}
    available    BOOLEAN NOT NULL,
    price        DOUBLE NOT NULL
);

-- Orders. status: completed | cancelled (invoice data); pending | processed | delivered |
-- cancelled | return requested | exchange requested (tau-bench customer-service data).
CREATE TABLE IF NOT EXISTS orders (
    order_id     VARCHAR PRIMARY KEY,
    user_id      VARCHAR,          -- NULL for guest orders (Online Retail lines without CustomerID are skipped)
    ordered_at   TIMESTAMP,        -- NULL where the source has no time (tau-bench)
    status       VARCHAR NOT NULL,
    country      VARCHAR,
    total        DOUBLE,           -- sum of quantity * unit_price over the lines
    ship_address JSON,             -- {"address1","address2","city","state","country","zip"}
    cancel_reason VARCHAR,         -- set by cancel_pending_order
    request      JSON              -- pending return / exchange request (tau-bench fields), else NULL
);

CREATE TABLE IF NOT EXISTS order_items (
    order_id     VARCHAR NOT NULL,
    line_no      INTEGER NOT NULL,
    product_id   VARCHAR NOT NULL,
    item_id      VARCHAR,          -- product variant, if the shop has variants
    title        VARCHAR,          -- the product title at order time
    quantity     INTEGER NOT NULL,
    unit_price   DOUBLE NOT NULL,
    options      JSON,
    PRIMARY KEY (order_id, line_no)
);

-- Payment methods on file (tau-bench shape).
CREATE TABLE IF NOT EXISTS payment_methods (
    payment_method_id VARCHAR PRIMARY KEY,   -- "credit_card_7815826", "paypal_5727330", "gift_card_..."
    user_id      VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,           -- credit_card | paypal | gift_card
    brand        VARCHAR,
    last_four    VARCHAR,
    balance      DOUBLE                      -- gift cards only
);

-- Money movements of an order, in order (seq).
CREATE TABLE IF NOT EXISTS payments (
    order_id     VARCHAR NOT NULL,
    seq          INTEGER NOT NULL,
    transaction_type VARCHAR NOT NULL,       -- payment | refund
    amount       DOUBLE NOT NULL,
    payment_method_id VARCHAR NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- Shipments: which items left in which parcel.
CREATE TABLE IF NOT EXISTS fulfillments (
    order_id     VARCHAR NOT NULL,
    seq          INTEGER NOT NULL,
    tracking_ids JSON NOT NULL,              -- ["357962501027"]
    item_ids     JSON NOT NULL,              -- ["6469567736", ...]
    PRIMARY KEY (order_id, seq)
);

-- Behaviour events. event_type: view | click | cart | fav | purchase.
-- Online Retail has purchases only (one per invoice line); Taobao pv maps to view.
CREATE TABLE IF NOT EXISTS events (
    user_id      VARCHAR NOT NULL,
    product_id   VARCHAR NOT NULL,
    category     VARCHAR,
    event_type   VARCHAR NOT NULL,
    ts           TIMESTAMP NOT NULL,
    session_id   VARCHAR,
    quantity     INTEGER,                    -- purchases only
    price        DOUBLE                      -- purchases only: unit price paid
);

-- Marketing experiments. randomized = TRUE when arms were assigned at random, which is
-- what uplift models need.
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,           -- email | coupon | ad
    started_at   TIMESTAMP,
    ended_at     TIMESTAMP,
    randomized   BOOLEAN NOT NULL,
    arms         JSON NOT NULL,              -- ["control", "mens_email", ...]; the first is the control
    outcome_window_days INTEGER,
    description  VARCHAR
);

-- One row per user in an experiment: the arm drawn and the outcomes observed after it.
CREATE TABLE IF NOT EXISTS campaign_assignments (
    campaign_id  VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    arm          VARCHAR NOT NULL,
    treated      BOOLEAN NOT NULL,           -- arm != control
    visit        BOOLEAN,
    conversion   BOOLEAN NOT NULL,
    spend        DOUBLE,
    covariates   JSON,                       -- pre-treatment features as the source gives them
    true_uplift  DOUBLE,                     -- synthetic shop only: the true effect of treatment on P(conversion)
    PRIMARY KEY (campaign_id, user_id)
);

-- Which imports built this warehouse (one row per import; the latest wins).
CREATE TABLE IF NOT EXISTS imports (
    source       VARCHAR NOT NULL,
    imported_at  TIMESTAMP NOT NULL,
    params       JSON,
    report       JSON
);

-- Policy and FAQ documents that search_knowledge retrieves from (chunked and embedded
-- into a FAISS index by knowledge.docs; the text here is the source of truth).
CREATE TABLE IF NOT EXISTS documents (
    doc_id       VARCHAR PRIMARY KEY,        -- "policy/returns"
    title        VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,           -- where it came from: "shopmind default policy", "tau-bench retail wiki"
    text         VARCHAR NOT NULL
);

-- Saved segments: a name for a set of query_segment filters, reusable by suggest_intervention.
CREATE TABLE IF NOT EXISTS segments (
    name         VARCHAR PRIMARY KEY,
    filters      JSON NOT NULL,
    description  VARCHAR,
    created_at   TIMESTAMP NOT NULL
);

-- Rows an own-shop import (shop, shopify, transactions) could not take: one row per rejected
-- raw row with the file, its line (header = line 1), the shopmind table and column, and why.
-- A re-import of the same file replaces that file's rows.
CREATE TABLE IF NOT EXISTS import_rejects (
    file         VARCHAR NOT NULL,
    line         BIGINT,
    tbl          VARCHAR,
    col          VARCHAR,
    reason       VARCHAR NOT NULL,
    value        VARCHAR
);

-- Rows an own-shop import made up from other tables (a product only order lines name, a user
-- only orders name). Their values (title, price; country) are recomputed from every stored
-- row on each import, so two exports imported one after the other equal one import of both;
-- a customers or products file that names the row takes it over.
CREATE TABLE IF NOT EXISTS derived_rows (
    tbl          VARCHAR NOT NULL,
    key          VARCHAR NOT NULL,
    PRIMARY KEY (tbl, key)
);
