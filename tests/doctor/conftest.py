"""The DNS server and project fixtures (tests/doctor_fixtures.py). This folder is a package
(__init__.py) so that this conftest is `doctor.conftest`, not a second `conftest` module."""

from doctor_fixtures import site, zone  # noqa: F401 - pytest fixtures
