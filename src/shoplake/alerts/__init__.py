"""Real-time purchase alerts: one alert per purchase event, exactly once.

- :mod:`shoplake.alerts.core` — a clickstream file's bytes -> its purchase alerts (stdlib).
- :mod:`shoplake.alerts.watcher` — ``shoplake alerts watch`` and ``process_pending``:
  local or S3 lake -> ``alerts/`` NDJSON and webhook POSTs, with an SQLite ledger.
- :mod:`shoplake.alerts.lambda_handler` — the same core as an AWS Lambda on S3 events,
  publishing to SNS; :mod:`shoplake.alerts.package` builds its zip.

This package module imports nothing, so that the Lambda zip needs only what its handler
imports.
"""
