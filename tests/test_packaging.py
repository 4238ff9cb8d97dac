"""The package as another team's Python program gets it: a wheel built from the repository,
installed outside it, imported with no checkout on the path, building a data lake (and one
building block alone) under mocks with the function's code from inside the installed package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from components import PrivateDataLake, __version__
from offline.runner import PROJECT_DIR, run_program
from tests.test_datalake import ARGS

# Runs in a fresh interpreter whose path holds the installed package and a copy of the
# offline runner only (the runner imports no component).
CONSUMER_PROGRAM = textwrap.dedent(
    """
    import json, sys
    from collections import Counter

    import components
    from components import DataBucket, PrivateDataLake
    from offline.runner import run_program

    args = json.loads(sys.argv[1])
    config = {"aws:region": "us-east-1", "private-datalake:accountId": "111111111111"}
    lake = run_program(lambda: PrivateDataLake("lake", args), config=config)
    bucket = run_program(
        lambda: DataBucket(
            "data",
            {
                "region": "us-east-1",
                "account_id": "111111111111",
                "name": "team-data",
                "s3_endpoint_id": "vpce-0aaaaaaaaaaaaaaaa",
            },
        ),
        config=config,
    )
    [code] = lake.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    print(json.dumps({
        "package": components.__file__,
        "code": code.inputs["source"].assets["handler.py"].path,
        "lake": Counter(r.type for r in lake.resources),
        "bucket": Counter(r.type for r in bucket.resources),
    }))
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install`` of a wheel built from the repository's files, into a directory of its
    own (dependencies come from this environment, as they would from the consumer's)."""
    root = tmp_path_factory.mktemp("package")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "components", "lambda_src"):
        copy = shutil.copytree if (PROJECT_DIR / name).is_dir() else shutil.copy
        copy(PROJECT_DIR / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    wheels, site = root / "wheels", root / "site"
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source], check=True
    )
    [wheel] = wheels.glob("*.whl")
    assert wheel.name == f"private_datalake-{__version__}-py3-none-any.whl"
    subprocess.run([*pip, "install", "--no-deps", "--target", site, wheel], check=True)
    shutil.copytree(PROJECT_DIR / "offline", root / "harness" / "offline")
    return root


def test_an_installed_wheel_builds_the_lake_and_a_building_block_alone(installed: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CONSUMER_PROGRAM, json.dumps(ARGS)],
        cwd=installed,
        env={"PYTHONPATH": f"{installed / 'site'}:{installed / 'harness'}", "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    package = installed / "site" / "components"
    assert found["package"] == str(package / "__init__.py")
    assert found["code"] == str(package / "lambda_src" / "handler.py")
    # The same lake as the checkout builds from the same args.
    here = run_program(
        lambda: PrivateDataLake("lake", ARGS),  # type: ignore[arg-type]
        config={"aws:region": "us-east-1", "private-datalake:accountId": "111111111111"},
    )
    assert found["lake"] == Counter(r.type for r in here.resources)
    assert found["bucket"]["aws:s3/bucket:Bucket"] == 2
    assert "aws:lambda/function:Function" not in found["bucket"]
