"""The CLI on the dev server: `--as` is a team member who passes the API's rights check, one
onboarding per account whatever the entry point, and one line (no traceback) for every refusal.
The CLI runs as a subprocess (its own event loop), in a thread so the worker here keeps going."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from e2e_helpers import account, bearer, eventually

from csrunner.services.journeys import deal_closed, journey_id
from csrunner.services.runs import start_run

CSR = str(Path(sys.executable).parent / "csr")


async def csr(stack, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "TASK_QUEUE": stack.settings.task_queue,
        "DATA_DIR": str(stack.settings.data_dir),
        "COLUMNS": "80",
    }
    done = await asyncio.to_thread(
        subprocess.run, [CSR, *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def account_file(tmp_path, acct) -> str:
    path = tmp_path / f"{acct.id}.yaml"
    path.write_text(
        f"id: {acct.id}\nname: {acct.name}\ntimezone: Europe/Madrid\nlocale: es\ncsm: maria\n"
        "contacts:\n  - {name: Ana López, email: ana@acme.example, role: champion, locale: es}\n"
    )
    return str(path)


async def test_as_passes_the_same_rights_check_as_the_api(stack, pilot_catalog):
    acct = account()
    wid, _ = await start_run(
        stack.client, stack.settings, pilot_catalog, acct, "pilot-approval", workflow_id=f"cli:{acct.id}"
    )
    await eventually(lambda: any(wid in str(m["blocks"]) for m in stack.slack.messages))

    done = await csr(stack, "approve", wid, "day4-approve", "--as", "bob")
    assert done.returncode == 1 and "--as 'bob' is not a person in the team file" in done.stderr
    done = await csr(stack, "approve", wid, "day4-approve", "--as", "tom")  # another CSM's account
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: tom (csm) may not act on runs of CSM 'maria'"
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:  # the API says the same
        r = await http.post(
            "/api/actions/approve",
            json={"workflow_id": wid, "step_id": "day4-approve"},
            headers=bearer("tom"),
        )
        assert r.status_code == 403 and "tom (csm) may not act on runs of CSM 'maria'" in r.json()["error"]

    done = await csr(stack, "approve", wid, "day4-approve", "--as", "maria", "--reason", "looks good")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip() == f"approve: day4-approve on {wid} by María García (maria); pending now: nothing"
    )
    again = await csr(stack, "approve", wid, "day4-approve", "--as", "carlos")  # the manager, too late
    assert again.returncode == 1 and "already approved by María García (maria) at " in again.stderr
    assert f"(run {wid!r} is completed)" in again.stderr

    shown = await csr(stack, "show", wid)
    assert wid in shown.stdout.splitlines()[0]  # the whole id on one line, to copy
    assert "María García (maria)" in shown.stdout


async def test_one_onboarding_per_account_whatever_the_entry_point(stack, tmp_path):
    acct = account()
    path = account_file(tmp_path, acct)
    await deal_closed(stack.client, stack.settings, acct, "deal-cli-1")
    done = await csr(stack, "start", "onboarding", path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: {acct.id}'s journey runs (journey:{acct.id}) and starts onboarding itself: "
        f"nothing started; see it with `csr journey {acct.id}`"
    )
    runs = [w.id async for w in stack.client.list_workflows(f"WorkflowId = 'playbook:{acct.id}:onboarding'")]
    assert runs == []
    shown = await csr(stack, "show", journey_id(acct.id))
    assert shown.returncode == 1 and f"see it with `csr journey {acct.id}`" in shown.stderr

    other = account()  # no journey: the playbook on its own is still there for ops
    done = await csr(stack, "start", "onboarding", account_file(tmp_path, other))
    assert done.returncode == 0 and done.stdout.strip() == f"started: playbook:{other.id}:onboarding"
    for wid in (journey_id(acct.id), f"playbook:{other.id}:onboarding"):
        await stack.client.get_workflow_handle(wid).terminate("test done")


async def test_unknown_runs_are_one_line(stack):
    done = await csr(stack, "show", "nosuch:run")
    assert done.returncode == 1 and done.stderr.startswith("Error: not found:")
    done = await csr(stack, "approve", "nosuch:run", "x", "--as", "maria")
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: no run 'nosuch:run' (see the ids with `csr journey ACCOUNT`)"
    done = await csr(stack, "migrate", "onbording", "--as", "olga", "--dry-run")
    assert done.returncode == 1 and "unknown playbook 'onbording'" in done.stderr


async def test_an_account_without_a_journey_is_one_line(stack):
    done = await csr(stack, "journey", "globex-none")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: not found: workflow not found for ID: journey:globex-none "
        "(no journey yet: `csr deal-closed ACCOUNT_FILE` starts it)"
    )
