"""Local fakes of SendGrid, Slack Web API and HubSpot CRM v3 for tests.

Each fake is a real HTTP server on 127.0.0.1 (OS-chosen port) in a background thread:

    with FakeSendGrid() as sg:
        SendGridAPIClient("SG.test-key", host=sg.url).send(message)
"""

from ._server import RecordedRequest
from .hubspot import FakeHubSpot
from .sendgrid import FakeSendGrid
from .slack import FakeSlack

__all__ = ["FakeHubSpot", "FakeSendGrid", "FakeSlack", "RecordedRequest"]
