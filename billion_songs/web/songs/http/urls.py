from django.urls import path, register_converter

from billion_songs.web.songs.http import abcjs, melody, views
from billion_songs.web.songs.http.converters import SongIdConverter

register_converter(SongIdConverter, "song_id")

app_name = "songs"
urlpatterns = [
    path("", views.RandomView.as_view(), name="home"),
    path("random", views.RandomView.as_view(), name="random"),
    path("song/<song_id:song_id>", views.SongView.as_view(), name="detail"),
    # The tune's files: the converter matches digits only, so these never reach SongView.
    path("song/<song_id:song_id>.mid", melody.TuneFileView.as_view(kind="mid"), name="midi"),
    path("song/<song_id:song_id>.kar", melody.TuneFileView.as_view(kind="kar"), name="kar"),
    path("song/<song_id:song_id>.abc", melody.TuneFileView.as_view(kind="abc"), name="abc"),
    path(f"melody/abcjs-{abcjs.VERSION}.min.js", melody.AbcjsView.as_view(), name="abcjs"),
    path("song/<song_id:song_id>/me", views.SongMeView.as_view(), name="me"),
    path("song/<song_id:song_id>/vote", views.SongVoteView.as_view(), name="vote"),
    path("song/<song_id:song_id>/suggestions", views.TitleSuggestionCreateView.as_view(), name="suggest"),
    path("suggestions/<int:suggestion_id>/vote", views.TitleSuggestionVoteView.as_view(), name="suggestion_vote"),
    path("api/songs/<song_id:song_id>", views.SongApiView.as_view(), name="api_detail"),
    path("healthz", views.HealthView.as_view(), name="health"),
]

charts = ([
    path("top", views.ChartView.as_view(chart="top"), name="top"),
    path("top/rated", views.ChartView.as_view(chart="rated"), name="rated"),
    path("top/week", views.ChartView.as_view(chart="week"), name="week"),
    path("top/mine", views.MyVotesView.as_view(), name="mine"),
], "charts")
