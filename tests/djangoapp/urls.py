from django.urls import path

from tests.djangoapp import views

urlpatterns = [
    path("leaky/", views.leaky, name="leaky"),
    path("flat/", views.flat, name="flat"),
    path("async-leaky/", views.async_leaky, name="async-leaky"),
    path("boom/", views.boom, name="boom"),
    path("books/", views.books, name="books"),
    path("garbage/", views.garbage, name="garbage"),
    path("response-held/", views.response_held, name="response-held"),
    path("cache-once/", views.cache_once, name="cache-once"),
    path("slow/", views.slow, name="slow"),
    path("mocked/", views.mocked, name="mocked"),
    path("fragment/", views.fragment, name="fragment"),
    path("ring/", views.ring, name="ring"),
    path("ring-trim/", views.ring_trim, name="ring-trim"),
]
