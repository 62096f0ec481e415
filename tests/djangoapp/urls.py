from django.urls import path

from tests.djangoapp import views

urlpatterns = [
    path("leaky/", views.leaky, name="leaky"),
    path("flat/", views.flat, name="flat"),
    path("async-leaky/", views.async_leaky, name="async-leaky"),
    path("boom/", views.boom, name="boom"),
    path("books/", views.books, name="books"),
]
