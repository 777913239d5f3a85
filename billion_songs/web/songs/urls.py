from django.urls import path, register_converter

from billion_songs.web.songs import views
from billion_songs.web.songs.converters import SongIdConverter

register_converter(SongIdConverter, "song_id")

app_name = "songs"
urlpatterns = [
    path("", views.RandomView.as_view(), name="home"),
    path("random", views.RandomView.as_view(), name="random"),
    path("song/<song_id:song_id>", views.SongView.as_view(), name="detail"),
    path("song/<song_id:song_id>/me", views.SongMeView.as_view(), name="me"),
    path("api/songs/<song_id:song_id>", views.SongApiView.as_view(), name="api_detail"),
    path("healthz", views.HealthView.as_view(), name="health"),
]
