"""The team dashboard in a real browser: a manager signs in, follows the inbox's Dashboard link and
sees the KPIs and the server-drawn SVG charts (no script, nothing from a CDN: the CSP would block
it). Screenshots (laptop and phone) go to test-artifacts/."""

from __future__ import annotations

from e2e_helpers import TOKENS, account
from playwright.async_api import expect
from test_inbox_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)

from csrunner.services.journeys import deal_closed, push_nps, push_score


async def test_manager_sees_the_dashboard_with_its_charts(stack, browser):  # noqa: F811
    for score, nps in ((45, 3), (85, 10), (70, None)):
        acct = account()
        await deal_closed(stack.client, stack.settings, acct, f"deal-{acct.id}")
        await push_score(stack.client, stack.settings, acct.id, score=score, source="test")
        if nps is not None:
            await push_nps(stack.client, stack.settings, acct.id, nps)
    ARTIFACTS.mkdir(exist_ok=True)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.set_default_timeout(30_000)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(stack.url) else None)

    await page.goto(f"{stack.url}/inbox/login")
    await page.fill("#token", TOKENS["carlos"])
    await page.click("button[type=submit]")
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page).to_have_url(f"{stack.url}/inbox/dashboard")
    await expect(page.locator("h1")).to_have_text("Team dashboard")
    for _ in range(50):  # the journeys' scores reach visibility within moments
        if "critical" in await page.locator("#bands").inner_text():
            break
        await page.wait_for_timeout(200)
        await page.reload()
    kpis = page.locator("#kpis")
    await expect(kpis).to_contain_text("time to first value")
    await expect(kpis.locator("tr", has_text="renewals due")).to_contain_text("no data")
    await expect(page.locator("svg.chart")).to_have_count(4)
    trend = page.locator("#bands svg.chart")
    await expect(trend.locator("title").first).to_have_text("Accounts by band, last 12 weeks")
    assert await trend.locator("rect").count() >= 3  # columns for this week's bands + the legend
    await expect(page.locator("#nps svg.chart")).to_contain_text("target 70")
    await expect(page.locator("#plays")).to_contain_text("onboarding")
    box = await trend.bounding_box()
    assert box and box["width"] > 400 and box["height"] > 100  # drawn, not collapsed
    await page.screenshot(path=str(ARTIFACTS / "dashboard-laptop.png"), full_page=True)

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(page.locator("svg.chart")).to_have_count(4)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    assert blocked == [] and outside == []
