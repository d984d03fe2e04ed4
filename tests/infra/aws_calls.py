"""Which AWS actions each function's code can call, read from the code itself.

Why a static reading and not a recording of calls under moto: a recording sees only the paths a
test happens to take (a multipart abort, a slot taken over, a failure written to the ledger are
each one rare branch), while every path of the code is in its source. The reading is
deliberately simple and errs towards finding more calls, never fewer:

- from a handler, follow every function, class and method its body names, through
  ``lambdas/bwp`` (a method is followed by name, on whatever object it is called);
- every call of a boto3 operation on the way (``s3.put_object(...)``, ``table.update_item(...)``,
  ``get_paginator("list_objects_v2")``) is the IAM actions that operation needs; so is every call
  of pyiceberg's catalog (``load_table``, ``create_table``, a transaction), which calls Glue.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"

# boto3 operation -> the IAM actions it needs (S3, DynamoDB, Secrets Manager: what the lake uses).
OPERATION_ACTIONS: dict[str, tuple[str, ...]] = {
    "get_object": ("s3:GetObject",),
    "head_object": ("s3:GetObject",),
    "put_object": ("s3:PutObject",),
    "copy_object": ("s3:GetObject", "s3:PutObject"),
    # The transfer manager's copy: HeadObject on the source, then CopyObject or, for a large
    # object, a multipart copy that is aborted if it fails.
    "copy": ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"),
    "delete_object": ("s3:DeleteObject",),
    "delete_objects": ("s3:DeleteObject",),
    "create_multipart_upload": ("s3:PutObject",),
    "upload_part": ("s3:PutObject",),
    "upload_part_copy": ("s3:GetObject", "s3:PutObject"),
    "complete_multipart_upload": ("s3:PutObject",),
    "abort_multipart_upload": ("s3:AbortMultipartUpload",),
    "list_parts": ("s3:ListMultipartUploadParts",),
    "list_multipart_uploads": ("s3:ListBucketMultipartUploads",),
    "list_objects": ("s3:ListBucket",),
    "list_objects_v2": ("s3:ListBucket",),
    "get_item": ("dynamodb:GetItem",),
    "put_item": ("dynamodb:PutItem",),
    "update_item": ("dynamodb:UpdateItem",),
    "delete_item": ("dynamodb:DeleteItem",),
    "query": ("dynamodb:Query",),
    "scan": ("dynamodb:Scan",),
    "batch_get_item": ("dynamodb:BatchGetItem",),
    "batch_write_item": ("dynamodb:BatchWriteItem",),
    "batch_writer": ("dynamodb:BatchWriteItem",),
    "transact_write_items": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ),
    "get_secret_value": ("secretsmanager:GetSecretValue",),
    "describe_secret": ("secretsmanager:DescribeSecret",),
    # pyiceberg's catalog, which calls Glue with the function's client (GlueCatalog): a table's
    # pointer read, created, or swapped by a commit (a transaction commits when its block ends).
    # Creating and committing first ask Glue whether the database is an S3 Tables one.
    "load_table": ("glue:GetTable",),
    "create_table": ("glue:GetDatabase", "glue:CreateTable", "glue:GetTable"),
    "transaction": ("glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"),
    "commit_transaction": ("glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"),
}
# The same operations on one version of an object (a function that names "VersionId" passes it):
# they need the version actions instead. HeadObject is how the version is learnt, so it stays.
VERSIONED_OPERATION_ACTIONS: dict[str, tuple[str, ...]] = {
    "get_object": ("s3:GetObjectVersion",),
    "delete_object": ("s3:DeleteObjectVersion",),
    "copy_object": ("s3:GetObjectVersion", "s3:PutObject"),
    "copy": ("s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload"),
}
# Not boto3, though named like it: pydantic's SecretStr.get_secret_value() reads a value in memory.
_IN_MEMORY = {("client", "get_secret_value")}


@dataclass
class _Definition:
    module: str
    node: ast.AST
    references: set[str] = field(default_factory=set)  # "module:name" or ".method"
    operations: set[str] = field(default_factory=set)


def _modules() -> dict[str, ast.Module]:
    modules = {
        ".".join(path.relative_to(LAMBDAS).with_suffix("").parts).removesuffix(".__init__"): ast.parse(path.read_text())
        for path in (LAMBDAS / "bwp").rglob("*.py")
    }
    for handler in LAMBDAS.glob("*/handler.py"):
        modules[f"{handler.parent.name}.handler"] = ast.parse(handler.read_text())
    return modules


def _imports(module: ast.Module, module_names: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(names imported from bwp modules -> "module:name", module aliases -> module)."""
    names, aliases = {}, {}
    # Anywhere in the module: a function may import what only it needs.
    for node in ast.walk(module):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bwp":
            for alias in node.names:
                if f"{node.module}.{alias.name}" in module_names:  # a module: from bwp.landing import raw
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                else:
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
    return names, aliases


def _definitions(modules: dict[str, ast.Module]) -> dict[str, _Definition]:
    definitions: dict[str, _Definition] = {}
    for name, module in modules.items():
        for node in module.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                definitions[f"{name}:{node.name}"] = _Definition(name, node)
            elif isinstance(node, ast.ClassDef):
                definitions[f"{name}:{node.name}"] = _Definition(name, node)
                for member in node.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        definitions[f"{name}:{node.name}.{member.name}"] = _Definition(name, member)
    for key, definition in definitions.items():
        names, aliases = _imports(modules[definition.module], set(modules))
        # A class's own node stands for its construction only: its methods are followed by name.
        body = (
            [definition.node]
            if not isinstance(definition.node, ast.ClassDef)
            else [member for member in definition.node.body if not isinstance(member, ast.FunctionDef)]
            + [
                member
                for member in definition.node.body
                if getattr(member, "name", "") in ("__init__", "__post_init__")
            ]
        )
        for node in (inner for root in body for inner in ast.walk(root)):
            if isinstance(node, ast.Name):
                if node.id in names:
                    definition.references.add(names[node.id])
                elif f"{definition.module}:{node.id}" in definitions:
                    definition.references.add(f"{definition.module}:{node.id}")
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and node.value.id in aliases:
                    definition.references.add(f"{aliases[node.value.id]}:{node.attr}")
                else:
                    definition.references.add(f".{node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                operation = node.func.attr
                receiver = node.func.value
                receiver_name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
                if operation == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    definition.operations.add(node.args[0].value)
                elif operation in OPERATION_ACTIONS and (receiver_name, operation) not in _IN_MEMORY:
                    definition.operations.add(operation)
        names_a_version = any(
            isinstance(node, ast.Constant) and node.value == "VersionId" for root in body for node in ast.walk(root)
        )
        if names_a_version:
            definition.operations = {
                f"{operation}@version" if operation in VERSIONED_OPERATION_ACTIONS else operation
                for operation in definition.operations
            }
        del key
    return definitions


def actions_by_step() -> dict[str, set[str]]:
    """Step -> every IAM action its handler's code can reach."""
    modules = _modules()
    definitions = _definitions(modules)
    steps = [name.removesuffix(".handler") for name in modules if name.endswith(".handler")]
    return {step: _reachable_actions(definitions, f"{step}.handler:handler") for step in steps}


def _reachable_actions(definitions: dict[str, _Definition], start: str) -> set[str]:
    """A method called on an object is followed on every class the code has reached by then
    (constructed, annotated or named): ``x.get()`` is a secret's read only where the credentials
    class is in play, and a dict's otherwise."""
    seen: set[str] = set()
    classes: set[str] = set()
    method_names: set[str] = set()
    stack, operations = [start], set()
    while stack:
        key = stack.pop()
        if key in seen or key not in definitions:
            continue
        seen.add(key)
        definition = definitions[key]
        operations |= definition.operations
        if isinstance(definition.node, ast.ClassDef):
            classes.add(key)
            stack.extend(f"{key}.{name}" for name in method_names)
        for reference in definition.references:
            if reference.startswith("."):
                method_names.add(reference[1:])
                stack.extend(f"{cls}{reference}" for cls in classes)
            else:
                stack.append(reference)
    return {action for operation in operations for action in _actions(operation)}


def _actions(operation: str) -> tuple[str, ...]:
    name, _, versioned = operation.partition("@")
    return VERSIONED_OPERATION_ACTIONS[name] if versioned else OPERATION_ACTIONS[name]
