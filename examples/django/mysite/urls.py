from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("hello/<str:name>", views.hello),
    path("api/items", views.items),
    path("form", views.form),
    path("counter", views.counter),
    path("stream", views.stream),
    path("download", views.download),
    path("old", views.old),
]
