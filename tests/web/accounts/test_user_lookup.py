"""The signed-in user is read by one written-out SELECT (accounts/backends.py), not a
compiled queryset, and finds exactly what Django's ModelBackend finds: the same user
with the same field values, nobody for a missing, malformed or inactive one; a session
still ends when its user changes password or is deactivated. On SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.sql import compiler
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billion_songs.web.accounts.backends import ThrottledModelBackend
from tests.web.songs.on_postgresql import rerun_on_postgresql

pytestmark = pytest.mark.django_db

PASSWORD = "a tune in the night 42"
FIELDS = [field.attname for field in User._meta.concrete_fields]


@pytest.fixture
def ann():
    user = User.objects.create_user("ann", email="ann@example.com", password=PASSWORD, first_name="Ann",
                                    last_name="Ô'Brien", is_staff=True)
    user.last_login = timezone.now() - timedelta(days=3, microseconds=17)
    user.save()
    return user


def test_the_user_read_is_the_one_modelbackend_reads(ann):
    ours = ThrottledModelBackend().get_user(ann.pk)
    django = ModelBackend().get_user(ann.pk)
    assert type(ours) is User and ours.pk == ann.pk
    for name in FIELDS:
        assert getattr(ours, name) == getattr(django, name), name
        assert type(getattr(ours, name)) is type(getattr(django, name)), name
    assert ours.last_login.tzinfo is not None  # an aware datetime, converted on SQLite as the ORM does
    assert not ours._state.adding and ours._state.db == "default"
    # A real instance: it saves, and its session hash is the one Django computes.
    assert ours.get_session_auth_hash() == django.get_session_auth_hash()
    ours.first_name = "Anne"
    ours.save()
    assert User.objects.get(pk=ann.pk).first_name == "Anne"


def test_one_query_and_no_queryset_compiled(ann, monkeypatch):
    compiled = []
    real = compiler.SQLCompiler.execute_sql
    monkeypatch.setattr(compiler.SQLCompiler, "execute_sql",
                        lambda self, *a, **k: compiled.append(self.query.model) or real(self, *a, **k))
    with CaptureQueriesContext(connection) as queries:
        user = ThrottledModelBackend().get_user(ann.pk)
    assert user == ann
    assert len(queries) == 1 and "WHERE" in queries[0]["sql"]
    assert compiled == []  # fails with ModelBackend.get_user, which compiles QuerySet.get()


@pytest.mark.parametrize("user_id", [987654, None, "not a number"])
def test_nobody_for_a_missing_or_malformed_id(ann, user_id):
    assert ThrottledModelBackend().get_user(user_id) is None


def test_nobody_for_an_inactive_user(ann):
    User.objects.filter(pk=ann.pk).update(is_active=False)
    assert ThrottledModelBackend().get_user(ann.pk) is None
    assert ModelBackend().get_user(ann.pk) is None


def _signed_in(ann) -> Client:
    client = Client()
    assert client.post("/accounts/login", {"username": "ann", "password": PASSWORD}).status_code == 302
    assert client.get("/accounts/profile").status_code == 200
    return client


def test_a_password_change_elsewhere_signs_this_session_out(ann):
    client = _signed_in(ann)
    user = User.objects.get(pk=ann.pk)
    user.set_password("another tune entirely 43")
    user.save()
    assert client.get("/accounts/profile").status_code == 302  # to the sign-in page
    assert SESSION_KEY not in client.session


def test_a_deactivated_user_is_signed_out(ann):
    client = _signed_in(ann)
    User.objects.filter(pk=ann.pk).update(is_active=False)
    assert client.get("/accounts/profile").status_code == 302


def test_auth_get_user_gives_the_signed_in_user(ann, rf):
    client = _signed_in(ann)
    request = rf.get("/")
    request.session = client.session
    assert get_user(request) == ann


def test_the_same_on_postgresql():
    rerun_on_postgresql(__file__)
