"""The HTTP service: CRM webhooks, score/NPS feeds, Slack buttons, the CSM action API and inbox.
`create_app` in `app.py` builds it; `csr up` and `csr serve` run it."""
