"""cdk-nag acknowledgments: one rule (or one finding of a rule) on one construct, with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PLUGIN = "AwsSolutions"  # the validation plugin's name, which prefixes the ids it reports


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """``rule`` is a rule id or ``RuleId[finding]``; it applies to ``scope`` and its children only."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PLUGIN}::{rule}", reason=reason))
