"""The DNS server and project fixtures live in tests/doctor_fixtures.py."""

from doctor_fixtures import site, zone  # noqa: F401
