"""The example Django project."""
