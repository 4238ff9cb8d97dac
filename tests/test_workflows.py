"""The GitHub Actions workflows, checked offline: against GitHub's workflow JSON schema (the copy
vendored in check-jsonschema, no network) and for what our delivery promises (checks before
previews, a preview per stack with the policy pack, OIDC instead of keys, least privilege,
prod behind a protected environment)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
STACKS = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+|[0-9a-f]{40})$")
# A `uses:` line pinned to a full commit, the version it is in a comment (release.yml's style).
PINNED_TO_COMMIT = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
OFFICIAL_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
    "aws-actions/configure-aws-credentials",
    "pulumi/actions",
}


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    return {"on" if key is True else str(key): value for key, value in document.items()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in steps(job) if str(s.get("uses", "")).split("@")[0] == action]
    assert len(matches) == 1, f"{len(matches)} steps use {action}"
    return matches[0]


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_id, job in load(path.name)["jobs"].items():
            yield path.name, job_id, job


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


# --- Schema validation (offline) --------------------------------------------------------------


def _check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("check_jsonschema") is None:
        if os.environ.get("CI"):
            pytest.fail("check-jsonschema is not installed (requirements.txt)")
        pytest.skip("check-jsonschema is not installed")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} == {
        "checks.yml",
        "pull-request.yml",
        "deploy.yml",
        "release.yml",
    }


def test_workflows_match_the_github_workflow_schema() -> None:
    result = _check_jsonschema(*WORKFLOW_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        (WORKFLOWS / "pull-request.yml")
        .read_text()
        .replace("id-token: write", "id-token: writ")
        .replace("runs-on:", "run-on:", 1)
    )
    result = _check_jsonschema(broken)
    assert result.returncode != 0
    assert "writ" in result.stdout


# --- Hygiene of every workflow ----------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_official_and_pinned(path: Path) -> None:
    used = [
        str(step["uses"])
        for job in load(path.name)["jobs"].values()
        for step in steps(job)
        if "uses" in step
    ]
    assert used, f"{path.name} uses no action"
    for ref in used:
        assert PINNED.match(ref), f"{path.name}: {ref} is pinned to neither a major nor a commit"
        assert ref.split("@")[0] in OFFICIAL_ACTIONS, f"{path.name}: unexpected action {ref}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_permissions_are_least_privilege(path: Path) -> None:
    workflow = load(path.name)
    assert workflow["permissions"] in ({}, {"contents": "read"}), "top-level permissions"
    for job_id, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{job_id}: explicit permissions"
        assert set(permissions.values()) <= {"read", "write", "none"}
        writes = {scope for scope, level in permissions.items() if level == "write"}
        # Only the release's publishing job writes the repository (its releases).
        publishes = (path.name, job_id) == ("release.yml", "publish")
        allowed = {"id-token", "pull-requests"} | ({"contents"} if publishes else set())
        assert writes <= allowed, f"{job_id}: writes {writes}"
        if "id-token" in writes:
            step_using(job, "aws-actions/configure-aws-credentials")
        if "pull-requests" in writes:
            assert step_using(job, "pulumi/actions")["with"]["comment-on-pr"] is True


def test_no_long_lived_aws_keys_anywhere() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text().lower()
        for needle in ("aws-access-key-id", "aws_access_key_id", "aws-secret-access-key"):
            assert needle not in text, f"{path.name} mentions {needle}"


def test_every_aws_login_assumes_a_role_through_oidc() -> None:
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                assert step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}", job_id
                assert job["permissions"]["id-token"] == "write", f"{name}:{job_id}"
                assert "environment" in job, f"{name}:{job_id}: the role comes from an environment"


def test_python_setup_caches_pip() -> None:
    for _, job_id, job in all_jobs():
        # Jobs that install packages; release.yml's tag gate needs none.
        if not re.search(r"\b(make|pip)\b", runs(job)):
            continue
        setup = step_using(job, "actions/setup-python")["with"]
        assert setup["cache"] == "pip", job_id
        assert "requirements.txt" in setup["cache-dependency-path"], job_id


def test_every_pulumi_run_uses_the_policy_pack_and_the_token_secret() -> None:
    pulumi_steps = [
        (job_id, job, step)
        for _, job_id, job in all_jobs()
        for step in steps(job)
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]
    assert len(pulumi_steps) == 3
    for job_id, job, step in pulumi_steps:
        assert step["with"]["policyPacks"] == "policy_pack", job_id
        assert (ROOT / step["with"]["policyPacks"] / "PulumiPolicy.yaml").is_file()
        json.loads((ROOT / step["with"]["policyPackConfigs"]).read_text())
        assert step["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}
        assert step["with"]["stack-name"].startswith("${{ vars.PULUMI_ORG }}/"), job_id
        # The program's .venv (Pulumi.yaml) and the pack's venv (PulumiPolicy.yaml) exist first.
        assert "make .venv/.installed" in runs(job), job_id
        assert "policy_pack/venv/bin/pip install" in runs(job), job_id


# --- Pull requests: checks, then a preview of every stack -------------------------------------


def test_checks_run_the_same_make_targets_as_ci() -> None:
    checks = load("checks.yml")
    assert "workflow_call" in checks["on"]
    (job,) = checks["jobs"].values()
    commands = [str(s["run"]) for s in steps(job) if "run" in s]
    assert commands == ["make lint", "make test", "make test-plugin"]
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert re.findall(r"^make \S+$", ci_script, re.MULTILINE) == ["make install", *commands]


def test_pull_requests_preview_every_stack_after_the_checks() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}
    jobs = workflow["jobs"]
    assert jobs["checks"]["uses"] == "./.github/workflows/checks.yml"

    preview = jobs["preview"]
    assert preview["needs"] == "checks"
    assert sorted(preview["strategy"]["matrix"]["stack"]) == STACKS == ["byo-vpc", "dev", "prod"]
    assert preview["strategy"]["fail-fast"] is False
    # Previews never use the deploy environments (no approval, read-only role).
    assert preview["environment"] == "preview-${{ matrix.stack }}"
    assert preview["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    pulumi = step_using(preview, "pulumi/actions")["with"]
    assert pulumi["command"] == "preview"
    assert pulumi["stack-name"] == "${{ vars.PULUMI_ORG }}/${{ matrix.stack }}"
    assert pulumi["comment-on-pr"] is True
    assert "head.repo.full_name == github.repository" in preview["if"]


# --- main: up dev, then prod behind a protected environment ----------------------------------


def test_main_deploys_dev_then_prod_behind_approval() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["checks"]["uses"] == "./.github/workflows/checks.yml"

    dev, prod = jobs["up-dev"], jobs["up-prod"]
    assert dev["needs"] == "checks"
    assert prod["needs"] == "up-dev"
    assert dev["environment"] == "dev"
    assert prod["environment"] == "production"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        pulumi = step_using(job, "pulumi/actions")["with"]
        assert pulumi["command"] == "up"
        assert pulumi["stack-name"] == f"${{{{ vars.PULUMI_ORG }}}}/{stack}"
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


# --- Tags: the release ------------------------------------------------------------------------


def test_a_release_is_a_version_tag_that_names_the_version_and_passes_every_check() -> None:
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    jobs = workflow["jobs"]
    assert list(jobs) == ["tag", "checks", "build", "publish"]
    # The gate first (tools/release.py, tested in tests/test_release.py), then every check.
    assert 'python3 tools/release.py "$GITHUB_REF_NAME"' in runs(jobs["tag"])
    assert jobs["checks"]["needs"] == "tag"
    assert jobs["checks"]["uses"] == "./.github/workflows/checks.yml"
    assert jobs["build"]["needs"] == "checks"
    assert jobs["publish"]["needs"] == "build"


def test_the_release_publishes_the_wheel_the_sdist_and_the_schema() -> None:
    jobs = load("release.yml")["jobs"]
    build, publish = jobs["build"], jobs["publish"]
    # Built with the locked setuptools and build, not whatever PyPI serves that day.
    assert "make .venv/.installed" in runs(build)
    assert ".venv/bin/python -m build --no-isolation --outdir dist ." in runs(build)
    assert 'tools/release.py "$GITHUB_REF_NAME" --notes dist/release-notes.md' in runs(build)
    upload = step_using(build, "actions/upload-artifact")["with"]
    assert upload["path"].split() == ["dist/", "components/schema.json"]
    assert step_using(publish, "actions/download-artifact")["with"]["name"] == upload["name"]

    # The one job with a write token runs no code of the repository: no checkout, only gh.
    assert publish["permissions"] == {"contents": "write"}
    assert [str(s.get("uses", "")).split("@")[0] for s in steps(publish) if "uses" in s] == [
        "actions/download-artifact"
    ]
    [release] = [s for s in steps(publish) if "run" in s]
    assert release["env"] == {"GH_TOKEN": "${{ github.token }}"}
    command = " ".join(release["run"].replace("\\\n", " ").split())
    assert command.startswith('gh release create "$GITHUB_REF_NAME" ')
    assert "--verify-tag" in command
    assert "--notes-file dist/release-notes.md" in command
    assert command.endswith("dist/*.whl dist/*.tar.gz components/schema.json")


def test_the_release_pins_every_action_to_a_commit() -> None:
    lines = (WORKFLOWS / "release.yml").read_text().splitlines()
    uses = [line for line in lines if re.match(r"^\s*(- )?uses: ", line)]
    local = [line for line in uses if "uses: ./" in line]
    assert local == ["    uses: ./.github/workflows/checks.yml"]
    assert [line for line in uses if line not in local and not PINNED_TO_COMMIT.match(line)] == []


# --- Bootstrap documentation ------------------------------------------------------------------


def test_the_documented_trust_policy_binds_the_role_to_this_repos_environment() -> None:
    policy = json.loads((ROOT / "docs" / "oidc-trust-policy.json").read_text())
    (statement,) = policy["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    conditions = statement["Condition"]["StringEquals"]
    assert conditions["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert conditions["token.actions.githubusercontent.com:sub"] == (
        "repo:ORG/REPO:environment:production"
    )


def test_the_ci_guide_covers_every_environment_the_workflows_use() -> None:
    guide = (ROOT / "docs" / "ci.md").read_text()
    environments = {"production", "dev"} | {f"preview-{stack}" for stack in STACKS}
    for _, job_id, job in all_jobs():
        if "environment" in job:
            name = str(job["environment"]).replace("${{ matrix.stack }}", "dev")
            assert name in environments, job_id
    for name in (*environments, "PULUMI_ACCESS_TOKEN", "PULUMI_ORG", "AWS_ROLE_ARN"):
        assert name in guide, name
    assert "pulumi preview --policy-pack policy_pack" in guide
