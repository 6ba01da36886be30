"""The whole journey in Python: from a running server to a verified deposit receipt, a recorded
consent, a permitted access and a citizen's withdrawal, every receipt verified offline.

    python examples/journey.py [URL] [ADMIN_TOKEN_FILE]

URL defaults to $DATAPOLE_URL or http://127.0.0.1:8080; ADMIN_TOKEN_FILE to
$DATAPOLE_ADMIN_TOKEN_FILE or datapole-data/admin-token. Pin the log's key with
$DATAPOLE_VKEY (obtained out of band); without it, the server's key is used. Exits non-zero
if a step goes otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from datapole_client import Client, verify_document


def step(text: str) -> None:
    print(f"--- {text}")


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else os.environ.get("DATAPOLE_URL", "http://127.0.0.1:8080")
    token_file = (
        argv[2]
        if len(argv) > 2
        else os.environ.get("DATAPOLE_ADMIN_TOKEN_FILE", "datapole-data/admin-token")
    )
    admin = Client(url, token=Path(token_file).read_text().strip())
    client = Client(url, vkey=os.environ.get("DATAPOLE_VKEY"))
    vkey = client.log_vkey()
    receipts: list[tuple[str, Any]] = []

    step("the operator registers a depositor, a controller and an accessor")
    registry = admin.register_signer("Registre des cancers d'Occitanie", ["depositor"])
    hospital = admin.register_signer("CHU de Toulouse", ["controller"])
    lab = admin.register_signer("Laboratoire de recherche clinique", ["accessor"])
    for who in (registry, hospital, lab):
        p = client.participant(who.participant_id)
        receipts.append((f"registration of {p['name']}", client.receipt(p["index"])))
        print(f"{p['name']}: {who.participant_id} ({', '.join(p['roles'])})")

    step("the registry deposits a file for the hospital, privately, and verifies its receipt")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cohort.csv"
        data.write_bytes(b"patient,hba1c\nP-1042,7.9\nP-1043,6.1\n")
        deposit = client.deposit(
            registry,
            data,
            title="Cohorte diabète 2027",
            media_type="text/csv",
            visibility="private",
            extra={"controller": hospital.participant_id},
        )
    dataset = deposit["dataset_id"]
    report = verify_document(deposit, vkey)
    print(report)
    receipts.append(("deposit", deposit))
    receipts.append(("storage", deposit["object"]["custody"]))

    step("the hospital records a consent naming the lab")
    pseudonym = hmac.new(b"a key only the hospital holds", b"P-1042", hashlib.sha256).hexdigest()
    citizen = client.record_consent(
        hospital,
        {
            "subject_ref": f"hmac-sha256:{pseudonym}",
            "expressed_by": {"role": "self"},
            "indication_method": "web_form",
            "notice": {
                "url": "https://chu.example/notices/cohort-2027",
                "sha256": hashlib.sha256(b"the notice the patient read").hexdigest(),
                "version": "3",
                "language": "fr-FR",
            },
            "purposes": [{"code": "cohort-2027", "text": "Étude de cohorte sur le diabète"}],
            "legal_basis": "gdpr-9-2-a",
            "data_categories": ["health"],
            "special_category": True,
            "datasets": [dataset],
            "recipients": [lab.participant_id],
            "jurisdiction": "FR",
            "storage_location": "FR, certified health data host",
            "retention_period": "P5Y",
            "validity": {"duration": "P2Y"},
            "withdrawal_method": "https://chu.example/consents/withdraw",
            "decision": "given",
        },
    )
    print(f"consent {citizen['consent_id']}: {citizen['status']}")
    receipts.append(("consent (the citizen receipt)", citizen))

    access = {
        "dataset_id": dataset,
        "action": "query",
        "purpose": {"code": "cohort-2027"},
        "legal_basis": "consent",
        "consent_ids": [citizen["consent_id"]],
    }
    step("the lab asks to query the dataset under the consent: permitted")
    permit = client.request_access(lab, access)
    print(f"{permit['decision']} ({permit['reason']})")
    if permit["decision"] != "permit":
        return 1
    receipts.append(("access permit", permit))

    step("the citizen reads the consent with the secret of the receipt, then withdraws it")
    read = client.citizen_read(citizen)
    print(f"status {read['status']}, {len(read['events'])} event(s)")
    withdrawal = client.citizen_withdraw(citizen)
    print(f"status {withdrawal['status']}, initiated by the {withdrawal['initiated_by']}")
    receipts.append(("citizen withdrawal", withdrawal))

    step("the same access is now denied, and recorded")
    deny = client.request_access(lab, access)
    print(f"{deny['decision']} ({deny['reason']})")
    if deny["decision"] != "deny":
        return 1
    receipts.append(("access deny", deny))

    step("every receipt verifies offline with the log's key")
    bad = 0
    for name, doc in receipts:
        r = verify_document(doc, vkey)
        print(f"{'✓' if r.ok else '✗'} {name}: {', '.join(c.name for c in r.checks)}")
        bad += not r.ok
    print("journey complete" if not bad else f"{bad} receipt(s) did not verify")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
