"""Validates FHIR R4 resources, one JSON object per line on stdin, with fhir.resources.

Prints one line per resource: `ok`, or `invalid: <the validator's errors on one line>`.
Exits 0 when every resource is valid, 1 otherwise.
"""

import json
import sys

from fhir.resources import construct_fhir_element

failed = False
for line in sys.stdin:
    if not line.strip():
        continue
    resource = json.loads(line)
    try:
        construct_fhir_element(resource["resourceType"], resource)
        print("ok")
    except Exception as error:  # the validator's own error types vary by version
        failed = True
        print("invalid: " + " | ".join(str(error).splitlines()))
sys.exit(1 if failed else 0)
