"""The GitHub Actions workflows, checked offline: against GitHub's workflow JSON schema (the copy
vendored in check-jsonschema, no network) and for what our delivery promises (checks before
previews, a preview per stack with the policy pack, OIDC instead of stored credentials, least
privilege per job, actions pinned to commits, prod behind a protected environment, and nothing
a pull request's code can use to write anywhere)."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
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

# `uses: owner/repo@<40-hex commit> # vX.Y.Z`: the commit is what runs, the comment says which
# release it is (Dependabot moves both). Reusable workflows of this repository: `$/...`.
PINNED_USES = re.compile(
    r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)"
    r"@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)$"
)
ANY_USES = re.compile(r"^\s*(?:- )?uses:")
OFFICIAL_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/upload-artifact",
    "actions/download-artifact",
    "aws-actions/configure-aws-credentials",
    "pulumi/actions",
    "pulumi/auth-actions",
}
PULUMI_TEAM_TOKEN = {
    "organization": "${{ vars.PULUMI_ORG }}",
    "requested-token-type": "urn:pulumi:token-type:access_token:team",
    "scope": "team:${{ vars.PULUMI_TEAM }}",
}
# Every job's GITHUB_TOKEN and OIDC permissions, and the environment whose protection rules and
# trust policies bound what its OIDC token buys (docs/ci.md).
JOBS: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {
    ("checks.yml", "checks"): ({"contents": "read"}, None),
    ("pull-request.yml", "checks"): ({"contents": "read"}, None),
    ("pull-request.yml", "preview"): (
        {"contents": "read", "id-token": "write", "pull-requests": "write"},
        "preview-${{ matrix.stack }}",
    ),
    ("deploy.yml", "checks"): ({"contents": "read"}, None),
    ("deploy.yml", "up-dev"): ({"contents": "read", "id-token": "write"}, "dev"),
    ("deploy.yml", "up-prod"): ({"contents": "read", "id-token": "write"}, "production"),
    ("release.yml", "tag"): ({"contents": "read"}, None),
    ("release.yml", "checks"): ({"contents": "read"}, None),
    ("release.yml", "build"): ({"contents": "read"}, None),
    ("release.yml", "publish"): ({"contents": "write"}, None),
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


def _check_jsonschema(
    *paths: Path, schema: str = "vendor.github-workflows"
) -> subprocess.CompletedProcess[str]:
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
            schema,
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


def pinned_actions(path: Path) -> list[re.Match[str]]:
    """Every `uses:` line of a workflow that names an action, each pinned as PINNED_USES says
    (the version comments are not in the parsed YAML, so the text is read)."""
    lines = [line for line in path.read_text().splitlines() if ANY_USES.match(line)]
    actions = [line for line in lines if "$/" not in line]
    pinned = [m for line in actions if (m := PINNED_USES.match(line)) is not None]
    assert len(pinned) == len(actions), f"{path.name}: not pinned to a commit: " + ", ".join(
        line.strip() for line in actions if not PINNED_USES.match(line)
    )
    return pinned


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_actions_are_official_and_pinned_to_a_commit_with_its_version(path: Path) -> None:
    pinned = pinned_actions(path)
    used = [
        str(step["uses"])
        for job in load(path.name)["jobs"].values()
        for step in steps(job)
        if "uses" in step
    ]
    assert used, f"{path.name} uses no action"
    assert sorted(used) == sorted(f"{m['action']}@{m['sha']}" for m in pinned)
    for match in pinned:
        assert match["action"] in OFFICIAL_ACTIONS, f"{path.name}: unexpected {match['action']}"
    for job_id, job in load(path.name)["jobs"].items():
        if "uses" in job:
            assert str(job["uses"]).startswith("$/.github/workflows/"), job_id


def test_each_action_runs_one_commit_everywhere() -> None:
    """One release of each action across the workflows: a bump is reviewed once, in one place."""
    versions: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOW_FILES:
        for match in pinned_actions(path):
            versions.setdefault(match["action"], set()).add((match["sha"], match["version"]))
    assert versions.keys() <= OFFICIAL_ACTIONS
    assert {action: len(pins) for action, pins in versions.items()} == dict.fromkeys(versions, 1)


def test_the_pin_check_rejects_a_tag_a_short_sha_and_a_missing_version(tmp_path: Path) -> None:
    source = (WORKFLOWS / "checks.yml").read_text()
    pin = "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0"
    assert pin in source
    for broken in (
        "actions/checkout@v5",
        "actions/checkout@fbc6f39 # v5.1.0",
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09",
    ):
        workflow = tmp_path / "checks.yml"
        workflow.write_text(source.replace(pin, broken))
        with pytest.raises(AssertionError, match="not pinned to a commit"):
            pinned_actions(workflow)


def test_every_job_has_its_documented_permissions_and_environment() -> None:
    jobs = {(name, job_id): job for name, job_id, job in all_jobs()}
    assert jobs.keys() == JOBS.keys(), "a new job declares its permissions in JOBS"
    for key, (permissions, environment) in JOBS.items():
        assert jobs[key]["permissions"] == permissions, key
        assert jobs[key].get("environment") == environment, key
    for path in WORKFLOW_FILES:
        assert load(path.name)["permissions"] == {}, f"{path.name}: top-level permissions"


def test_an_oidc_token_is_only_minted_in_an_environment() -> None:
    """AWS and Pulumi Cloud trust a job's OIDC token by the environment it names (the `sub`
    claim); without one, the token would name a branch or a pull request instead."""
    for name, job_id, job in all_jobs():
        exchanges = [
            s
            for s in steps(job)
            if str(s.get("uses", "")).split("@")[0]
            in ("aws-actions/configure-aws-credentials", "pulumi/auth-actions")
        ]
        if job.get("permissions", {}).get("id-token") == "write":
            assert exchanges, f"{name}:{job_id} asks for an OIDC token it does not use"
        if exchanges:
            assert job["permissions"]["id-token"] == "write", f"{name}:{job_id}"
            assert "environment" in job, f"{name}:{job_id}: the trust names an environment"
        if job.get("permissions", {}).get("pull-requests") == "write":
            assert step_using(job, "pulumi/actions")["with"]["comment-on-pr"] is True


def test_no_long_lived_aws_keys_anywhere() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text().lower()
        for needle in ("aws-access-key-id", "aws_access_key_id", "aws-secret-access-key"):
            assert needle not in text, f"{path.name} mentions {needle}"


def test_every_aws_login_assumes_a_role_through_oidc() -> None:
    for _, job_id, job in all_jobs():
        for step in steps(job):
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                assert step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}", job_id


def secrets_used(path: Path) -> list[str]:
    """Every reference to the secrets context, including `secrets: inherit`."""
    text = path.read_text()
    return re.findall(r"secrets\s*(?:\.[\w-]+|\[[^\]]*\])", text) + re.findall(
        r"secrets:\s*inherit", text
    )


def test_no_workflow_uses_a_stored_secret() -> None:
    """GitHub's OIDC token buys every credential. A pull request can rewrite the workflow it
    runs, so a repository secret would be its to read whatever the workflow says: there must be
    none to ask for (docs/ci.md, "What a pull request's code can reach")."""
    assert {path.name: secrets_used(path) for path in WORKFLOW_FILES} == {
        path.name: [] for path in WORKFLOW_FILES
    }


def test_the_secret_check_sees_every_form(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text(
        "env:\n  A: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n  B: ${{ secrets['X'] }}\n"
        "jobs:\n  c:\n    secrets: inherit\n"
    )
    assert secrets_used(workflow) == [
        "secrets.PULUMI_ACCESS_TOKEN",
        "secrets['X']",
        "secrets: inherit",
    ]


def test_python_setup_caches_pip_except_where_a_release_is_built() -> None:
    for name, job_id, job in all_jobs():
        # Jobs that install packages; release.yml's tag gate needs none.
        if not re.search(r"\b(make|pip)\b", runs(job)):
            continue
        setup = step_using(job, "actions/setup-python")["with"]
        if name == "release.yml":
            # What is published is built without a cache another ref could have written.
            assert "cache" not in setup, job_id
            continue
        assert setup["cache"] == "pip", job_id
        assert "requirements.txt" in setup["cache-dependency-path"], job_id


def test_every_pulumi_run_uses_the_policy_pack_and_a_short_lived_team_token() -> None:
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
        assert "env" not in step, f"{job_id}: the token comes from pulumi/auth-actions"
        assert step["with"]["stack-name"].startswith("${{ vars.PULUMI_ORG }}/"), job_id
        # The team token of the job's environment, minted just before the run and lasting no
        # longer than the job may.
        login = step_using(job, "pulumi/auth-actions")
        assert steps(job).index(login) == steps(job).index(step) - 1, job_id
        token = dict(login["with"])
        assert 0 < token.pop("token-expiration") <= job["timeout-minutes"] * 60, job_id
        assert token == PULUMI_TEAM_TOKEN, job_id
        # The program's .venv (Pulumi.yaml) and the pack's venv (PulumiPolicy.yaml) exist first.
        assert "make .venv/.installed" in runs(job), job_id
        assert "policy_pack/venv/bin/pip install" in runs(job), job_id


# --- Pull requests: checks, then a preview of every stack -------------------------------------


def test_checks_run_the_same_make_targets_as_ci() -> None:
    checks = load("checks.yml")
    assert "workflow_call" in checks["on"]
    (job,) = checks["jobs"].values()
    commands = [str(s["run"]) for s in steps(job) if "run" in s]
    assert commands == ["make lint", "make test", "make test-plugin", "make scan"]
    ci_script = (ROOT / ".ci" / "run").read_text()
    assert re.findall(r"^make \S+$", ci_script, re.MULTILINE) == ["make install", *commands]


def test_pull_requests_preview_every_stack_after_the_checks() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}
    jobs = workflow["jobs"]
    assert jobs["checks"]["uses"] == "$/.github/workflows/checks.yml"

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
    # A refresh would act with the provider settings stored in the state: the deploy roles.
    assert not pulumi.get("refresh"), "no refresh in a preview"
    # Forks and Dependabot get no OIDC token: their pull requests run the checks only.
    assert "head.repo.full_name == github.repository" in preview["if"]
    assert "github.actor != 'dependabot[bot]'" in preview["if"]


# --- main: up dev, then prod behind a protected environment ----------------------------------


def test_main_deploys_dev_then_prod_behind_approval() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["checks"]["uses"] == "$/.github/workflows/checks.yml"

    dev, prod = jobs["up-dev"], jobs["up-prod"]
    assert dev["needs"] == "checks"
    assert prod["needs"] == "up-dev"
    for job, stack in ((dev, "dev"), (prod, "prod")):
        pulumi = step_using(job, "pulumi/actions")["with"]
        assert pulumi["command"] == "up"
        assert pulumi["stack-name"] == f"${{{{ vars.PULUMI_ORG }}}}/{stack}"
        assert job["concurrency"] == {"group": f"pulumi-up-{stack}", "cancel-in-progress": False}


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
    assert jobs["checks"]["uses"] == "$/.github/workflows/checks.yml"
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


ACTION_CATALOG = ROOT / "tests" / "iam" / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


def access_levels(actions: str | list[str]) -> dict[str, str]:
    """Every catalog action a policy's Action or NotAction names (wildcards expanded), with its
    access level (Read, List, Write, Permissions management, Tagging)."""
    if not ACTION_CATALOG.is_dir():
        if os.environ.get("CI"):
            pytest.fail("the IAM action catalog is not installed (make install)")
        pytest.skip("the IAM action catalog is not installed (make install)")
    levels: dict[str, str] = {}
    for pattern in [actions] if isinstance(actions, str) else actions:
        service, name = pattern.lower().split(":")
        catalog = json.loads((ACTION_CATALOG / "actions" / f"{service}.json").read_text())
        matched = {
            f"{service}:{action}": spec["accessLevel"]
            for action, spec in catalog.items()
            if fnmatch.fnmatchcase(action, name)
        }
        assert matched, f"{pattern} names no action"
        levels |= matched
    return levels


def document(name: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads((ROOT / "docs" / name).read_text())
    return policy


def test_the_partners_previewer_can_only_read() -> None:
    """What a pull request's preview may do in the partner account (docs/ci.md): Read and List
    actions, and a deny of every other action that no policy attached later can lift."""
    statements = document("partner-previewer-policy.json")["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert all("Action" in s and "NotAction" not in s for s in allowed)
    levels = {a: lvl for s in allowed for a, lvl in access_levels(s["Action"]).items()}
    assert set(levels.values()) <= {"Read", "List"}, levels
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Resource"] == "*"
    assert "Condition" not in deny
    assert set(access_levels(deny["NotAction"])) == set(levels)


def test_the_partners_deployer_trusts_no_preview_role() -> None:
    def trusted(name: str) -> set[str]:
        principals = set()
        for statement in document(name)["Statement"]:
            assert statement["Effect"] == "Allow"
            assert statement["Action"] == "sts:AssumeRole"
            aws = statement["Principal"]["AWS"]
            principals |= {aws} if isinstance(aws, str) else set(aws)
        return principals

    account = "arn:aws:iam::111111111111:role"
    assert trusted("partner-deployer-trust-policy.json") == {f"{account}/ci-deployer"}
    assert trusted("partner-previewer-trust-policy.json") == {f"{account}/datalake-preview-prod"}


def test_the_ci_guide_covers_every_environment_and_variable_the_workflows_use() -> None:
    guide = (ROOT / "docs" / "ci.md").read_text()
    environments = {"production", "dev"} | {f"preview-{stack}" for stack in STACKS}
    for _, job_id, job in all_jobs():
        if "environment" in job:
            name = str(job["environment"]).replace("${{ matrix.stack }}", "dev")
            assert name in environments, job_id
    variables = {v for path in WORKFLOW_FILES for v in re.findall(r"vars\.(\w+)", path.read_text())}
    assert variables == {"AWS_ROLE_ARN", "AWS_REGION", "PULUMI_ORG", "PULUMI_TEAM"}
    for name in (*environments, *variables):
        assert f"`{name}`" in guide, name
    assert "pulumi preview --policy-pack policy_pack" in guide


# --- Dependabot and the offline audit ---------------------------------------------------------


def test_dependabot_keeps_the_pinned_actions_current() -> None:
    config = ROOT / ".github" / "dependabot.yml"
    result = _check_jsonschema(config, schema="vendor.dependabot")
    assert result.returncode == 0, result.stdout + result.stderr
    updates = yaml.safe_load(config.read_text())["updates"]
    [actions] = [u for u in updates if u["package-ecosystem"] == "github-actions"]
    assert actions["directory"] == "/"


def lint_zizmor_command() -> list[str]:
    """The zizmor line of `make lint`, as CI runs it."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    [line] = [
        line.strip()
        for line in recipe.splitlines()
        if "zizmor" in line and not line.lstrip().startswith("#")
    ]
    return shlex.split(line.replace("$(VENV)", str(Path(sys.executable).parent.parent)))


def test_the_lint_audit_is_offline_and_fails_on_an_unpinned_action(tmp_path: Path) -> None:
    command = lint_zizmor_command()
    assert "--offline" in command
    if not Path(command[0]).exists():
        if os.environ.get("CI"):
            pytest.fail("zizmor is not installed (requirements.txt)")
        pytest.skip("zizmor is not installed")
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    clean = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    checks = tmp_path / ".github" / "workflows" / "checks.yml"
    checks.write_text(
        re.sub(r"actions/checkout@[0-9a-f]{40} # \S+", "actions/checkout@v5", checks.read_text())
    )
    unpinned = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert unpinned.returncode != 0
    assert "unpinned-uses" in unpinned.stdout + unpinned.stderr
