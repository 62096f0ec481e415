"""A small Django project with django-debug-toolbar and HeapWatchPanel, for
tests/test_django_panel.py (run in subprocesses: its settings are not the
test session's)."""
