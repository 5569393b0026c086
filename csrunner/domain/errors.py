"""Failure type names that cross the activity/workflow boundary as ApplicationError types.

The activities raise them and the workflows' retry policies name them, so both import them from
here (one spelling; a typo would silently turn a permanent failure into a day of retries).
"""

from __future__ import annotations

#: A delivery that will never succeed (bad address, broken template): no retry; the workflow turns
#: it into a task for the CSM.
PERMANENT = "PermanentDeliveryError"
#: A delivery that may succeed later (rate limit, outage): retried with backoff.
TRANSIENT = "TransientDeliveryError"
#: A customer email whose fate nobody knows (the attempt was recorded, its outcome never was): not
#: retried, never re-sent by itself; the workflow asks the CSM to check and offers a resend.
DELIVERY_UNKNOWN = "DeliveryUnknownError"
