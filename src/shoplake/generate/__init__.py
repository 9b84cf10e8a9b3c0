"""``shoplake generate``: realistic, deterministic raw data for the lake.

One producer of data under the raw contract (docs/contract.md): orders,
sales and payments as CSV exports, customers as JSON API pages, the product catalog as
CSV dumps (or loaded into PostgreSQL for ``shoplake extract products``), and hourly
NDJSON clickstream, and a daily exchange-rate feed (``rates``). Same arguments and seed,
same bytes.

What the data looks like:

* a simulated shop (``world``): a catalog with long-tailed popularity and price changes,
  customers who sign up before their first order and come back Pareto-style, orders with
  weekly and daily seasonality that go placed -> paid -> shipped -> delivered (some
  cancelled or returned), each status change re-sent with a later ``updated_at``;
  payments that fail and are retried, authorisations, refunds; five currencies;
* sessions (``clickstream``): funnels that mostly end early, and for every web and app
  order a session that ends in its ``purchase`` event;
* delivery (``batches``, ``formats``): a day's export split into files, some files late,
  a few delivered twice, and every valid format variant mixed in;
* with ``faults``, every kind of bad input the contract lists (``faults``), counted.

The shop is simulated in one process; the batch datasets and each day of clickstream are
then written by worker processes (one per CPU), each part from a generator seeded by its
own name, so the files do not depend on the number of workers (``job``). Clickstream is
written hour by hour as the day's sessions advance (a day's worth of events at most is
held); who visits on a day, and the benchmarks' clickstream alone, is ``traffic``.

The counts go to the report and, as JSON, to ``_state/generate/summary.json``
(``summary``). This module is the package's face: the public API, re-exported below.
"""

from __future__ import annotations

from shoplake.generate.batches import Counts
from shoplake.generate.job import generate
from shoplake.generate.summary import GenerateReport
from shoplake.generate.traffic import generate_clickstream, orders_per_day_for

__all__ = ["Counts", "GenerateReport", "generate", "generate_clickstream", "orders_per_day_for"]
