from django.urls import include, path

urlpatterns = [
    path("", include("billion_songs.web.songs.urls")),
]
