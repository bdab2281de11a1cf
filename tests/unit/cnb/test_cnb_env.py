"""Layer env files: names and contents per scope/behaviour, and applying them as the lifecycle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from python_buildpack.cnb.env import (
    Behaviour,
    EnvEntry,
    LayerEnv,
    ProcessScope,
    Scope,
    read_layer_env,
)


def files_under(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_file_names_and_contents_per_scope_and_behaviour(tmp_path: Path) -> None:
    env = (
        LayerEnv()
        .override(Scope.ALL, "PYTHONHOME", "/layers/python")
        .default(Scope.BUILD, "PIP_NO_INPUT", "1")
        .prepend(Scope.LAUNCH, "PYTHONPATH", "/app/src")
        .append(Scope.ALL, "CFLAGS", "-O2", delim=" ")
        .prepend(Scope.BUILD, "GLUED", "x", delim=None)
        .override(Scope.process("web"), "WEB_CONCURRENCY", "4")
    )
    env.write(tmp_path)
    assert files_under(tmp_path) == {
        "env/PYTHONHOME.override": "/layers/python",
        "env/CFLAGS.append": "-O2",
        "env/CFLAGS.delim": " ",
        "env.build/PIP_NO_INPUT.default": "1",
        "env.build/GLUED.prepend": "x",
        "env.launch/PYTHONPATH.prepend": "/app/src",
        "env.launch/PYTHONPATH.delim": os.pathsep,
        "env.launch/web/WEB_CONCURRENCY.override": "4",
    }


def test_values_are_written_verbatim(tmp_path: Path) -> None:
    LayerEnv().override(Scope.ALL, "X", " spaced\nlines\n").write(tmp_path)
    assert (tmp_path / "env" / "X.override").read_bytes() == b" spaced\nlines\n"


def test_write_replaces_old_env_files_but_nothing_else(tmp_path: Path) -> None:
    LayerEnv().override(Scope.ALL, "OLD", "1").override(Scope.process("web"), "W", "1").write(
        tmp_path
    )
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_text("#!/bin/sh\n")
    LayerEnv().override(Scope.BUILD, "NEW", "2").write(tmp_path)
    assert files_under(tmp_path) == {"bin/tool": "#!/bin/sh\n", "env.build/NEW.override": "2"}


def test_empty_env_does_not_create_the_layer_dir(tmp_path: Path) -> None:
    LayerEnv().write(tmp_path / "layer")
    assert not (tmp_path / "layer").exists()
    assert not LayerEnv()
    assert LayerEnv().override(Scope.ALL, "A", "")


def test_last_setting_of_a_file_wins() -> None:
    env = LayerEnv().override(Scope.ALL, "A", "1").override(Scope.ALL, "A", "2")
    assert env.get(Scope.ALL, "A", Behaviour.OVERRIDE) == "2"
    assert list(env.entries()) == [EnvEntry(Scope.ALL, "A", Behaviour.OVERRIDE, "2")]


@pytest.mark.parametrize("name", ["", "A.B", "A/B", "1A", "A=B", "A B"])
def test_invalid_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid environment variable name"):
        LayerEnv().override(Scope.ALL, name, "x")


def test_nul_in_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="NUL"):
        LayerEnv().override(Scope.ALL, "A", "a\0b")


def test_conflicting_delimiters_in_one_directory_are_rejected() -> None:
    env = LayerEnv().prepend(Scope.ALL, "P", "a", delim=":")
    env.append(Scope.ALL, "P", "b", delim=":")
    env.append(Scope.BUILD, "P", "b", delim=" ")  # another directory, another .delim file
    with pytest.raises(ValueError, match="already uses delimiter"):
        env.append(Scope.ALL, "P", "c", delim=",")


@pytest.mark.parametrize("process_type", ["a/b", "", ".", "..", "web server"])
def test_invalid_process_scope(process_type: str) -> None:
    with pytest.raises(ValueError, match="invalid process type"):
        Scope.process(process_type)


# --- apply -------------------------------------------------------------------------------


def test_override_and_default() -> None:
    env = LayerEnv().override(Scope.ALL, "A", "new").default(Scope.ALL, "B", "fallback")
    assert env.apply({"A": "old", "B": "set"}, Scope.BUILD) == {"A": "new", "B": "set"}
    assert env.apply({}, Scope.BUILD) == {"A": "new", "B": "fallback"}
    # "Only if the environment variable is empty": an empty value counts as unset.
    assert env.apply({"B": ""}, Scope.LAUNCH)["B"] == "fallback"


def test_prepend_and_append_with_delimiter() -> None:
    env = (
        LayerEnv()
        .prepend(Scope.ALL, "PATH", "/layer/tools", delim=":")
        .append(Scope.ALL, "FLAGS", "-b", delim=" ")
    )
    assert env.apply({"PATH": "/usr/bin", "FLAGS": "-a"}, Scope.BUILD) == {
        "PATH": "/layer/tools:/usr/bin",
        "FLAGS": "-a -b",
    }
    # No dangling delimiter when there is nothing to join with.
    assert env.apply({}, Scope.BUILD) == {"PATH": "/layer/tools", "FLAGS": "-b"}
    assert env.apply({"PATH": ""}, Scope.BUILD)["PATH"] == "/layer/tools"
    # An empty value still gets its delimiter, as in the lifecycle.
    empty = LayerEnv().prepend(Scope.ALL, "P", "", delim=":").append(Scope.ALL, "A", "", delim=":")
    assert empty.apply({"P": "x", "A": "y"}, Scope.BUILD) == {"P": ":x", "A": "y:"}


def test_prepend_without_delimiter_glues_values() -> None:
    env = (
        LayerEnv()
        .prepend(Scope.ALL, "X", "pre", delim=None)
        .append(Scope.BUILD, "Y", "post", delim=None)
    )
    assert env.apply({"X": "old", "Y": "old"}, Scope.BUILD) == {"X": "preold", "Y": "oldpost"}


def test_scopes_reach_their_consumers_only() -> None:
    env = (
        LayerEnv()
        .override(Scope.ALL, "ALL", "1")
        .override(Scope.BUILD, "BUILD", "1")
        .override(Scope.LAUNCH, "LAUNCH", "1")
        .override(Scope.process("web"), "WEB", "1")
    )
    assert env.apply({}, Scope.BUILD) == {"ALL": "1", "BUILD": "1"}
    assert env.apply({}, Scope.LAUNCH) == {"ALL": "1", "LAUNCH": "1"}
    assert env.apply({}, Scope.process("web")) == {"ALL": "1", "LAUNCH": "1", "WEB": "1"}
    assert env.apply({}, Scope.process("worker")) == {"ALL": "1", "LAUNCH": "1"}
    with pytest.raises(ValueError, match="needs the consumer"):
        env.apply({}, Scope.ALL)


def test_env_dir_applies_before_the_scoped_dirs() -> None:
    env = (
        LayerEnv()
        .override(Scope.ALL, "A", "all")
        .override(Scope.BUILD, "A", "build")
        .prepend(Scope.ALL, "P", "all", delim=":")
        .prepend(Scope.LAUNCH, "P", "launch", delim=":")
        .prepend(Scope.process("web"), "P", "web", delim=":")
    )
    assert env.apply({}, Scope.BUILD)["A"] == "build"
    assert env.apply({}, Scope.LAUNCH)["A"] == "all"
    # Per spec, process files precede env.launch files, which precede env files.
    assert env.apply({"P": "base"}, Scope.process("web"))["P"] == "web:launch:all:base"


def test_files_in_one_directory_apply_in_name_order() -> None:
    # Like the lifecycle, which reads a directory sorted by name: X.append, X.default, then
    # X.override, X.prepend.
    env = (
        LayerEnv()
        .prepend(Scope.ALL, "X", "pre", delim=":")
        .override(Scope.ALL, "X", "over")
        .append(Scope.ALL, "X", "app", delim=":")
    )
    assert env.apply({"X": "orig"}, Scope.BUILD)["X"] == "pre:over"


def test_bare_file_is_an_override_applied_before_suffixed_ones(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "X").write_text("bare")
    (tmp_path / "env" / "X.append").write_text("app")
    (tmp_path / "env" / "X.delim").write_text("|")
    (tmp_path / "env" / "X.unknown").write_text("ignored")
    (tmp_path / "env" / "Y.").write_text("ignored")
    (tmp_path / "env" / "dir").mkdir()
    env = read_layer_env(tmp_path)
    assert env.get(Scope.ALL, "X", Behaviour.OVERRIDE) == "bare"
    assert env.apply({"X": "orig"}, Scope.BUILD) == {"X": "bare|app"}
    assert sorted(str(p) for p in env.files()) == ["env/X", "env/X.append", "env/X.delim"]
    # Setting the override through the builder replaces the bare file.
    env.override(Scope.ALL, "X", "new")
    assert sorted(str(p) for p in env.files()) == ["env/X.append", "env/X.delim", "env/X.override"]


def make_layer(tmp_path: Path, *children: str) -> Path:
    layer = tmp_path / "layers" / "python"
    for child in children:
        (layer / child).mkdir(parents=True)
    return layer


def test_layer_dirs_extend_search_paths_at_build(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "bin", "lib", "include", "pkgconfig")
    base = {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "", "CPATH": "/usr/include"}
    result = LayerEnv().apply(base, Scope.BUILD, layer)
    assert result == {
        "PATH": f"{layer}/bin:/usr/bin",
        "LD_LIBRARY_PATH": f"{layer}/lib",
        "LIBRARY_PATH": f"{layer}/lib",
        "CPATH": f"{layer}/include:/usr/include",
        "PKG_CONFIG_PATH": f"{layer}/pkgconfig",
    }


def test_layer_dirs_at_launch_are_bin_and_lib_only(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "bin", "lib", "include", "pkgconfig")
    for scope in (Scope.LAUNCH, Scope.process("web")):
        assert LayerEnv().apply({"PATH": "/usr/bin"}, scope, layer) == {
            "PATH": f"{layer}/bin:/usr/bin",
            "LD_LIBRARY_PATH": f"{layer}/lib",
        }


def test_only_existing_layer_dirs_count(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "bin")
    assert LayerEnv().apply({}, Scope.BUILD, layer) == {"PATH": f"{layer}/bin"}
    assert LayerEnv().apply({}, Scope.BUILD, tmp_path / "missing") == {}


def test_relative_layer_dir_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_layer(tmp_path, "bin")
    monkeypatch.chdir(tmp_path)
    result = LayerEnv().apply({}, Scope.BUILD, Path("layers/python"))
    assert result["PATH"] == f"{tmp_path}/layers/python/bin"


def test_env_files_apply_after_layer_dirs(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "bin")
    env = LayerEnv().prepend(Scope.BUILD, "PATH", "/first", delim=":")
    assert env.apply({"PATH": "/usr/bin"}, Scope.BUILD, layer)["PATH"] == (
        f"/first:{layer}/bin:/usr/bin"
    )
    env = LayerEnv().override(Scope.BUILD, "PATH", "/only")
    assert env.apply({"PATH": "/usr/bin"}, Scope.BUILD, layer)["PATH"] == "/only"


def test_apply_does_not_mutate_input() -> None:
    environ = {"A": "1"}
    LayerEnv().override(Scope.ALL, "A", "2").apply(environ, Scope.BUILD)
    assert environ == {"A": "1"}


# --- round trip ----------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=30)
scopes = st.one_of(
    st.sampled_from(list(Scope)),
    st.from_regex(r"[A-Za-z0-9._-]{1,10}", fullmatch=True)
    .filter(lambda s: s not in (".", ".."))
    .map(ProcessScope),
)
operations = st.lists(
    st.tuples(st.sampled_from(["override", "default", "prepend", "append"]), scopes, names, values),
    max_size=12,
)


def build_env(ops: list[tuple[str, Scope | ProcessScope, str, str]]) -> LayerEnv:
    env = LayerEnv()
    for behaviour, scope, name, value in ops:
        if behaviour in ("prepend", "append"):
            # One delimiter per (directory, name): keep it fixed so no conflict arises.
            getattr(env, behaviour)(scope, name, value, delim=":")
        else:
            getattr(env, behaviour)(scope, name, value)
    return env


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_write_then_read_round_trips(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, Scope | ProcessScope, str, str]]
) -> None:
    layer = tmp_path_factory.mktemp("layer")
    env = build_env(ops)
    env.write(layer)
    assert read_layer_env(layer) == env


@settings(max_examples=60, deadline=None)
@given(name=names, value=values, existing=values, delim=st.sampled_from([":", " ", ";", ""]))
def test_prepend_append_law(name: str, value: str, existing: str, delim: str) -> None:
    # The lifecycle leaves out the delimiter only when the existing value is empty.
    env = LayerEnv().prepend(Scope.ALL, name, value, delim=delim)
    result = env.apply({name: existing}, Scope.BUILD)[name]
    assert result == (value + delim + existing if existing else value)
    env = LayerEnv().append(Scope.ALL, name, value, delim=delim)
    result = env.apply({name: existing}, Scope.LAUNCH)[name]
    assert result == (existing + delim + value if existing else value)
