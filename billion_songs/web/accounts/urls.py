from django.urls import path

from billion_songs.web.accounts import views

app_name = "accounts"
urlpatterns = [
    path("signup", views.SignUpView.as_view(), name="signup"),
    path("login", views.SignInView.as_view(), name="login"),
    path("logout", views.SignOutView.as_view(), name="logout"),
    path("profile", views.ProfileView.as_view(), name="profile"),
    path("password", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/changed", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
