"""The deal intake's last step: the account's journey gets `deal_closed` by signal-with-start,
exactly as `csr deal-closed` sends it (an existing journey keeps every earlier update).

The sending function is the services' one, handed in by the worker (activities sit below
services), with the worker's own Temporal client (`activity.client()`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Optional

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from activities.errors import permanent, transient
from csrunner.config.settings import Settings
from csrunner.domain.deal_intake import JourneyStart, JourneyStarted
from csrunner.domain.messages import Account

#: services.journeys.deal_closed: (client, settings, account, deal_id, closed_at, token=) → (id, started)
SendDeal = Callable[..., Awaitable[tuple[str, bool]]]


class JourneyStartActivities:
    def __init__(self, settings: Settings, send_deal: SendDeal):
        self.settings, self.send_deal = settings, send_deal

    async def _send(
        self, client: Client, account: Account, deal_id: str, closed_at: Optional[datetime], token: str
    ) -> tuple[str, bool]:
        return await self.send_deal(client, self.settings, account, deal_id, closed_at, token=token)

    @activity.defn(name="journey_deal_closed")
    async def deal_closed(self, req: JourneyStart) -> JourneyStarted:
        try:
            wid, started = await self._send(
                activity.client(), req.account, req.deal_id, req.closed_at, req.token
            )
        except ValueError as e:  # the account does not pass the journey's checks: a person must look
            raise permanent(f"deal {req.deal_id}: {e}") from None
        except RPCError as e:  # Temporal busy or briefly away: try again
            raise transient(f"starting the journey of {req.account.id}: {e.message}") from None
        return JourneyStarted(workflow_id=wid, started=started)
