"""The README's example: a portal's launch verified once, then refused as a replay (600)."""
import koppeltaal

pem = koppeltaal.generate_key("RS512")  # the portal's key; a module gets only its JWKS
token = koppeltaal.launch_token(pem, "https://portal.example.org", "Device/42", "Patient/1", "Task/11",
                                "https://module.example.org/ActivityDefinition/1")
verifier = koppeltaal.Verifier(koppeltaal.jwks_from_pem(pem), issuer="https://portal.example.org", audience="Device/42")
print(verifier.verify(token)["resource"])  # Task/11
try:
    verifier.verify(token)
except koppeltaal.KoppeltaalError as refusal:
    print(refusal.code, refusal.name)  # 600 Replayed
