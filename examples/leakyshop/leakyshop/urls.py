from django.urls import path

from shop import views

urlpatterns = [
    path("dump/", views.dump, name="dump"),
    path("dump/fixed/", views.dump_fixed, name="dump-fixed"),
    path("page/", views.page, name="page"),
]
