"""The web inbox in a real browser (Debian's chromium driven by Playwright): a CSM signs in with
a token, sees the pending approval, approves it, and the timeline shows it with their name.
Screenshots (laptop and phone) go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import TOKENS, account, browser_skip_reason, eventually
from playwright.async_api import async_playwright, expect

from csrunner.config.catalog import load_catalog
from csrunner.config.settings import REPO_ROOT
from csrunner.services.runs import start_run

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian installs it there


@pytest.fixture
async def browser():
    why = browser_skip_reason(shutil.which("chromium"), dict(os.environ))
    if why:
        pytest.skip(why)
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        await b.close()


async def test_csm_signs_in_approves_and_sees_it_in_the_timeline(stack, pilot_catalog, browser):
    acct = account()
    wid, _ = await start_run(
        stack.client,
        stack.settings,
        pilot_catalog,
        acct,
        "pilot-approval",
        workflow_id=f"test:{acct.id}:browser",
    )
    await eventually(lambda: any(wid in str(m["blocks"]) for m in stack.slack.messages))
    ARTIFACTS.mkdir(exist_ok=True)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.set_default_timeout(15_000)

    await page.goto(f"{stack.url}/inbox")
    await expect(page).to_have_url(f"{stack.url}/inbox/login")
    await page.fill("#token", "wrong")
    await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("unknown token")
    await page.fill("#token", TOKENS["maria"])
    await page.click("button[type=submit]")
    await expect(page.locator("header .me")).to_contain_text("María García")

    card = page.locator(f"li.item[data-workflow='{wid}'][data-step='day4-approve']")
    for _ in range(50):  # visibility catches up within moments
        if await card.count():
            break
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(card).to_contain_text("Approve the campaign-review email to the champion")
    await expect(card.locator(".preview")).to_contain_text("ana@acme.example")
    await page.screenshot(path=str(ARTIFACTS / "inbox-laptop.png"), full_page=True)

    await card.locator("input[name=reason]").fill("copy looks good")
    await card.get_by_role("button", name="Approve").click()
    await expect(page.locator(".flash.ok")).to_contain_text("approve: 'day4-approve' done by María García")
    await expect(card).to_have_count(0)

    await page.goto(f"{stack.url}/inbox/accounts/{acct.id}")
    row = page.locator("tr.outcome-approved")
    await expect(row).to_contain_text("María García")
    await expect(row).to_contain_text("copy looks good")
    await expect(page.locator("tr.outcome-sent")).to_contain_text("day4-pilot-review")
    await page.screenshot(path=str(ARTIFACTS / "inbox-timeline.png"), full_page=True)

    phone = await (
        await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    ).new_page()
    await phone.context.add_cookies(await page.context.cookies())  # the same signed-in session
    await phone.goto(f"{stack.url}/inbox/accounts/{acct.id}")
    await expect(phone.locator("tr.outcome-approved")).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the timeline overflows a phone screen ({width}px)"
    await phone.screenshot(path=str(ARTIFACTS / "inbox-phone.png"), full_page=True)


@pytest.mark.parametrize(
    "exists, ci, skipped",
    [
        (True, "", False),
        (True, "true", False),
        (False, "true", False),
        (False, "", True),
        (False, "false", True),
    ],
)
def test_the_browser_test_skips_only_without_chromium_and_outside_ci(tmp_path, exists, ci, skipped):
    chromium = tmp_path / "chromium"
    if exists:
        chromium.write_text("")
    why = browser_skip_reason(str(chromium), {"CI": ci} if ci else {})
    assert (why is not None) == skipped
    if skipped:
        assert "apt-get install chromium" in why


@pytest.mark.parametrize("page_path, shown", [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")])
async def test_api_docs_render_offline_under_the_csp(stack, browser, page_path, shown):
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(15_000)
    outside, refused = [], []
    # what actually came from elsewhere (ReDoc asks for its CDN logo; the CSP stops it unsent)
    page.on("response", lambda r: outside.append(r.url) if not r.url.startswith(stack.url) else None)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    await page.goto(f"{stack.url}{page_path}")
    await expect(page.locator(shown).first).to_contain_text("CS playbook runner")
    assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []
    assert [m for m in refused if "script" in m] == []


async def test_csm_edits_the_urgent_email_in_the_inbox_and_approves_it(stack, browser):
    """Seed 004's critical play: the CSM writes the action plan with dates in the approval card;
    the customer gets that text, once, and the timeline says who edited what."""
    acct = account()
    acct = acct.model_copy(
        update={"contacts": [c.model_copy(update={"locale": "en"}) for c in acct.contacts]}
    )
    catalog = load_catalog(REPO_ROOT / "playbooks", REPO_ROOT / "email_templates")
    wid, _ = await start_run(stack.client, stack.settings, catalog, acct, "retention-critical")
    await eventually(lambda: any(f"{wid}|urgent-approval" in str(m["blocks"]) for m in stack.slack.messages))
    ARTIFACTS.mkdir(exist_ok=True)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{stack.url}/inbox/login")
    await page.fill("#token", TOKENS["maria"])
    await page.click("button[type=submit]")
    card = page.locator(f"li.item[data-workflow='{wid}'][data-step='urgent-approval']")
    for _ in range(50):  # visibility catches up within moments
        if await card.count():
            break
        await page.wait_for_timeout(200)
        await page.reload()
    await expect(card.locator(".preview")).to_contain_text("URGENT: Let's Save Your AI Email Success")
    plan = card.get_by_label("Action plan")
    await expect(plan).to_have_value(
        "Today: An urgent call to review your account and agree on a recovery plan\n"
        "This Week: Daily check-ins while we fix the main issues together\n"
        "Next Week: Review the results together and update your success plan"
    )
    await expect(card.get_by_label("Issues")).to_have_value("campaign performance\nengagement\ndata quality")
    await plan.fill(
        "Today (Tue 2 Dec): Call with Ana about the bounce rate\n"
        "This Week (by Fri 5 Dec): Clean the list & re-sync <segments>\n"
        "Next Week (Wed 10 Dec): Review the results together"
    )
    await card.screenshot(path=str(ARTIFACTS / "inbox-edit-approval.png"))
    await card.get_by_role("button", name="Approve with edits").click()
    await expect(page.locator(".flash.ok")).to_contain_text("approve: 'urgent-approval' done by María García")

    key = f"{wid}/retention-critical/urgent-email"
    await eventually(lambda: stack.sendgrid.count_custom_arg("idempotency_key", key) == 1)
    (sent,) = [m for m in stack.sendgrid.messages_to("ana@acme.example") if key in str(m)]
    body = str(sent)
    assert "2. **This Week (by Fri 5 Dec)**: Clean the list & re-sync <segments>" in body
    assert "Clean the list &amp; re-sync &lt;segments&gt;" in body  # escaped in the HTML part
    await page.goto(f"{stack.url}/inbox/accounts/{acct.id}")
    row = page.locator("tr.outcome-approved", has_text="urgent-approval")
    await expect(row).to_contain_text("María García")
    await expect(row).to_contain_text("edited action plan")
    await expect(page.locator("tr.outcome-sent", has_text="urgent-email")).to_contain_text(
        "edited action plan by María García"
    )
    await page.screenshot(path=str(ARTIFACTS / "inbox-edit-timeline.png"), full_page=True)
    await stack.client.get_workflow_handle(wid).terminate("test done")


def test_without_chromium_on_path_the_browser_tests_skip_and_the_run_passes():
    """README line 2 on a machine with Python alone (the finding: '550 passed, 1 error'): the
    browser tests, run with a PATH that has no chromium and without CI, skip with the command
    that installs it, and pytest exits 0."""
    here = Path(__file__).parent
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's scripts only: no chromium
    files = [str(here / "test_inbox_browser.py"), str(here / "test_dashboard_browser.py")]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            *files,
            "-k",
            "not without_chromium",
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "SKIPPED" in done.stdout and "apt-get install chromium" in done.stdout, done.stdout[-3000:]
    assert " error" not in done.stdout.lower().split("short test summary")[-1].split("\n")[-2]
