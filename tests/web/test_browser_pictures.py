"""The pictures in a real browser (Debian's Chromium via Playwright, as tests/web/test_browser.py):
each renders (its SVG inline in the page has marks; its table opens), with no console error and no request
off the host; screenshots go to test-artifacts/pictures-*.png for review.
"""

from __future__ import annotations

import pytest

from tests.web.test_browser import ARTIFACTS, browser, watched  # noqa: F401  (fixtures: same browser, same checks)

pytestmark = [pytest.mark.browser]

# (page, picture ids on it, what the SVGs must contain)
PAGES = [
    ("/", ["pic-timeline", "pic-meetings"]),
    ("/doc/person/ahmad-massoud.html", ["pic-timeline", "pic-who-says-what", "pic-meetings"]),
    ("/doc/event/planned-dushanbe-talks.html", ["pic-timeline", "pic-who-says-what", "pic-meetings"]),
]
MARKS = "a circle, a path, a rect, a line"


def _svg_marks(page, figure_id: str) -> int:
    """How many linked marks the picture's SVG (inline in the page) holds."""
    svg = page.locator(f"#{figure_id} div.picture-svg svg").first
    svg.scroll_into_view_if_needed()
    return svg.evaluate(f"s => s.querySelectorAll('{MARKS}').length")


@pytest.mark.parametrize("path,figures", PAGES)
def test_pictures_render_on_pages(watched, path, figures):
    page = watched.page
    assert page.goto(watched.origin + path).status == 200
    for figure_id in figures:
        assert _svg_marks(page, figure_id) > 0, f"{figure_id} on {path} drew nothing"
        box = page.locator(f"#{figure_id} div.picture-svg svg").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100  # the SVG's own size, not a 300x150 default
        table = page.locator(f"#{figure_id} details.picture-table")
        table.locator("summary").click()  # the same content as a table, without JavaScript
        assert table.locator("table tbody tr").count() > 0
    page.locator("#pictures").scroll_into_view_if_needed()
    watched.shot("pictures-" + (path.strip("/").replace("/", "-").replace(".html", "") or "home"))
    watched.clean()


@pytest.mark.parametrize("path", ["/contested", "/pictures/timeline", "/pictures/meetings",
                                  "/pictures/who-says-what?about=https%3A%2F%2Fw3id.org%2Farkg%2Fid%2Fevent%2Ftehran-meeting"])
def test_picture_pages_render_inline_with_table(watched, path):
    page = watched.page
    assert page.goto(watched.origin + path).status == 200
    svg = page.locator("figure.picture svg").first
    assert svg.is_visible()
    assert svg.locator("a").count() > 0
    page.locator("details.picture-table summary").first.click()
    assert page.locator("details.picture-table table tbody tr").count() > 0
    watched.shot("pictures-page-" + path.split("?")[0].strip("/").replace("/", "-"))
    watched.clean()


def test_a_mark_links_to_its_claim(watched):
    page = watched.page
    page.goto(watched.origin + "/contested")
    link = page.locator("figure.picture svg a[href*='/doc/claim/']").first
    href = link.get_attribute("href")
    assert page.goto(href).status == 200 and "/doc/claim/" in page.url
    watched.clean()
