"""Every hypothesis test of the unit tier draws the same examples on every run and keeps no
example database: a failure then shows on every machine and in CI, not once in a while (a
property test once met a TypeError on one random input only). A test's own `@settings` may
raise its example count; it inherits this profile for the rest."""
from hypothesis import settings

settings.register_profile("orkestra", derandomize=True, database=None)
settings.load_profile("orkestra")
