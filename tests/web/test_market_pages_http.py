"""The trading hall's pages over plain HTTP: who sees which post and which forms (a receiver whose licences do not
cover a code never sees its post; a regulator reads without a single form), the code filter, and the weight
budget of every hall page."""

from __future__ import annotations

import re

from tests.web import market_world
from tests.web.test_pages_http import page_client, weigh_pages

HTML = {"Accept": "text/html"}


def forms(html: str) -> set[str]:
    """The API paths the page's forms write to."""
    return set(re.findall(r'data-api="([^"]+)"', html))


def test_who_sees_which_post_and_which_forms(app, client, admin, session):
    b = market_world.build(client, admin, session)
    p_open, p_second, p_deal = b["open"]["id"], b["second"]["id"], b["deal_post"]["id"]
    base = "/api/v1/market/posts"

    # A receiver licensed for HW49 only: no oil post on its hall page, and each post's page is a 404.
    wrong = page_client(app, b["wrong"]["user"])
    html = wrong.get("/market", headers=HTML).text
    assert "废机油" not in html and "废液压油" not in html and "/market/" + str(p_open) not in html
    assert "目前没有本单位许可证覆盖的发布" in html
    for pid in (p_open, p_second, p_deal):
        r = wrong.get(f"/market/{pid}", headers=HTML)
        assert r.status_code == 404 and "未找到" in r.text and "废机油" not in r.text
    assert wrong.get(f"/market?code={market_world.OTHER}", headers=HTML).text.count('class="card post-card"') == 0

    # The licensed receiver nearby: both open posts, fitting, with distance; the deal it won among its answers.
    near = page_client(app, b["near"]["user"])
    html = near.get("/market", headers=HTML).text
    matching = html.split('id="matching"')[1].split('id="answered"')[0]
    assert f'data-post="{p_open}"' in matching and f'data-post="{p_second}"' in matching
    assert f'data-post="{p_deal}"' not in matching and f'data-post="{p_deal}"' in html.split('id="answered"')[1]
    assert "✓ 能力够" in matching and "距离 <strong class=\"dist\">8.4</strong> km" in matching
    # its page of the post it answered: its own offer (replace, withdraw), not the collector's
    html = near.get(f"/market/{p_open}", headers=HTML).text
    assert forms(html) == {f"{base}/{p_open}/offers",
                           f"{base}/{p_open}/offers/{b['open_offers']['near']}/withdraw"}
    assert "两周内上门" not in html and "替换报价" in html
    # the code filter
    html = near.get(f"/market?code={market_world.OTHER}", headers=HTML).text
    assert f'data-post="{p_second}"' in html and f'data-post="{p_open}"' not in html
    r = near.get("/market?code=999-999-99", headers=HTML)
    assert r.status_code == 200 and 'id="filter-error"' in r.text and f'data-post="{p_open}"' in r.text

    # The producer's administrator: every offer with an accept form, the photo and withdraw forms.
    g = page_client(app, b["g"]["user"])
    html = g.get(f"/market/{p_open}", headers=HTML).text
    offers = b["open_offers"]
    assert forms(html) == {f"{base}/{p_open}/offers/{offers['col']}/accept", f"{base}/{p_open}/offers/{offers['near']}/accept",
                           f"{base}/{p_open}/withdraw", f"{base}/{p_open}/photos"}
    assert "两周内上门" in html.replace("&lt;", "<") and "自动生成上门收集订单" in html
    assert market_world.XSS not in html and "&lt;script&gt;" in html  # escaped, never markup
    # its operator posts and sees the offers, but a deal files a plan version: the administrator accepts
    op = page_client(app, b["g"]["operator"])
    html = op.get(f"/market/{p_open}", headers=HTML).text
    assert forms(html) == {f"{base}/{p_open}/withdraw", f"{base}/{p_open}/photos"} and "须由单位管理员办理" in html
    assert op.get("/market/new", headers=HTML).status_code == 200
    # the deal: the plan version, the draft manifest
    html = g.get(f"/market/{p_deal}", headers=HTML).text
    assert 'id="deal"' in html and 'id="deal-manifest"' in html and f"/api/v1/units/{b['g']['id']}/plans" in html
    assert not forms(html)

    # The regulator reads everything in its region, offers included, and is given no form at all.
    reg = page_client(app, b["reg"])
    html = reg.get("/market", headers=HTML).text
    assert all(f'data-post="{p}"' in html for p in (p_open, p_second, p_deal)) and not forms(html)
    assert 'href="/market/new"' not in html and 'aria-current="page">交易大厅' in html  # inside the console
    for pid in (p_open, p_deal):
        html = reg.get(f"/market/{pid}", headers=HTML).text
        assert not forms(html) and 'id="read-only"' in html
        assert "接受此报价" not in html and "accept-form" not in html and 'id="offer-form"' not in html and 'id="photo-form"' not in html
    assert "两周内上门" in reg.get(f"/market/{p_open}", headers=HTML).text.replace("&lt;", "<")
    assert reg.get("/market/new", headers=HTML).status_code == 403

    # The collector: an offer form on a post it has not answered yet.
    col = page_client(app, b["col"]["user"])
    html = col.get(f"/market/{p_second}", headers=HTML).text
    assert forms(html) == {f"{base}/{p_second}/offers"} and "R9" in html
    assert col.get("/market/new", headers=HTML).status_code == 403  # a collector without the generator role


def test_every_hall_page_weighs_under_100_kb(app, client, admin, session):
    weigh_pages(app, market_world.build(client, admin, session)["pages"])


def test_the_unit_page_and_the_navigation_link_the_hall(app, client, admin, session):
    b = market_world.build(client, admin, session)
    g = page_client(app, b["g"]["user"])
    html = g.get(f"/unit/{b['g']['id']}", headers=HTML).text
    assert 'id="market-link"' in html and '<a href="/market"' in html
    # on /market the manifests entry (/m) is not the current page
    html = g.get("/market", headers=HTML).text
    assert 'href="/m" aria-current' not in html and 'href="/market" aria-current="page"' in html
