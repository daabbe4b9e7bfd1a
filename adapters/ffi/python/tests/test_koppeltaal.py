"""The Python wrapper over the C ABI: verification, every kind of refusal with its code,
replay, threads, producing tokens, and bad arguments."""

import base64
import json
import os
import pathlib
import re
import threading

import pytest

import koppeltaal
from koppeltaal import KoppeltaalError, Verifier

ISSUER = "https://portal.example.org"
AUDIENCE = "Device/42"
DEFINITION = "https://module.example.org/ActivityDefinition/1"
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def portal():
    pem = koppeltaal.generate_key("RS512", 2048)
    return pem, koppeltaal.jwks_from_pem(pem)


def launch(pem, audience=AUDIENCE, issuer=ISSUER, now=NOW, **extra):
    return koppeltaal.launch_token(pem, issuer, audience, "Practitioner/a5e58253", "Task/11", DEFINITION, now=now, **extra)


def test_a_launch_verifies_and_its_claims_come_back(portal):
    pem, jwks = portal
    with Verifier(jwks, issuer=ISSUER, audience=AUDIENCE) as verifier:
        claims = verifier.verify(launch(pem, patient="Patient/1", intent="plan"), now=NOW + 5)
    assert claims["resource"] == "Task/11"
    assert claims["patient"] == "Patient/1"
    assert claims["intent"] == "plan"
    assert claims["exp"] - claims["iat"] == 300
    assert json.loads(jwks)["keys"][0]["alg"] == "RS512"


def test_a_launch_is_accepted_once(portal):
    pem, jwks = portal
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    token = launch(pem)
    verifier.verify(token, now=NOW + 5)
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(token, now=NOW + 6)
    assert (refused.value.code, refused.value.name, refused.value.message) == (600, "Replayed", "token has been used before")
    assert str(refused.value) == "Replayed (600): token has been used before"


@pytest.mark.parametrize(
    "make, now, code",
    [
        (lambda pem: "not a token", NOW, 101),
        (lambda pem: "eyJhbGciOiJub25lIn0.e30.", NOW, 300),
        (lambda pem: launch(pem), NOW + 1000, 503),
        (lambda pem: launch(pem, audience="Device/7"), NOW + 5, 502),
        (lambda pem: launch(pem, issuer="https://other.example.org"), NOW + 5, 400),
        (lambda pem: launch(koppeltaal.generate_key("ES256")), NOW + 5, 302),
    ],
    ids=["malformed", "alg none", "expired", "other audience", "other issuer", "algorithm not allowed"],
)
def test_each_refusal_carries_its_code(portal, make, now, code):
    pem, jwks = portal
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(make(pem), now=now)
    assert refused.value.code == code


def test_a_forged_signature_is_refused(portal):
    pem, jwks = portal
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    genuine, other = launch(pem), launch(pem)
    forged = genuine.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(forged, now=NOW + 5)
    assert refused.value.code == 408


def test_settings_and_a_second_issuer(portal):
    pem, jwks = portal
    ec_pem = koppeltaal.generate_key("ES256")
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    verifier.allow_algorithm("ES256")
    verifier.add_issuer("https://other.example.org", koppeltaal.jwks_from_pem(ec_pem))
    assert verifier.verify(launch(ec_pem, issuer="https://other.example.org"), now=NOW + 5)["iss"] == "https://other.example.org"
    verifier.set_leeway(2000)
    assert verifier.verify(launch(pem), now=NOW + 1000)["aud"] == AUDIENCE
    with pytest.raises(KoppeltaalError) as refused:
        verifier.allow_algorithm("HS512")
    assert refused.value.code == 300
    with pytest.raises(KoppeltaalError) as refused:
        verifier.set_max_lifetime(0)
    assert refused.value.code == 1002


def test_eight_threads_one_token_one_acceptance(portal):
    pem, jwks = portal
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    token = launch(pem)
    barrier, outcomes = threading.Barrier(8), []

    def present():
        barrier.wait()
        try:
            verifier.verify(token, now=NOW + 5)
            outcomes.append("accepted")
        except KoppeltaalError as error:
            outcomes.append(error.code)

    threads = [threading.Thread(target=present) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [600] * 7 + ["accepted"]


def test_client_assertions_carry_the_smart_claims(portal):
    pem, _ = portal
    assertion = koppeltaal.client_assertion(pem, "my-client", "https://auth.example.org/token", now=NOW)
    payload = assertion.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["iss"], claims["sub"], claims["aud"]) == ("my-client", "my-client", "https://auth.example.org/token")
    assert claims["exp"] - claims["iat"] == 120
    assert len(claims["jti"]) == 36


def test_bad_arguments_are_errors_not_crashes(portal):
    _, jwks = portal
    with pytest.raises(KoppeltaalError) as refused:
        Verifier(jwks, issuer=None, audience=AUDIENCE)
    assert refused.value.code == 1000
    with pytest.raises(KoppeltaalError) as refused:
        Verifier(jwks, issuer=b"\xff\xfe", audience=AUDIENCE)
    assert refused.value.code == 1001
    with pytest.raises(KoppeltaalError) as refused:
        Verifier("{}", issuer=ISSUER, audience=AUDIENCE)
    assert refused.value.code == 700
    with pytest.raises(KoppeltaalError) as refused:
        koppeltaal.launch_token("not a key", ISSUER, AUDIENCE, "Patient/1", "Task/1", DEFINITION)
    assert refused.value.code == 909
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    verifier.close()
    with pytest.raises(ValueError):
        verifier.verify("a.b.c")
    assert koppeltaal.status_message(123456) == "unknown status"
    assert koppeltaal.status_name(123456) == "Unknown"
    with pytest.raises(TypeError):
        Verifier(42, issuer=ISSUER, audience=AUDIENCE)


def test_the_constructor_takes_the_settings(portal):
    pem, jwks = portal
    ec_pem = koppeltaal.generate_key("ES256")
    verifier = Verifier(
        json.loads(koppeltaal.jwks_from_pem(ec_pem)), issuer=ISSUER, audience=AUDIENCE,
        algorithms=["ES256"], leeway=2000, max_lifetime=120, replay_capacity=2,
    )
    claims = verifier.verify(launch(ec_pem, lifetime=120), now=NOW + 1500)
    assert claims["exp"] - claims["iat"] == 120
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(launch(ec_pem, lifetime=121), now=NOW + 5)
    assert refused.value.name == "LifetimeTooLong"
    with pytest.raises(KoppeltaalError) as refused:
        Verifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["none"])
    assert (refused.value.code, refused.value.name) == (300, "ForbiddenAlgorithm")


def test_the_documentation_examples_run():
    import doctest

    failures, attempted = doctest.testmod(koppeltaal)
    assert (failures, attempted > 5) == (0, True)


def test_names_are_those_of_the_c_header():
    header = (pathlib.Path(__file__).resolve().parents[2] / "include" / "koppeltaal.h").read_text()
    defined = dict(re.findall(r"#define KOPPELTAAL_(\w+) (\d+)", header))
    assert defined["REPLAYED"] == "600"
    for constant, code in defined.items():
        name = koppeltaal.status_name(int(code))
        assert re.sub(r"(?<!^)([A-Z])", r"_\1", name).upper() == constant, (constant, name)


def test_the_installed_package_carries_its_library():
    """Run by CI against the wheel `pip install ./adapters/ffi/python` built (with
    KOPPELTAAL_TEST_INSTALLED=1); from a source tree it has nothing to check."""
    if not os.environ.get("KOPPELTAAL_TEST_INSTALLED"):
        pytest.skip("KOPPELTAAL_TEST_INSTALLED is not set: testing a source tree, not an installed wheel")
    package = pathlib.Path(koppeltaal.__file__).resolve().parent
    assert "site-packages" in package.parts, package
    assert "KOPPELTAAL_LIB" not in os.environ
    assert pathlib.Path(koppeltaal.LIBRARY_PATH).resolve().parent == package
    assert (package / "py.typed").is_file()


@pytest.fixture
def redis_server():
    """A real redis-server on a free loopback port (Debian package; .ci/run installs it)."""
    import shutil
    import socket
    import subprocess
    import time

    assert shutil.which("redis-server"), "redis-server is not installed (apt install redis-server; .ci/run does)"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    yield process, f"redis://127.0.0.1:{port}/"
    process.kill()
    process.wait()


def test_verifiers_sharing_redis_accept_a_launch_once(portal, redis_server):
    pem, jwks = portal
    process, url = redis_server
    first, second = (Verifier(jwks, issuer=ISSUER, audience=AUDIENCE) for _ in range(2))
    for verifier in (first, second):
        verifier.use_redis(url, prefix="python-test:")
    token = launch(pem, now=koppeltaal.unix_time())
    first.verify(token)
    with pytest.raises(KoppeltaalError) as refused:
        second.verify(token)
    assert refused.value.code == 600

    process.kill()
    process.wait()
    with pytest.raises(KoppeltaalError) as refused:
        second.verify(launch(pem, now=koppeltaal.unix_time()))
    assert (refused.value.code, refused.value.message) == (913, "replay store unavailable")


def test_use_redis_with_options_names_the_cause_and_requires_replicas(portal, redis_server):
    pem, jwks = portal
    process, url = redis_server
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(KoppeltaalError) as refused:
        verifier.use_redis("redis://a:1,b:2/")
    assert refused.value.code == 901 and "several hosts" in refused.value.detail
    with pytest.raises(KoppeltaalError) as refused:
        verifier.use_redis("redis://127.0.0.1:1/", check_now=True)
    assert refused.value.code == 913 and "connection refused" in refused.value.detail
    # A replica acknowledgement that cannot come: refused, and the launch stays recorded.
    verifier.use_redis(url, prefix="python-replicas:", min_replicas=1, replica_timeout_ms=100, check_now=True)
    token = launch(pem, now=koppeltaal.unix_time())
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(token)
    assert refused.value.code == 913
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(token)
    assert refused.value.code == 600


def test_an_encrypted_launch_is_decrypted_then_verified_once(portal):
    pem, jwks = portal
    module = koppeltaal.generate_key("RS512")
    signed = launch(pem, now=koppeltaal.unix_time())
    token = koppeltaal.encrypt_launch(signed, module, "RSA-OAEP", "A128CBC-HS256")
    assert token.count(".") == 4
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert (header["alg"], header["enc"], header["cty"]) == ("RSA-OAEP", "A128CBC-HS256", "JWT")
    verifier = Verifier(jwks, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(token)
    assert refused.value.code == 102
    verifier.add_decryption_key(module)
    assert verifier.verify(token)["resource"] == "Task/11"
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(token)
    assert refused.value.code == 600
    stranger = koppeltaal.generate_key("RS512")
    other = koppeltaal.encrypt_launch(launch(pem, now=koppeltaal.unix_time()), stranger)
    with pytest.raises(KoppeltaalError) as refused:
        verifier.verify(other)
    assert refused.value.code == 409  # named (kid) for a key this module does not hold


def test_the_readme_example_prints_the_resource_then_the_replay_code():
    import subprocess
    import sys

    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "replay.py"
    run = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout == "Task/11\n600 Replayed\n"
