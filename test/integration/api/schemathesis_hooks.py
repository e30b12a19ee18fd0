"""schemathesis hooks for the API fuzz test (test/integration/api/schemathesis.test.ts).

With SUPERVISOR_FUZZ_STRANGER=1 (the run without a token) every answer must be 401: no route,
method or parameter may tell a stranger anything else (not 404, 405, 400 or 414).
"""
import os

import schemathesis


@schemathesis.check
def stranger_gets_401(ctx, response, case):
    if os.environ.get("SUPERVISOR_FUZZ_STRANGER") != "1":
        return None
    if response.status_code != 401:
        raise AssertionError(
            f"{case.method} {case.path} without a token answered {response.status_code}, expected 401"
        )
    return None
