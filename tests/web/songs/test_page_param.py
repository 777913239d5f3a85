"""My votes' `page` parameter: ASCII digits only, within a cap; anything else is a clear
400 or 404, never a 500 (a huge page used to overflow the database's OFFSET)."""

import pytest
from django.contrib.auth.models import User

from billion_songs.web.songs.http.views import MyVotesView
from tests.support.songs import store, votes
from tests.web.songs.on_postgresql import rerun_on_postgresql


@pytest.fixture
def signed_in(client, db):
    client.force_login(User.objects.create_user("ann", password="pw"))
    return client


@pytest.mark.parametrize("page", ["١٢٣", "+3", "1_0", " 2", "2 ", "-1", "0", "1.0", "", "0x10", "²"])
def test_a_page_that_is_not_plain_ascii_digits_is_a_400(signed_in, page):
    response = signed_in.get("/top/mine", {"page": page})
    assert response.status_code == 400
    assert b"page" in response.content.lower()
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("page", [str(MyVotesView.max_page + 1), "9" * 30, str(2**63)])
def test_a_page_past_the_cap_is_a_404_not_an_offset_overflow(signed_in, page):
    response = signed_in.get("/top/mine", {"page": page})
    assert response.status_code == 404


def test_plain_pages_still_work(signed_in):
    store(3)
    votes(3, 1)
    assert signed_in.get("/top/mine").status_code == 200
    assert signed_in.get("/top/mine", {"page": "1"}).status_code == 200
    assert signed_in.get("/top/mine", {"page": "007"}).status_code == 200
    assert signed_in.get("/top/mine", {"page": str(MyVotesView.max_page)}).status_code == 200


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
