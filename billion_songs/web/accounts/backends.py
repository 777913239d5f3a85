"""Django's ModelBackend behind the sign-in throttle (throttle.py). As the only
authentication backend, it covers every sign-in form, the admin's included.

Each attempt is counted before the password is checked. A refused attempt leaves its
reason on the request (`signin_refused`: "throttled" or "unavailable"), where the sign-in
forms (forms.py) find it to say why.

`get_user`, which every signed-in request calls through the session (a vote above all),
reads the user with one written-out SELECT by primary key instead of compiling a
queryset: the same row, the same model instance (`from_db`), the same refusal of an
inactive user. Django's own check of the session's password hash (auth.get_user) runs
on that instance as before, so a password change still signs out other sessions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, models, router

from billion_songs.web.accounts import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None:  # not a web sign-in (a management command, a test helper)
            return super().authenticate(request, username=username, password=password, **kwargs)
        try:
            allowed = throttle.signin_attempt(request, username or "")
        except throttle.ThrottleUnavailable:
            request.signin_refused = "unavailable"
            raise PermissionDenied("the sign-in throttle cannot count") from None  # authenticate() returns None
        if not allowed:
            request.signin_refused = "throttled"
            raise PermissionDenied("too many failed sign-ins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            throttle.signin_succeeded(request, username or "")
        return user

    def get_user(self, user_id):
        model = get_user_model()
        if type(model._default_manager).get_queryset is not models.Manager.get_queryset:
            return super().get_user(user_id)  # a manager that filters: keep Django's query
        using = router.db_for_read(model)
        connection = connections[using]
        try:
            pk = model._meta.pk.get_db_prep_value(model._meta.pk.to_python(user_id), connection)
        except (ValidationError, TypeError, ValueError):
            return None  # a malformed id finds nobody
        sql, columns, attnames = _user_select(model, connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, col in enumerate(columns):
            # The converters the ORM applies to each value (SQLite's datetimes and
            # booleans, for one); none on PostgreSQL for Django's user.
            for converter in connection.ops.get_db_converters(col) + col.get_db_converters(connection):
                values[index] = converter(values[index], col, connection)
        user = model.from_db(using, attnames, values)
        return user if self.user_can_authenticate(user) else None


_selects: dict[tuple, tuple[str, tuple, list[str]]] = {}


def _user_select(model, connection) -> tuple[str, tuple, list[str]]:
    """The user row's SELECT by primary key, its columns (as the ORM's Col expressions)
    and their attribute names: built once per user model and database vendor."""
    key = (model, connection.vendor)
    found = _selects.get(key)
    if found is None:
        quote = connection.ops.quote_name
        table = model._meta.db_table
        fields = model._meta.concrete_fields
        sql = (f"SELECT {', '.join(quote(field.column) for field in fields)} FROM {quote(table)} "
               f"WHERE {quote(model._meta.pk.column)} = %s")
        found = _selects[key] = (sql, tuple(field.get_col(table) for field in fields),
                                 [field.attname for field in fields])
    return found
