from __future__ import annotations

from pathlib import Path

from python_buildpack.relocate import recorded_prefix, relocate


def fake_python(root: Path, prefix: str, cc: str = "gcc -pthread") -> Path:
    lib = root / "lib" / "python3.13"
    lib.mkdir(parents=True)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__" / "_sysconfigdata__linux_x86_64-linux-gnu.cpython-313.pyc").write_bytes(
        b""
    )
    (lib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_text(
        "build_time_vars = {"
        f"'prefix': '{prefix}', 'INCLUDEPY': '{prefix}/include/python3.13', "
        f"'LIBDIR': '{prefix}/lib', 'CC': '{cc}', "
        f"'CFLAGS': '-O2 -I/tools/deps/include -fPIC', 'LDFLAGS': '-fuse-ld=lld -L{prefix}/lib', "
        f"'OTHER': '{prefix}er/not-a-prefix', 'SIZEOF_INT': 4"
        "}\n"
    )
    pc = root / "lib" / "pkgconfig"
    pc.mkdir(parents=True)
    (pc / "python-3.13.pc").write_text(f"prefix={prefix}\nlibdir=${{prefix}}/lib\n")
    (pc / "python3.pc").symlink_to("python-3.13.pc")
    return root


def load(root: Path) -> dict[str, object]:
    namespace: dict[str, object] = {}
    source = (root / "lib/python3.13/_sysconfigdata__linux_x86_64-linux-gnu.py").read_text()
    exec(source, namespace)
    value = namespace["build_time_vars"]
    assert isinstance(value, dict)
    return value


def test_prefix_is_rewritten_everywhere_it_is_a_path(tmp_path: Path) -> None:
    # The new prefix ends like the old one: a second rewrite of any file would show.
    root = fake_python(tmp_path / "layers" / "install", "/install")
    assert recorded_prefix(root) == "/install"
    assert relocate(root, has_compiler=lambda name: True) == "/install"
    values = load(root)
    assert values["prefix"] == str(root)
    assert values["INCLUDEPY"] == f"{root}/include/python3.13"
    assert values["OTHER"] == "/installer/not-a-prefix"
    assert values["SIZEOF_INT"] == 4
    assert (root / "lib/pkgconfig/python-3.13.pc").read_text().startswith(f"prefix={root}\n")
    assert not list((root / "lib/python3.13/__pycache__").iterdir())


def test_build_host_only_flags_are_dropped(tmp_path: Path) -> None:
    root = fake_python(tmp_path / "py", "/install")
    relocate(root, has_compiler=lambda name: True)
    values = load(root)
    assert values["CFLAGS"] == "-O2 -fPIC"
    assert values["LDFLAGS"] == f"-L{root}/lib"


def test_clang_is_replaced_only_when_missing(tmp_path: Path) -> None:
    root = fake_python(tmp_path / "a", "/install", cc="clang -pthread")
    relocate(root, has_compiler=lambda name: None)
    assert load(root)["CC"] == "cc -pthread"
    root = fake_python(tmp_path / "b", "/install", cc="clang -pthread")
    relocate(root, has_compiler=lambda name: "/usr/bin/clang")
    assert load(root)["CC"] == "clang -pthread"
