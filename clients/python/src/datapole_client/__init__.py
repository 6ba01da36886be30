"""A client of the datapole transparency log, and an independent verifier of its receipts and
custody chains.

- `Client`: register participants, deposit files (resumable uploads), record consents, request
  accesses, act as a citizen with a consent's secret, fetch receipts, download content.
- `verify_document` / `verify_receipt`: offline verification of a receipt file, reporting named
  checks; `verify_custody`: a dataset's custody chain.
"""

from .client import (
    ApiError,
    Client,
    FieldError,
    Signer,
    VerificationError,
    fresh,
    generate_key,
    load_key,
    public_key_b64,
    sha256_file,
)
from .custody import verify_custody
from .verify import Check, Report, verify_document, verify_receipt

__all__ = [
    "ApiError",
    "Check",
    "Client",
    "FieldError",
    "Report",
    "Signer",
    "VerificationError",
    "fresh",
    "generate_key",
    "load_key",
    "public_key_b64",
    "sha256_file",
    "verify_custody",
    "verify_document",
    "verify_receipt",
]
