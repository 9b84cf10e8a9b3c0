"""The warehouse contract's relations by kind (WAREHOUSE_CONTRACT.md), for the checks
that compare whole warehouses built different ways."""

FACTS = ("fact_orders", "sales_fact", "fact_payments", "fact_clicks")
GOLD = ("agg_daily_revenue", "agg_daily_funnel", "agg_customer_segments", "agg_payment_status")
DIMENSIONS = (
    "dim_date",
    "dim_geography",
    "dim_customers",
    "dim_customers_history",
    "dim_products",
    "dim_users",
)
