"""`LayerEnv.apply` against the lifecycle's own `env` package, on randomly generated layers.

A small Go program (below) applies a layer directory with lifecycle's `env.Env` exactly as
`buildpack/build.go` (build) and `launch/launcher.go` (launch) do; the test compares its
answers with ours. The lifecycle module comes from the local Go module cache only (GOPROXY=off:
tests reach no network); `python -m tests.harness.lifecycle_install` fills that cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from python_buildpack.cnb.env import ProcessScope, Scope, read_layer_env
from tests.harness.cache import CACHE_ROOT
from tests.harness.lifecycle_install import LIFECYCLE_VERSION, ensure_lifecycle

CACHE = CACHE_ROOT / "cnb-envcheck" / LIFECYCLE_VERSION

CHECKER = r"""
package main

// One JSON request per line: {"environ": {...}, "layer": "<dir>", "scope": "build"|"launch"|
// "<process>"}; one JSON answer per line: the environment after the layer is applied, the way
// buildpack/build.go (for later buildpacks) and launch/launcher.go (for the app) apply it.
import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/lifecycle/env"
)

type request struct {
	Environ map[string]string `json:"environ"`
	Layer   string            `json:"layer"`
	Scope   string            `json:"scope"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		must(json.Unmarshal(in.Bytes(), &req))
		rootDirs := env.POSIXLaunchEnv
		dirs := []string{"env", "env.launch"}
		if req.Scope == "build" {
			rootDirs = env.POSIXBuildEnv
			dirs = []string{"env", "env.build"}
		} else if req.Scope != "launch" {
			dirs = append(dirs, filepath.Join("env.launch", req.Scope))
		}
		e := &env.Env{RootDirMap: rootDirs, Vars: env.NewVars(req.Environ, false)}
		must(e.AddRootDir(req.Layer))
		for _, dir := range dirs {
			must(e.AddEnvDir(filepath.Join(req.Layer, dir), env.ActionTypeOverride))
		}
		result := map[string]string{}
		for _, kv := range e.List() {
			parts := strings.SplitN(kv, "=", 2)
			result[parts[0]] = parts[1]
		}
		must(out.Encode(result))
	}
	must(in.Err())
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
"""


def build_checker() -> Path:
    binary = CACHE / "envcheck"
    if binary.exists():
        return binary
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        pytest.fail("no Go toolchain to build the lifecycle env checker (Go is required)")
    # `go install` of the pinned lifecycle puts its module in the module cache, which the
    # offline build below then compiles against.
    ensure_lifecycle()
    source = CACHE / "src"
    source.mkdir(parents=True, exist_ok=True)
    (source / "main.go").write_text(CHECKER)
    (source / "go.mod").write_text(
        "module envcheck\n\ngo 1.22\n\n"
        f"require github.com/buildpacks/lifecycle v{LIFECYCLE_VERSION}\n"
    )
    environ = {
        "PATH": f"{Path(go).parent}:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
    }
    for name in ("GOPATH", "GOMODCACHE", "GOCACHE", "XDG_CACHE_HOME"):
        if name in os.environ:
            environ[name] = os.environ[name]
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=source,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"building the env checker against lifecycle v{LIFECYCLE_VERSION} failed: "
            f"{result.stderr.strip()[-600:]}"
        )
    return binary


@pytest.fixture(scope="module")
def lifecycle_apply() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [str(build_checker())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


def ask(
    process: subprocess.Popen[str], environ: dict[str, str], layer: Path, scope: str
) -> dict[str, str]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(
        json.dumps({"environ": environ, "layer": str(layer), "scope": scope}) + "\n"
    )
    process.stdin.flush()
    answer: dict[str, str] = json.loads(process.stdout.readline())
    return answer


NAMES = ["A", "B", "PATH", "LD_LIBRARY_PATH", "CPATH"]
env_files = st.dictionaries(
    st.tuples(
        st.sampled_from(["env", "env.build", "env.launch", "env.launch/web"]),
        st.sampled_from(NAMES),
        st.sampled_from(["", ".override", ".default", ".prepend", ".append", ".delim", ".bogus"]),
    ),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=4),
    max_size=10,
)
root_dirs = st.sets(st.sampled_from(["bin", "lib", "include", "pkgconfig"]))
environs = st.dictionaries(
    st.sampled_from(NAMES), st.sampled_from(["", "x", "/usr/bin"]), max_size=4
)
SCOPES: dict[str, Scope | ProcessScope] = {
    "build": Scope.BUILD,
    "launch": Scope.LAUNCH,
    "web": Scope.process("web"),
}


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=env_files,
    roots=root_dirs,
    environ=environs,
    scope=st.sampled_from(sorted(SCOPES)),
)
def test_apply_matches_the_lifecycle(
    lifecycle_apply: subprocess.Popen[str],
    tmp_path_factory: pytest.TempPathFactory,
    files: dict[tuple[str, str, str], str],
    roots: set[str],
    environ: dict[str, str],
    scope: str,
) -> None:
    layer = tmp_path_factory.mktemp("layer")
    for (directory, name, suffix), value in files.items():
        path = layer / directory / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
    for root in roots:
        (layer / root).mkdir()
    expected = ask(lifecycle_apply, environ, layer, scope)
    assert read_layer_env(layer).apply(environ, SCOPES[scope], layer) == expected
