"""Schema-driven fuzzing (schemathesis) of the service's own OpenAPI against the running stack:
valid and invalid requests on every operation, with and without credentials. Never a 5xx.
Bounded: a few examples per operation and mode, and an overall time budget."""

from __future__ import annotations

import asyncio
import time

import schemathesis
from e2e_helpers import DEAL_TOKEN, FEED_TOKEN, TOKENS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

EXAMPLES, BUDGET_S = 25, 120
CREDENTIALS = [None, TOKENS["olga"], TOKENS["maria"], TOKENS["tom"], FEED_TOKEN, DEAL_TOKEN, "forged"]


def fuzz(base_url: str) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    started = time.monotonic()
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if time.monotonic() - started > BUDGET_S:
                return failures

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode), token=st.sampled_from(CREDENTIALS))
            def check(case, token):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                cookies = {"csr_session": token} if token else {}
                response = case.call(
                    base_url=base_url, headers=headers, cookies=cookies, timeout=30, allow_redirects=False
                )
                if response.status_code >= 500:
                    failures.append(
                        f"{op.label} [{mode.value}] -> {response.status_code}: "
                        f"{response.text[:300]}\n  {case.as_curl_command()}"
                    )

            try:
                check()
            except Unsatisfiable:  # e.g. no invalid request exists for a parameterless GET
                pass
    return failures


async def test_openapi_fuzz_never_answers_5xx(stack):
    # Sync schemathesis in a thread: the session loop keeps running the worker meanwhile.
    failures = await asyncio.to_thread(fuzz, stack.url)
    assert not failures, "\n".join(failures[:10])
