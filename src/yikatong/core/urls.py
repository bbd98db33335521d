from django.urls import path

from yikatong.core.views import auth, home

app_name = "core"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
]
