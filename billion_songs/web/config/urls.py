from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

from billion_songs.web.songs.http.urls import charts

urlpatterns = [
    path("", include("billion_songs.web.songs.http.urls")),
    path("", include(charts)),
    path("accounts/", include("billion_songs.web.accounts.urls")),
    path(settings.ADMIN_PATH, admin.site.urls),
    # The admin's CSS and JavaScript (song pages inline theirs), straight from the app
    # directories: no collectstatic step. A proxy in front may serve /static/ itself.
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
]
