from django.contrib.auth import views as auth_views
from django.urls import include, path

from tests.staffapp import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("heapwatch/", include("heapwatch.django.urls")),
    path("grow/", views.grow, name="grow"),
    path("flat/", views.flat, name="flat"),
]
