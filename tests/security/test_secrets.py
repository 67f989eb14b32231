"""Resolved `${VAR}` secrets never leave FlowStone unmasked: not in any output format, not in the
metadata file, not under `.flowstone/`, not in notification payloads, in any spelling (raw, or
JSON-escaped with and without `ensure_ascii`)."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from tests.approvals.webhook_server import WebhookServer
from tests.cli_runner import run_cli

# Three `${VAR}` secrets of flowstone.toml, recognised two ways: variables named like a credential
# with KEY in the middle of the name (in fields whose names say nothing), and a credential field
# of a [resources.*] section whose variable name says nothing. The third holds `"`, `\` and non-ASCII characters.
SECRETS = {"STRIPE_KEY_LIVE": "sk_live_4f9Zq81Lm",
           "SIGNING_KEY_PEM": "MIIBOgIBAAJBAKj34GkxFhD",
           "API_PW": 'Pa"ss\\wörd-7Q'}


def spellings(secret: str) -> set[str]:
    """Every way the secret may appear in bytes we read back."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}
    return forms


def assert_clean(where: str, data: bytes | str) -> None:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    raw = data if isinstance(data, bytes) else data.encode()
    for secret in SECRETS.values():
        for form in spellings(secret):
            assert form not in text, f"{where} holds {form!r}"
            assert form.encode() not in raw, f"{where} holds {form!r} (bytes)"
        # The UTF-16 / latin-1 byte forms would be unusual but are cheap to rule out too.
        assert secret.encode("latin-1", errors="ignore") not in raw or \
            secret.encode("latin-1", errors="ignore") == secret.encode(), where


def make_project(tmp_path: Path, executor: str = "inline") -> Path:
    project = tmp_path / "vault"
    (project / "assets").mkdir(parents=True)
    (project / "lib").mkdir()
    (project / "lib" / "__init__.py").write_text("")
    (project / "flowstone.toml").write_text(dedent("""
        [project]
        name = "vault"

        [executor]
        type = "EXECUTOR"

        [resources.api]
        type = "lib.api:Api"
        account = "${STRIPE_KEY_LIVE}"
        signer = "${SIGNING_KEY_PEM}"
        password = "${API_PW}"

        [notifications.reviewers]
        type = "webhook"
        url = "${REVIEW_URL}"
        """).replace("EXECUTOR", executor))
    (project / "lib" / "api.py").write_text(dedent("""
        from flowstone_cli import Resource


        class Api(Resource):
            account: str
            signer: str
            password: str
        """))
    (project / "assets" / "vault.py").write_text(dedent("""
        from flowstone_cli import Output, asset, checkpoint


        def all_secrets(context):
            api = context.resources.api
            return [api.account, api.signer, api.password]


        @asset(io_manager="json", requires=["api"])
        def leaky(context):
            a, b, c = all_secrets(context)
            context.log.info(f"using {a} {b} {c}")
            return Output({"title": "report", "note": f"{a}|{b}|{c}"},
                          metadata={"a": a, "b": b, "c": c, "nested": {"all": [a, b, c]},
                                    c: "as a key"})


        @checkpoint(notify=["reviewers"])
        def review(context, leaky):
            return True


        @asset(io_manager="json")
        def after(review):
            return review


        @asset(requires=["api"])
        def broken(context):
            a, b, c = all_secrets(context)
            raise RuntimeError(f"could not log in with {a} / {b} / {c}")
        """))
    return project


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_three_secrets_never_appear_in_any_output_file_or_payload(tmp_path: Path,
                                                                  executor: str) -> None:
    project = make_project(tmp_path, executor)
    with WebhookServer() as server:
        env = {**SECRETS, "REVIEW_URL": server.url}
        p = ["-p", str(project)]
        outputs = {
            "materialize text": run_cli(*p, "materialize", "*", env=env),
            "materialize --json": run_cli(*p, "materialize", "*", "--json", env=env),
            "materialize --log-format json": run_cli(*p, "--log-format", "json", "materialize",
                                                     "leaky", "broken", "--force", env=env),
        }
        assert outputs["materialize text"].code in (1, 3), outputs["materialize text"].stderr
        runs = run_cli(*p, "runs", "list", "--json", env=env).json()
        for run in runs[:3]:
            rid = run["run_id"]
            outputs[f"runs show {rid}"] = run_cli(*p, "runs", "show", rid, env=env)
            outputs[f"runs show --json {rid}"] = run_cli(*p, "runs", "show", rid, "--json",
                                                         env=env)
            outputs[f"runs logs {rid}"] = run_cli(*p, "runs", "logs", rid, env=env)
            outputs[f"runs logs --json {rid}"] = run_cli(*p, "runs", "logs", rid, "--json",
                                                         env=env)
        pending = run_cli(*p, "checkpoints", "list", "--json", env=env)
        outputs["checkpoints list --json"] = pending
        request = pending.json()[0]["request_id"]
        outputs["checkpoints show"] = run_cli(*p, "checkpoints", "show", request, env=env)
        outputs["checkpoints show --json"] = run_cli(*p, "checkpoints", "show", request,
                                                     "--json", env=env)
        outputs["show leaky --json"] = run_cli(*p, "show", "leaky", "--json", env=env)
        outputs["status --json"] = run_cli(*p, "status", "--json", env=env)
        outputs["approve --json"] = run_cli(*p, "approve", request, "--json", env=env)
        report = tmp_path / "report.html"
        outputs["report"] = run_cli(*p, "report", "--output", str(report), env=env)
        assert report.exists(), outputs["report"].stderr
        assert_clean("report.html", report.read_bytes())
        outputs["tick"] = run_cli(*p, "tick", env=env)

    for name, result in outputs.items():
        assert_clean(f"{name} stdout", result.stdout)
        assert_clean(f"{name} stderr", result.stderr)
    # The outputs did carry the masked facts: redaction happened, not an absence of data.
    assert "***" in outputs["materialize --json"].stdout
    assert "***" in outputs["materialize --log-format json"].stderr
    assert "***" in outputs["checkpoints show --json"].stdout

    assert server.raw, "the checkpoint notification was not delivered"
    for body in server.raw:
        assert_clean("webhook body", body)
    assert "***" in server.raw[0].decode()

    metadata = project / "data" / "flowstone.duckdb"
    assert_clean("metadata file", metadata.read_bytes())
    wal = metadata.with_name(metadata.name + ".wal")
    if wal.exists():
        assert_clean("metadata WAL", wal.read_bytes())
    for path in (project / ".flowstone").rglob("*") if (project / ".flowstone").exists() else ():
        if path.is_file():
            assert_clean(str(path), path.read_bytes())
    # Stored values other than the asset's own value (which the user asked to store) are clean:
    # the checkpoint's value is a copy, the step metadata and previews are in the metadata file.
    for path in (project / "data").rglob("*"):
        if path.is_file() and path.name not in ("leaky.json", "after.json", "review.json"):
            assert_clean(str(path), path.read_bytes())
