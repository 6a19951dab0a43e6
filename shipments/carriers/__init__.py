"""Carrier adapters behind one interface (``base.Adapter``); ``adapter_for`` builds the one a
carrier account is configured with, reading its secret from the environment at call time."""

import os

from shipments.carriers.base import Adapter, CarrierError
from shipments.carriers.easypost import EasyPostAdapter, EasyPostTransport
from shipments.carriers.sandbox import SandboxAdapter
from shipments.models import Carrier, CarrierAdapter


def adapter_for(carrier: Carrier) -> Adapter:
    if carrier.adapter == CarrierAdapter.SANDBOX:
        return SandboxAdapter(carrier.options)
    if carrier.adapter == CarrierAdapter.EASYPOST:
        api_key = os.environ.get(carrier.credentials_env, "") if carrier.credentials_env else ""
        return EasyPostAdapter(
            EasyPostTransport(api_key, timeout=float(carrier.options.get("timeout_seconds", 15))),
            carrier.options,
        )
    raise CarrierError(f"Carrier {carrier.code} has no adapter '{carrier.adapter}'.", code="not_configured")


def webhook_module(carrier: Carrier):
    """The module that verifies and reads this carrier's webhooks (``verify_webhook``, ``parse_webhook``)."""
    from shipments.carriers import easypost, sandbox

    modules = {CarrierAdapter.SANDBOX: sandbox, CarrierAdapter.EASYPOST: easypost}
    if carrier.adapter not in modules:
        raise CarrierError(f"Carrier {carrier.code} takes no webhooks.", code="not_configured")
    return modules[carrier.adapter]
