"""The catalogue of user-facing failures.

Every failure a user can fix is a class here with a title, an explanation and the fix, so the
build log shows an actionable message instead of a traceback and tests can assert on the class.
Anything that is not a `UserError` is a bug in the buildpack and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class UserError(Exception):
    """A failure caused by the app, its configuration or the platform, which the user can fix.

    Every one says how to fix it: a blank `fix` is a bug in the buildpack, refused here rather
    than shown to a user as an error with no way out.
    """

    def __init__(self, title: str, detail: str, fix: str) -> None:
        if not fix.strip():
            raise ValueError(f"{type(self).__name__} ({title!r}) has no fix line")
        super().__init__(title)
        self.title = title
        self.detail = detail
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.title}\n\n{self.render()}"

    def render(self) -> str:
        parts = [self.detail.strip()]
        if self.fix:
            parts.append(self.fix.strip())
        return "\n\n".join(p for p in parts if p)


def bullet_list(items: Iterable[str]) -> str:
    return "\n".join(f"  - {item}" for item in items)


def _q(text: str) -> str:
    """A value from the app or the platform env, made safe to print (see `redact.quote`)."""
    from .redact import quote

    return quote(text)


def _q_list(items: Iterable[str]) -> list[str]:
    from .redact import quote_list

    return quote_list(items)


# --- entry point ------------------------------------------------------------------------------


class PlatformContractViolated(UserError):
    """The lifecycle (or a hand run) did not give what the Buildpack API promises."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            "The platform did not follow the buildpack contract",
            problem,
            "The buildpack needs a CNB platform (pack, kpack, a builder image's lifecycle) "
            "that supports Buildpack API 0.12. If you run bin/detect or bin/build by hand, "
            "set the CNB_* variables the spec lists.",
        )


class BuildpackDependenciesMissing(UserError):
    """The Python running the buildpack lacks one of the buildpack's own packages."""

    def __init__(self, python: str, module: str) -> None:
        super().__init__(
            "The buildpack's own dependencies are missing",
            f"The Python running the buildpack ({python}) cannot import '{module}'.",
            "Use the packaged buildpack (run 'make package' and use build/buildpack), "
            "which carries its own Python, or put a python3 with the packages in "
            "pyproject.toml on PATH.",
        )
        self.module = module


# --- detection and app layout -------------------------------------------------------------


class AppDirUnreadable(UserError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            "Unable to read the app directory",
            f"The buildpack could not read {path}: {reason}.",
            "Check that the app directory exists and is readable by the build user.",
        )


class WorkingDirectoryUnreadable(AppDirUnreadable):
    """The lifecycle starts the buildpack in the app dir: a cwd gone or unreadable is that dir."""

    def __init__(self, reason: str) -> None:
        super().__init__("the working directory", reason)


class NoPackageManagerFile(UserError):
    def __init__(self, found: Sequence[str]) -> None:
        seen = f" (found: {', '.join(found)})" if found else ""
        super().__init__(
            "No Python package manager files found",
            "The app looks like a Python app"
            + seen
            + ", but it has no file that says which dependencies to install.",
            "Add one of these files to the root of the app:\n"
            + bullet_list(
                [
                    "requirements.txt (pip): one requirement per line, ideally pinned with ==",
                    "pyproject.toml with a [project] table listing its dependencies (PEP 621)",
                    "uv.lock (uv), poetry.lock (Poetry) or Pipfile.lock (Pipenv)",
                ]
            )
            + "\nAn app with no dependencies can use an empty requirements.txt.",
        )


class CommittedVirtualEnvironment(UserError):
    def __init__(self, directories: Sequence[str]) -> None:
        names = ", ".join(f"{name}/" for name in directories)
        excludes = ", ".join(f'"{name}/"' for name in directories)
        super().__init__(
            "The app contains a virtual environment",
            f"{names} in the app is a Python virtual environment (it has a pyvenv.cfg), most "
            "likely made on a developer machine and sent along with the source. It was built "
            "for another Python, at another path, often for another OS or CPU: copied into the "
            "image it would not work, and an app or tool that finds it (uv and Poetry use a "
            "project's .venv/) would pick it instead of the virtual environment the buildpack "
            "builds from the app's dependency files.",
            "Leave it out of what is sent to the build. `pack` does not read .gitignore: list "
            "it in the app's project.toml:\n"
            f'  [_]\n  schema-version = "0.2"\n\n  [io.buildpacks]\n  exclude = [{excludes}]\n'
            "or delete it from the app directory (and add it to .gitignore so it is not "
            "committed).",
        )


class MisspelledRequirementsFile(UserError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "Found a misspelled requirements file",
            f"The app has a file named '{name}', which pip does not use.",
            f"Rename '{name}' to 'requirements.txt'.",
        )


# --- app files: reading (appfiles) and parsing (app_snapshot) ------------------------------


class ConfigFileUnreadable(UserError):
    """The base of every failure to read an app file: "Unable to read <path>"."""

    def __init__(self, path: str, reason: str, fix: str = "") -> None:
        super().__init__(
            f"Unable to read {path}",
            f"The buildpack could not read {path}: {reason}.",
            fix or f"Check that {path} is a readable UTF-8 text file.",
        )
        self.path = path
        self.reason = reason


class AppFileMissing(ConfigFileUnreadable):
    def __init__(self, path: str) -> None:
        super().__init__(
            path, "it does not exist", f"Add {path} to the app, or remove what refers to it."
        )


class AppFileOsError(ConfigFileUnreadable):
    """The operating system refused to open or read the file (permissions, I/O error)."""

    def __init__(self, path: str, os_reason: str) -> None:
        super().__init__(path, os_reason)


class AppFileSymlinkLoop(ConfigFileUnreadable):
    def __init__(self, path: str) -> None:
        super().__init__(
            path,
            "it is a symbolic link loop",
            f"Replace {path} with a regular file, or a symbolic link to one inside the app.",
        )


class AppFileDanglingSymlink(ConfigFileUnreadable):
    def __init__(self, path: str) -> None:
        super().__init__(
            path,
            "it is a symbolic link to a missing file",
            f"Point {path} at a file that exists in the app, or replace it with the file.",
        )


class AppFileNotUtf8(ConfigFileUnreadable):
    def __init__(self, path: str, byte: int, offset: int, line: int) -> None:
        super().__init__(
            path,
            f"it is not valid UTF-8 text (byte 0x{byte:02x} at offset {offset}, line {line})",
            f"Save {path} as UTF-8 text.",
        )


class AppFileHasNul(ConfigFileUnreadable):
    def __init__(self, path: str, line: int) -> None:
        super().__init__(
            path,
            f"it contains a NUL byte (line {line}), which a text file never has",
            f"Save {path} as plain UTF-8 text; check that it is not a binary file.",
        )


class AppFileNotRegular(ConfigFileUnreadable):
    def __init__(self, path: str, what: str) -> None:
        super().__init__(
            path,
            f"it is {what}, not a regular file",
            f"Replace {path} with a regular file (the buildpack never reads from pipes, sockets "
            "or devices in the app).",
        )


class AppFileOutsideApp(ConfigFileUnreadable):
    def __init__(self, path: str, link_target: str | None) -> None:
        from .redact import quote

        how = (
            f"it is a symbolic link to {quote(link_target, 120)}, which"
            if link_target is not None
            else "it"
        )
        super().__init__(
            path,
            f"{how} lies outside the app directory, and the buildpack reads only the app's own "
            "files",
            "Copy the file into the app directory instead of linking to it, or use a symbolic "
            "link that stays inside the app.",
        )


class AppFileTooLarge(ConfigFileUnreadable):
    def __init__(self, path: str, limit: int) -> None:
        super().__init__(
            path,
            f"it is larger than {_size(limit)}, far more than such a file ever needs",
            f"Check that {path} is the file you meant to commit (not generated output or a "
            "binary).",
        )


def _size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


class FilesystemError(UserError):
    """ENOSPC, EROFS, EACCES, EDQUOT and the like: the build's disk, not the buildpack."""

    def __init__(self, operation: str, path: str | None, reason: str) -> None:
        where = f" ({path})" if path else ""
        super().__init__(
            f"File system error while {operation}",
            f"The build could not go on while {operation}{where}: {reason}.",
            "Check that the build's layers directory is writable and its file system has free "
            "space (and inode and quota headroom), then build again. Nothing half-written is "
            "kept: the next build starts the affected layer afresh.",
        )
        self.operation = operation
        self.path = path


class InvalidConfigFile(UserError):
    """The base of every app file that was read but says something invalid: "Invalid <path>"."""

    def __init__(self, path: str, reason: str, fix: str) -> None:
        super().__init__(f"Invalid {path}", f"{path} is not valid: {reason}", fix)


class AppFileNotToml(InvalidConfigFile):
    def __init__(self, path: str, error: str) -> None:
        super().__init__(
            path,
            f"it is not valid TOML: {error}",
            f"Fix the TOML syntax in {path} (at the line shown), then build again (check it "
            f'locally with `python -c \'import tomllib; tomllib.load(open("{path}", "rb"))\'`).',
        )


class AppFileNotJson(InvalidConfigFile):
    def __init__(self, path: str, error: str) -> None:
        super().__init__(
            path,
            f"it is not valid JSON: {error}",
            "Regenerate it with `pipenv lock` and commit the result."
            if path == "Pipfile.lock"
            else f"Fix the JSON syntax in {path} (at the line shown), then build again.",
        )


# --- pyproject.toml: PEP 621 [project] and PEP 735 [dependency-groups] -------------------------


class ProjectNotATable(InvalidConfigFile):
    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml", "[project] is not a table.", "Make [project] a TOML table (PEP 621)."
        )


class ProjectDependenciesNotStrings(InvalidConfigFile):
    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml",
            "[project] dependencies is not a list of strings.",
            'Write it as dependencies = ["flask==3.1.0", ...].',
        )


class ProjectDependencyInvalid(InvalidConfigFile):
    def __init__(self, dependency: str, error: str) -> None:
        super().__init__(
            "pyproject.toml",
            f"the dependency {_q(dependency)} is not a valid requirement: {error}",
            "Use PEP 508 requirement syntax, for example 'flask==3.1.0'.",
        )


class DependencyGroupsInvalid(InvalidConfigFile):
    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml",
            "[dependency-groups] is not a table of lists (PEP 735).",
            'Write each group as a list, e.g. test = ["pytest==8.4.0"].',
        )


class ProjectHasNoDependencies(InvalidConfigFile):
    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml",
            "it has no [project] table, so there are no dependencies to install.",
            "List the dependencies under [project] dependencies (PEP 621), or add a "
            "requirements.txt or the lock file of your package manager.",
        )


class ProjectDependenciesDynamic(InvalidConfigFile):
    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml",
            "its dependencies are dynamic, so they can only be known by building the project.",
            "Add a [build-system] table (the project is then installed itself, with its "
            "dependencies), or list the dependencies statically in [project] dependencies. "
            "(BP_PIP_INSTALL_PROJECT=false asks for the dependencies alone.)",
        )


# --- requirements files and their -r/-c includes -----------------------------------------------


class RequirementsIncludeCycle(InvalidConfigFile):
    def __init__(self, path: str, cycle: Sequence[str]) -> None:
        super().__init__(
            path,
            f"its -r/-c includes form a cycle: {' -> '.join(cycle)}.",
            "Remove the include that leads back to a file already being read.",
        )


class RequirementsTooManyLines(InvalidConfigFile):
    def __init__(self, path: str, limit: int) -> None:
        super().__init__(
            path,
            f"it and its includes hold more than {limit} requirement lines, far more than any "
            "app installs (reading them would take minutes).",
            "Check that the requirements files are the ones you meant to commit.",
        )


class RequirementsIncludeNamesNoFile(InvalidConfigFile):
    def __init__(self, where: str, line: str) -> None:
        super().__init__(
            where,
            f"{_q(line)} names no file.",
            "Give the path of the file to include after the option.",
        )


class RequirementsIncludeUnreadable(InvalidConfigFile):
    def __init__(self, where: str, target: str, reason: str, line: str) -> None:
        super().__init__(
            where,
            f"it includes {_q(target)}: {reason}.",
            f"Include a requirements file inside the app, or remove the line {_q(line)}.",
        )


class RequirementsIncludeMissing(InvalidConfigFile):
    def __init__(self, where: str, target: str, line: str) -> None:
        super().__init__(
            where,
            f"it includes {_q(target)}, which does not exist.",
            f"Create {_q(target)} or remove the line {_q(line)}.",
        )


# --- platform env settings (BP_* variables) ----------------------------------------------------


class InvalidPlatformEnv(UserError):
    """The base of every platform env variable with a value the build cannot use."""

    def __init__(self, name: str, value: str, reason: str, fix: str) -> None:
        from .redact import quote

        super().__init__(
            f"Invalid value for {name}",
            f"{name} is set to {quote(value, secret_name=name)}, but {reason}",
            fix,
        )


class EnvNotBoolean(InvalidPlatformEnv):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(name, value, "it is not a boolean.", f"Set {name} to true or false.")


class EnvNotAChoice(InvalidPlatformEnv):
    def __init__(self, name: str, value: str, allowed: Sequence[str]) -> None:
        super().__init__(
            name,
            value,
            "it is not one of the allowed values.",
            f"Set {name} to one of: {', '.join(allowed)}.",
        )


class EnvNotSeconds(InvalidPlatformEnv):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(
            name,
            value,
            "it is not a number of seconds.",
            f"Set {name} to a positive number of seconds, e.g. {name}=600.",
        )


class EnvValueHasNul(InvalidPlatformEnv):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(
            name,
            value.split("\0", 1)[0],
            "its value contains a NUL byte, which no environment variable can hold (the value "
            "is shown up to it).",
            f"Set {name} to text without NUL bytes (check that its file in the platform's env "
            "directory is not binary).",
        )


class EnvNameHasEquals(InvalidPlatformEnv):
    def __init__(self, name: str) -> None:
        super().__init__(
            name, "", "an environment variable's name cannot contain '='.", "Rename the variable."
        )


class LaunchCommandControlCharacters(InvalidPlatformEnv):
    def __init__(self, value: str, characters: Sequence[str]) -> None:
        super().__init__(
            "BP_LAUNCH_COMMAND",
            value,
            f"it contains control characters ({', '.join(characters)}), which a command line "
            "cannot hold.",
            "Set BP_LAUNCH_COMMAND to a single line of shell, e.g. "
            "gunicorn myapp.wsgi --bind 0.0.0.0:$PORT.",
        )


class PipTestRequirementMissing(InvalidPlatformEnv):
    def __init__(self, value: str, missing: Sequence[str], present: Sequence[str]) -> None:
        there = f" (requirement files there: {', '.join(present)})." if present else "."
        super().__init__(
            "BP_PIP_TEST_REQUIREMENT",
            value,
            f"{', '.join(missing)} is not a file in the app directory{there}",
            "Name requirement files relative to the app root, separated by spaces or commas.",
        )


class PoetryGroupsInvalid(InvalidPlatformEnv):
    def __init__(self, value: str, invalid: Sequence[str]) -> None:
        super().__init__(
            "BP_POETRY_GROUPS",
            value,
            f"{', '.join(repr(g) for g in invalid)} is not a Poetry group name.",
            "List group names separated by commas, e.g. BP_POETRY_GROUPS=dev,docs.",
        )


class SelectionNamesInvalid(InvalidPlatformEnv):
    """BP_UV_GROUPS, BP_UV_EXTRAS or BP_PIP_EXTRAS names something that is not a name."""

    def __init__(self, name: str, value: str, invalid: Sequence[str]) -> None:
        super().__init__(
            name,
            value,
            f"{', '.join(repr(n) for n in invalid[:5])} is not a valid name.",
            f"List names separated by commas, e.g. {name}=dev,docs.",
        )


class SelectionNotInPyproject(InvalidPlatformEnv):
    """A group or extra that pyproject.toml does not define."""

    def __init__(
        self,
        name: str,
        wanted: Sequence[str],
        kind: str,
        table: str,
        unknown: Sequence[str],
        defined: Sequence[str],
    ) -> None:
        exists = (
            f"It defines: {', '.join(defined)}." if defined else f"It defines no {kind}s ({table})."
        )
        super().__init__(
            name,
            ",".join(wanted),
            f"pyproject.toml has no {kind} named {', '.join(repr(n) for n in unknown)}. {exists}",
            f"Set {name} to {kind}s of {table} in pyproject.toml, or unset it.",
        )


class PipExtrasWithoutPyproject(InvalidPlatformEnv):
    def __init__(self, extras: Sequence[str], source_file: str) -> None:
        super().__init__(
            "BP_PIP_EXTRAS",
            ",".join(extras),
            f"the app installs {source_file}, and extras belong to a pyproject.toml project.",
            f"Name the extras in the requirements file (e.g. mypkg[{extras[0]}]), or unset "
            "BP_PIP_EXTRAS.",
        )


class PipRequirementFileInvalid(InvalidPlatformEnv):
    def __init__(self, value: str, problem: str, candidates: Sequence[str]) -> None:
        listed = (
            "The app's requirements files: " + ", ".join(candidates[:20]) + "."
            if candidates
            else "The app has no file that looks like a requirements file."
        )
        super().__init__(
            "BP_PIP_REQUIREMENT",
            value,
            f"{problem} {listed}",
            "Set BP_PIP_REQUIREMENT to paths relative to the app, separated by commas, e.g. "
            "BP_PIP_REQUIREMENT=requirements/prod.txt.",
        )


class PipRequirementWithOtherManager(InvalidPlatformEnv):
    def __init__(self, requested: str) -> None:
        super().__init__(
            "BP_PYTHON_PACKAGE_MANAGER",
            requested,
            "BP_PIP_REQUIREMENT is set too, and requirements files are installed with pip.",
            "Unset one of BP_PYTHON_PACKAGE_MANAGER and BP_PIP_REQUIREMENT.",
        )


class MirrorUrlInvalid(InvalidPlatformEnv):
    def __init__(self, name: str, value: str) -> None:
        super().__init__(
            name,
            value,
            "it is not an https://, http:// or file:// URL.",
            f"Set {name} to the base URL of a directory holding the Python archives under "
            "their original file names, e.g. https://mirror.example.com/python.",
        )


# --- buildpack runtime and packaging ----------------------------------------------------------


class BuildpackPlanInvalid(UserError):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(
            "Invalid buildpack plan",
            f"The buildpack plan at {path} could not be read: {reason}",
            "This file is written by the CNB lifecycle; check that the platform and lifecycle "
            "versions are supported.",
        )


# --- commands and downloads -------------------------------------------------------------------


class CommandNotStarted(UserError):
    """A program could not be started at all (see `commands`): it did not fail, it never ran.
    The subclasses say why."""

    def __init__(self, command: str, reason: str, fix: str) -> None:
        super().__init__(
            f"Unable to run '{command}'",
            f"The command could not be started: {reason}.",
            fix,
        )
        self.command = command
        self.reason = reason


class CommandWorkDirMissing(CommandNotStarted):
    def __init__(self, command: str, cwd: str) -> None:
        super().__init__(
            command,
            f"its working directory {cwd} does not exist",
            f"Check that {cwd} exists and was not removed by an earlier step.",
        )


class CommandWrongFormat(CommandNotStarted):
    def __init__(self, command: str, program: str) -> None:
        super().__init__(
            command,
            f"{program} is not a program this machine can run (exec format error)",
            f"Check that {program} was built for this machine's CPU and OS (a Python archive "
            "for another architecture, say) and, if it is a script, that it starts with #!.",
        )


class CommandExecFailed(CommandNotStarted):
    def __init__(self, command: str, program: str, reason: str) -> None:
        super().__init__(
            command,
            f"starting {program} failed: {reason}",
            "Check that the program exists, is executable by the build user and that the "
            "machine has memory and processes to spare, then try again.",
        )


class CommandNotFound(CommandNotStarted):
    def __init__(self, command: str, program: str) -> None:
        where = "at that path" if "/" in program else "on PATH"
        super().__init__(
            command,
            f"{program} was not found {where}",
            f"Check that {program} is installed"
            + (
                ", and that the layer or directory holding it was not removed."
                if "/" in program
                else " and that its directory is on PATH."
            ),
        )


class CommandNotExecutable(CommandNotStarted):
    def __init__(self, command: str, program: str) -> None:
        super().__init__(
            command,
            f"{program} is not executable (permission denied)",
            f"Make {program} executable for the build user (chmod +x), or check that it is a "
            "program and not a directory.",
        )


# --- build configuration ----------------------------------------------------------------------


class ForbiddenEnvVars(UserError):
    def __init__(self, found: dict[str, str]) -> None:
        names = ", ".join(found)
        super().__init__(
            f"Unsupported environment variable{'s' if len(found) > 1 else ''} set: {names}",
            "These environment variables would break the build or the app image:\n"
            + bullet_list(f"{name}: {reason}" for name, reason in found.items()),
            "Remove them from the build environment (for example `pack build --env`, a "
            "project.toml [[io.buildpacks.build.env]] table, or the CI settings). The buildpack "
            "sets up Python, pip and the virtual environment itself.",
        )


class UnsupportedPackageManager(UserError):
    def __init__(self, file: str, tool: str, fix: str) -> None:
        super().__init__(
            f"{tool} is not supported yet",
            f"The app has a {file} file, which means it uses {tool}.",
            fix,
        )


class MultiplePackageManagerFiles(UserError):
    def __init__(self, found: list[tuple[str, str]]) -> None:
        super().__init__(
            "Multiple package manager files found",
            "The app has files for more than one package manager, so it is not clear which "
            "one to use to install its dependencies:\n"
            + bullet_list(f"{file} ({tool})" for file, tool in found),
            "Delete the files of the package managers you do not use, or set "
            "BP_PYTHON_PACKAGE_MANAGER to one of: "
            + ", ".join(tool.lower() for _, tool in found)
            + ".",
        )


class PackageManagerFileMissing(UserError):
    def __init__(self, present: str, missing: str, fix: str) -> None:
        super().__init__(
            f"Found {present} but no {missing}",
            f"The app has a {present} file, but no {missing} beside it.",
            fix,
        )


# --- Python version selection -----------------------------------------------------------------

_VERSION_FORMAT_FIX = (
    "Write only the major and minor version, e.g. 3.13 (recommended: you get the newest patch "
    "release on every build), or an exact version such as 3.13.5."
)


class PythonVersionEmpty(UserError):
    def __init__(self, source: str) -> None:
        super().__init__(
            f"No Python version in {source}",
            f"{source} contains no Python version: every line is empty or a comment (a line "
            "starting with '#').",
            f"Put the version on its own line in {source}, e.g. 3.13, or delete the file to use "
            "the default version.",
        )


class PythonVersionMultiple(UserError):
    def __init__(self, source: str, versions: Sequence[str]) -> None:
        super().__init__(
            f"Multiple Python versions in {source}",
            f"{source} names more than one Python version:\n" + bullet_list(_q_list(versions)),
            f"Keep exactly one version in {source}. Notes go after a '#', which starts a comment.",
        )


class PythonVersionInvisibleCharacters(UserError):
    def __init__(self, source: str, visible: str, example: str = "3.13") -> None:
        super().__init__(
            f"Invisible or unusual characters in {source}",
            f"The Python version in {source} contains characters that are not part of a "
            f"version (shown here as <U+XXXX>):\n  {visible}\n"
            "These are often a byte order mark (<U+FEFF>) or control characters added by an "
            "editor, or a copy and paste from a web page.",
            f"Retype the version in {source} as plain ASCII text, e.g. {example}, and save the "
            "file as UTF-8 without a byte order mark (BOM).",
        )


class PythonVersionPrerelease(UserError):
    def __init__(self, source: str, text: str) -> None:
        super().__init__(
            f"Pre-release Python versions are not supported ({source})",
            f"{source} asks for {_q(text)}, which is a pre-release (alpha, beta, release "
            "candidate or development) version of Python.",
            f"Use a stable release in {source}, e.g. 3.13.",
        )


class PythonVersionImplementation(UserError):
    def __init__(self, source: str, text: str) -> None:
        super().__init__(
            f"Unsupported Python implementation in {source}",
            f"{source} asks for {_q(text)}, but this buildpack installs only CPython (the "
            "standard Python implementation).",
            f"Write a CPython version in {source}, e.g. 3.13.",
        )


class PythonVersionSystem(UserError):
    def __init__(self, source: str) -> None:
        super().__init__(
            f"'system' is not a Python version ({source})",
            f"{source} asks for 'system' (the operating system's Python), which the build "
            "image does not provide: this buildpack installs Python itself.",
            f"Write the Python version the app needs in {source}, e.g. 3.13.",
        )


class PythonVersionFreethreaded(UserError):
    def __init__(self, source: str, text: str) -> None:
        super().__init__(
            f"Free-threaded Python is not supported ({source})",
            f"{source} asks for {_q(text)}: the 't' suffix means a free-threaded (no GIL) build, "
            "which this buildpack does not provide.",
            f"Remove the 't' suffix in {source}, e.g. {text.rstrip('tT')}.",
        )


class PythonVersionInvalid(UserError):
    def __init__(self, source: str, text: str, suggestion: str | None = None) -> None:
        hint = f" Did you mean {suggestion}?" if suggestion else ""
        super().__init__(
            f"Invalid Python version in {source}",
            f"{source} asks for {_q(text)}, which is not a Python version of the form X.Y or "
            f"X.Y.Z.{hint}",
            f"{_VERSION_FORMAT_FIX} Do not add quotes, a 'python-' prefix or wildcards; a '#' "
            "starts a comment.",
        )


class RuntimeTxtInvalid(UserError):
    def __init__(self, text: str) -> None:
        super().__init__(
            "Invalid Python version in runtime.txt",
            f"runtime.txt contains {_q(text)}, but it must look like python-3.13 or python-3.13.5.",
            "runtime.txt is deprecated: delete it and create a file named .python-version "
            "containing only the version, e.g. 3.13.",
        )


class RequiresPythonInvalid(UserError):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__(
            "Invalid requires-python in pyproject.toml",
            f"[project] requires-python in pyproject.toml is {_q(text)}, which is not a valid "
            f"version specifier: {reason}.",
            "Use a PEP 440 specifier such as '>=3.12' or '>=3.11,<3.14', or create a "
            ".python-version file containing the version, e.g. 3.13.",
        )


class RequiresPythonNotString(RequiresPythonInvalid):
    def __init__(self, value: object) -> None:
        super().__init__(repr(value), "it must be a string")


class RequiresPythonUnsatisfiable(UserError):
    def __init__(self, text: str, supported: Sequence[str]) -> None:
        super().__init__(
            "No supported Python version satisfies requires-python",
            f"[project] requires-python in pyproject.toml is {_q(text)}, and none of the Python "
            "versions this buildpack provides for this platform satisfies it. Supported "
            "versions:\n" + bullet_list(supported),
            "Change requires-python so that it allows one of the supported versions, or create "
            "a .python-version file naming one of them.",
        )


class PythonVersionEol(UserError):
    def __init__(
        self,
        requested: str,
        source: str,
        eol: str | None,
        supported: Sequence[str],
        recommended: str | None = None,
        builds_stopped: str | None = None,
    ) -> None:
        when = f" on {eol}" if eol else ""
        grace = (
            f" After a grace period in which builds asking for it passed with a warning, they "
            f"fail from {builds_stopped} on."
            if builds_stopped
            else ""
        )
        super().__init__(
            f"Python {requested} has reached its end of life",
            f"{source} asks for Python {requested}, which reached its end of life{when}: it no "
            f"longer gets security fixes, and this buildpack no longer provides it.{grace} "
            "Supported versions:\n" + bullet_list(supported),
            f"Upgrade the app to a supported version and write it in {source}"
            + (f", ideally {recommended}." if recommended else "."),
        )


class PythonVersionUnknown(UserError):
    def __init__(self, requested: str, source: str, supported: Sequence[str]) -> None:
        super().__init__(
            f"Python {requested} is not known to this buildpack",
            f"{source} asks for Python {requested}, which is newer than any version this "
            "buildpack provides (or not yet released). Supported versions:\n"
            + bullet_list(supported),
            "Check that the version is released and that the build uses the newest version of "
            f"this buildpack, or write a supported version in {source}.",
        )


class PythonVersionNotAvailable(UserError):
    def __init__(self, requested: str, source: str, target: str, available: Sequence[str]) -> None:
        listed = bullet_list(available) if available else "  (none)"
        super().__init__(
            f"Python {requested} is not available",
            f"{source} asks for Python {requested}, but this buildpack has no such release for "
            f"{target}. Available versions:\n{listed}",
            "Ask for the major and minor version only (e.g. 3.13) to get the newest available "
            f"patch release, or write one of the versions above in {source}.",
        )


class NoPythonForTarget(UserError):
    def __init__(self, target: str) -> None:
        super().__init__(
            f"No Python available for {target}",
            f"This buildpack has no Python release for the build's platform ({target}).",
            "Build on a supported platform: linux on amd64 or arm64 with glibc.",
        )


# --- Python distributions: manifest, mirrors, downloads ---------------------------------------


class InvalidManifest(UserError):
    def __init__(self, path: str, problems: Sequence[str]) -> None:
        super().__init__(
            "Invalid Python versions manifest",
            f"The manifest of Python releases at {path} is not valid:\n" + bullet_list(problems),
            "This file ships with the buildpack: fix it (or rebuild the buildpack) so that every "
            "entry has the documented keys and formats.",
        )


class ManifestUnreadable(InvalidManifest):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, [f"cannot read the file: {reason}"])


class ManifestNotToml(InvalidManifest):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, [f"not valid TOML: {reason}"])


class InvalidDependencyMapping(UserError):
    def __init__(self, path: str, value: str) -> None:
        super().__init__(
            "Invalid dependency mapping",
            f"The dependency-mapping binding entry {path} contains {_q(value)}, which is not an "
            "http://, https:// or file:// URL.",
            "Put the URL of the replacement archive in that file, e.g. "
            "file:///deps/cpython.tar.gz or https://mirror.example.com/cpython.tar.gz.",
        )


class InvalidBinding(UserError):
    """A `ca-certificates` or `pip` service binding the build can't use (bindings.py).

    The message names the binding and the file, never its contents: they may be secrets."""

    def __init__(self, binding: str, problem: str, fix: str = "") -> None:
        super().__init__(
            f"Invalid service binding '{binding}'",
            f"The service binding '{binding}' can't be used: {problem}",
            fix
            or "Fix or remove the binding. A binding of type ca-certificates holds PEM "
            "certificate files; one of type pip holds a pip.conf and/or a .netrc.",
        )


class ArchiveNotFound(UserError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            "Python archive not found",
            f"Downloading {url} failed: {reason}. The archive does not exist there, or access "
            "to it is denied.",
            "If BP_PYTHON_MIRROR or a dependency-mapping binding is set, check that it serves "
            "this file; otherwise check that the build can reach the URL.",
        )


class DownloadFailed(UserError):
    def __init__(self, url: str, reason: str, attempts: int) -> None:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(
            "Unable to download Python",
            f"Downloading {url} failed{tries}: {reason}.",
            "This is often a temporary network or server problem: try the build again. If it "
            "keeps failing, check the build's network access, or set BP_PYTHON_MIRROR to a "
            "mirror the build can reach. A slow but working mirror can be given more time "
            "with BP_PYTHON_DOWNLOAD_TIMEOUT (seconds per attempt, 900 by default).",
        )


class ChecksumMismatch(UserError):
    def __init__(self, url: str, expected: str, actual: str) -> None:
        super().__init__(
            "Downloaded Python archive has the wrong checksum",
            f"The file downloaded from {url} does not match the checksum in the buildpack's "
            f"manifest.\n  expected sha256: {expected}\n  actual sha256:   {actual}\n"
            "The file was deleted. A mirror or dependency mapping may serve a different file, "
            "or the download was corrupted.",
            "Check that the mirror or mapped URL serves exactly the archive named in the "
            "manifest, then try the build again.",
        )


class UnsafeArchive(UserError):
    def __init__(self, archive: str, member: str, reason: str) -> None:
        super().__init__(
            "Refusing to unpack an unsafe archive",
            f"The archive {archive} contains {_q(member)}, which {reason}. Unpacking it could "
            "write outside the layer.",
            "Use the archive named in the buildpack's manifest; check any mirror or dependency "
            "mapping that serves it.",
        )


class ArchiveCorrupt(UserError):
    def __init__(self, archive: str, reason: str) -> None:
        super().__init__(
            "Unable to unpack the Python archive",
            f"The archive {archive} could not be unpacked: {reason}.",
            "Try the build again; if a mirror or dependency mapping serves the archive, check "
            "that it serves a complete .tar.gz or .tar.zst file.",
        )


class ArchiveTooLarge(UserError):
    def __init__(self, archive: str, limit: int) -> None:
        super().__init__(
            "The Python archive unpacks to too much data",
            f"The archive {archive} unpacks to more than {_size(limit)}, far more than a Python "
            "installation needs; unpacking stopped there (a compressed archive can expand to "
            "fill the disk).",
            "Use the archive named in the buildpack's manifest; check any mirror or dependency "
            "mapping that serves it. If the archive is right, raise max_unpacked_bytes for it in "
            "python-versions.toml.",
        )


class ZstdUnavailable(UserError):
    def __init__(self, archive: str) -> None:
        super().__init__(
            "Cannot decompress a .tar.zst archive",
            f"The archive {archive} is compressed with zstd, but the build image has neither "
            "the `zstd` command nor a Python zstd module.",
            "Install zstd in the build image, or use .tar.gz archives.",
        )


class BrokenPythonArchive(UserError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            "The Python archive is not usable",
            f"The archive downloaded from {url} was installed, but {reason}",
            "If you host your own archives (BP_PYTHON_MIRROR or a dependency-mapping binding), "
            "check that the archive was built for this OS and CPU, with the layout "
            "python/bin/python3 (see 'python -m tools.runtime_builder' in the buildpack's"
            " source).",
        )


class ToolWheelNotFound(UserError):
    def __init__(self, name: str, version: str, searched: Sequence[str]) -> None:
        super().__init__(
            f"Unable to find the wheel of {name} {version}",
            f"The buildpack installs {name} {version} from a wheel pinned by hash, but none of "
            "these places offers a matching wheel for this platform:\n" + bullet_list(searched),
            f"If the build cannot reach PyPI, set PIP_INDEX_URL (or PIP_FIND_LINKS) to a "
            f"package index or directory that has {name} {version}.",
        )


class ToolDownloadFailed(UserError):
    def __init__(self, name: str, url: str, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Unable to download {name}",
            f"Fetching {url} failed: {reason}.",
            "This is often a temporary network or server problem: try the build again. If it "
            "keeps failing, check PIP_INDEX_URL, PIP_CERT and the build's network access.",
        )


class ToolWheelChecksumMismatch(UserError):
    def __init__(self, url: str, expected: Sequence[str], actual: str) -> None:
        super().__init__(
            "Downloaded wheel has the wrong checksum",
            f"The file downloaded from {url} matches none of the hashes the buildpack pins "
            f"({', '.join(h[:12] + '…' for h in expected)}); its sha256 is {actual}. The file "
            "was not used.",
            "Check that the package index (PIP_INDEX_URL) serves the genuine file, then try "
            "the build again.",
        )


class PipInstallFailed(UserError):
    def __init__(self, describe: str, exit_code: int, tool: str = "pip") -> None:
        command = "uv pip install" if tool.startswith("uv") else "pip install"
        super().__init__(
            f"Installing {describe} with {tool} failed (exit status {exit_code})",
            f"{tool} could not install the app's dependencies; its output is above. Common "
            "causes:\n"
            + bullet_list(
                [
                    "a package name or version that does not exist on the package index",
                    "a version with no release for this Python version or CPU",
                    "an sdist whose build needs a system library or tool the build image lacks",
                    "a private index that needs credentials (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL)",
                ]
            ),
            f"Fix {describe.split(' (')[0]} and build again; running '{command}' with the "
            "same files locally, on the same Python version, usually shows the problem.",
        )


class PipCheckFailed(UserError):
    def __init__(self, problems: str) -> None:
        super().__init__(
            "The installed packages have conflicting requirements",
            f"'pip check' found (and BP_PIP_CHECK=strict makes this an error):\n{problems}",
            "Change the pinned versions so they satisfy each other, or set BP_PIP_CHECK=warn.",
        )


# --- the Python layer's check of its archive (layers/python.py) ------------------------------


class PythonArchiveHasNoPython(BrokenPythonArchive):
    def __init__(self, url: str) -> None:
        super().__init__(url, "it has no python/bin/python3")


class PythonArchiveDoesNotRun(BrokenPythonArchive):
    def __init__(self, url: str, stderr: str) -> None:
        super().__init__(url, f"the installed Python does not run here:\n{stderr.strip()}")


class PythonArchiveWrongVersion(BrokenPythonArchive):
    """A wrapper that exits 0, or an archive of another release, caught before it is used."""

    def __init__(self, url: str, printed: str, expected: str) -> None:
        # What the archive's python3 printed is cut short: it could print anything.
        found = printed.strip()[:40] or "(nothing)"
        super().__init__(url, f"it says it is Python {found}, not {expected}")


# --- wheels unpacked by the buildpack itself (wheel_install.py) --------------------------------


class WheelSchemeUnsupported(UnsafeArchive):
    def __init__(self, wheel: str, member: str, scheme: str) -> None:
        super().__init__(wheel, member, f"installs to '{scheme}'")


class WheelDistInfoNotOne(UnsafeArchive):
    def __init__(self, wheel: str, found: Iterable[str]) -> None:
        super().__init__(wheel, ", ".join(sorted(found)), "is not one .dist-info directory")


class WheelMemberOutside(UnsafeArchive):
    def __init__(self, wheel: str, member: str) -> None:
        super().__init__(wheel, member, "points outside the install directory")


# --- layers ---------------------------------------------------------------------------------

# `python -m venv` with the buildpack's own Python rarely fails for a reason in the app: a full
# disk, an unwritable layers directory, or a Python layer that no longer runs.
_VENV_FIX = (
    "Check that the build has free disk space and can write to its layers directory, then "
    "build again with the cache cleared (e.g. `pack build --clear-cache`) so Python is "
    "installed afresh. If it still fails, report it with this build log."
)


class VenvCreationFailed(UserError):
    """The app's virtual environment could not be made (`layers/venv.py`)."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(
            f"Creating the virtual environment failed (exit status {exit_code})",
            "'python -m venv --without-pip' with the buildpack's Python failed; its output is "
            "above.",
            _VENV_FIX,
        )
        self.exit_code = exit_code


class ToolVenvCreationFailed(UserError):
    """The venv of Poetry or Pipenv in its tool layer could not be made (`layers/tool.py`)."""

    def __init__(self, display: str, exit_code: int) -> None:
        super().__init__(
            f"Creating the venv of {display} failed (exit status {exit_code})",
            f"'python -m venv --without-pip' for {display}'s build-time layer failed; its "
            "output is above.",
            _VENV_FIX,
        )
        self.exit_code = exit_code


class ToolInstallFailed(UserError):
    """pip could not install Poetry or Pipenv into its tool layer (`layers/tool.py`)."""

    def __init__(self, name: str, display: str, version: str, exit_code: int) -> None:
        super().__init__(
            f"'pip install {name}=={version}' failed (exit status {exit_code})",
            f"Installing {display} into its build-time layer failed (see the output above).",
            "If the build cannot reach PyPI, set PIP_INDEX_URL to a package index that has "
            f"{name} {version} and its dependencies.",
        )
        self.exit_code = exit_code


# --- service bindings (bindings.py): one class per failure of `InvalidBinding` ---------------
# The base class stays above with the distributions; a fix left out is the generic one.


class BindingsDirUnreadable(InvalidBinding):
    def __init__(self, root: str, reason: str) -> None:
        super().__init__(root, f"the bindings directory can't be read ({reason})")


class BindingPipFileTwice(InvalidBinding):
    """Two `pip` bindings give the same file (pip.conf or .netrc): pip reads only one."""

    def __init__(self, binding: str, other: str, file_name: str) -> None:
        super().__init__(
            binding,
            f"binding '{other}' already gives a {file_name}, and pip can only use one.",
            f"Merge the two {file_name} files into one binding of type pip.",
        )


class BindingEntryNotAFile(InvalidBinding):
    def __init__(self, binding: str, entry: str) -> None:
        super().__init__(binding, f"{binding}/{entry} is not a regular file.")


class BindingFileUnreadable(InvalidBinding):
    def __init__(self, binding: str, entry: str, reason: str) -> None:
        super().__init__(
            binding,
            f"{binding}/{entry} can't be read ({reason}).",
            "Make the binding's files readable by the build user.",
        )


class BindingFileTooLarge(InvalidBinding):
    def __init__(self, binding: str, entry: str) -> None:
        super().__init__(binding, f"{binding}/{entry} is larger than 1 MiB.")


class BindingFileNotUtf8(InvalidBinding):
    def __init__(self, binding: str, entry: str) -> None:
        super().__init__(binding, f"{binding}/{entry} is not UTF-8 text.")


class BindingCertificateNotPem(InvalidBinding):
    def __init__(self, binding: str, entry: str) -> None:
        super().__init__(
            binding,
            f"{binding}/{entry} is not a PEM certificate (a base64 block between "
            "'-----BEGIN CERTIFICATE-----' and '-----END CERTIFICATE-----').",
            "Give each CA certificate in PEM form (e.g. `openssl x509 -in ca.der -inform "
            "der -out ca.pem`); a binding of type ca-certificates holds nothing else.",
        )


class BindingHasNoCertificate(InvalidBinding):
    def __init__(self, binding: str) -> None:
        super().__init__(binding, "this binding of type ca-certificates holds no certificate file.")


class BindingEntryUnknown(InvalidBinding):
    """An entry a `pip` binding does not use: refused rather than silently ignored."""

    def __init__(self, binding: str, entry: str) -> None:
        super().__init__(
            binding,
            f"it has an entry '{entry}', which a binding of type pip does not use.",
            "A binding of type pip holds a pip.conf and/or a .netrc (besides its type).",
        )


class BindingHasNoPipFile(InvalidBinding):
    def __init__(self, binding: str) -> None:
        super().__init__(binding, "this binding of type pip holds no pip.conf or .netrc.")


class BindingPipConfInvalid(InvalidBinding):
    """Names the line only: the parser's own message quotes it, and it may hold a password."""

    def __init__(self, binding: str, line: int | None) -> None:
        at = f" (line {line})" if line else ""
        super().__init__(
            binding,
            f"{binding}/pip.conf is not a valid pip configuration file{at}.",
            "pip.conf is an INI file: sections like [global] or [install] with key = value "
            "lines, e.g. index-url = https://pypi.example.com/simple.",
        )


class BindingNetrcInvalid(InvalidBinding):
    def __init__(self, binding: str, line: int | None) -> None:
        at = f" (line {line})" if line else ""
        super().__init__(
            binding,
            f"{binding}/.netrc is not a valid netrc file{at}.",
            "Write one line per host: machine <host> login <user> password <password>.",
        )


# --- launch processes and Django --------------------------------------------------------------


class InvalidProcfile(UserError):
    def __init__(self, line_number: int | None, line: str, reason: str) -> None:
        if line_number:
            title = f"Invalid Procfile (line {line_number})"
            detail = (
                f"Line {line_number} of the Procfile is not valid: {reason}.\n"
                f"  {line_number} | {_quoted_line(line)}"
            )
        else:
            title, detail = "Invalid Procfile", f"The Procfile is not valid: {reason}."
        super().__init__(
            title,
            detail,
            "Each line of the Procfile declares one process as '<process type>: <command>', "
            "for example:\n"
            "  web: gunicorn myapp.wsgi --bind 0.0.0.0:$PORT\n"
            "  worker: python worker.py\n"
            "Process types use only letters, digits, '.', '_' and '-'; the 'web' process is the "
            "image's default. Blank lines and lines starting with '#' are ignored.",
        )
        self.line_number = line_number


class ProcfileControlCharacters(InvalidProcfile):
    def __init__(self, line_number: int, line: str, characters: Sequence[str]) -> None:
        super().__init__(
            line_number,
            line,
            f"it contains control characters ({', '.join(characters)}), which a process "
            "type or command cannot hold",
        )


class ProcfileLineHasNoColon(InvalidProcfile):
    def __init__(self, line_number: int, line: str) -> None:
        super().__init__(
            line_number, line, "it has no ':' between the process type and its command"
        )


class ProcfileTypeMissing(InvalidProcfile):
    def __init__(self, line_number: int, line: str) -> None:
        super().__init__(line_number, line, "it has no process type before the ':'")


class ProcfileTypeInvalid(InvalidProcfile):
    def __init__(self, line_number: int, line: str, process_type: str) -> None:
        super().__init__(
            line_number,
            line,
            f"{process_type!r} is not a valid process type: use only letters, digits, '.', '_' "
            "and '-'",
        )


class ProcfileCommandMissing(InvalidProcfile):
    def __init__(self, line_number: int, line: str, process_type: str) -> None:
        super().__init__(line_number, line, f"the {process_type} process has no command")


class ProcfileTypeTwice(InvalidProcfile):
    def __init__(self, line_number: int, line: str, process_type: str, first_line: int) -> None:
        super().__init__(
            line_number,
            line,
            f"the {process_type} process is already defined on line {first_line}",
        )


class ProcfileHasNoProcess(InvalidProcfile):
    def __init__(self) -> None:
        super().__init__(None, "", "it defines no process (every line is empty or a comment)")


def _quoted_line(line: str) -> str:
    """A line of an app file, shown escaped and cut short (see `redact`)."""
    from .redact import escape, mask

    shown = escape(mask(line.rstrip()))
    return shown if len(shown) <= 160 else f"{shown[:160]} … ({len(shown) - 160} more characters)"


_COLLECTSTATIC_OPT_OUT = (
    "To build without collecting static files (for example when the app runs collectstatic "
    "itself at start-up), set BP_DISABLE_COLLECTSTATIC=1."
)


class DjangoConfigurationUnreadable(UserError):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(
            "Unable to inspect the Django configuration",
            "Before generating static files, the buildpack ran 'python manage.py help "
            f"collectstatic' to check whether django.contrib.staticfiles is enabled, and it "
            f"failed (exit status {exit_code}). Django said:\n\n{_indent(output)}",
            "This is a problem in the app's code or settings (run 'python manage.py check' "
            "locally to see it). Settings that read environment variables only set at run time "
            "(SECRET_KEY, DATABASE_URL, ...) need a default, or the variable set in the build "
            f"environment. {_COLLECTSTATIC_OPT_OUT}",
        )


class CollectstaticFailed(UserError):
    def __init__(self, exit_code: int, output: str) -> None:
        hint = ""
        if "STATIC_ROOT" in output:
            hint = (
                "\n\nDjango needs the STATIC_ROOT setting, the directory collectstatic copies "
                'files to, e.g. STATIC_ROOT = BASE_DIR / "staticfiles".'
            )
        super().__init__(
            f"'python manage.py collectstatic --noinput' failed (exit status {exit_code})",
            "The buildpack runs Django's collectstatic after installing the dependencies, since "
            "django.contrib.staticfiles is in INSTALLED_APPS. Its output is above; it ended "
            f"with:\n\n{_indent(output, lines=6)}{hint}",
            "Fix the static files settings (STATIC_ROOT, STATICFILES_DIRS, STORAGES) or the "
            "files they point at, and check it with 'python manage.py collectstatic --noinput' "
            "locally. If the app serves no static files, remove django.contrib.staticfiles from "
            f"INSTALLED_APPS. {_COLLECTSTATIC_OPT_OUT}",
        )


def _indent(output: str, lines: int = 40) -> str:
    tail = output.strip().splitlines()[-lines:]
    return "\n".join(f"  {line}" for line in tail) or "  (no output)"


# --- package managers ---------------------------------------------------------------------------
# Choosing one (`package_managers.choose_package_manager`).

_CONDA_FIX = (
    "This buildpack installs Python packages from PyPI-style indexes with pip, uv, Poetry or "
    "Pipenv; it does not run conda. Put the app's Python dependencies in a requirements.txt (or "
    "a pyproject.toml with uv.lock or poetry.lock), or build the app with a buildpack that "
    "supports conda."
)
_PIXI_FIX = (
    "This buildpack does not run pixi, and the conda packages of a pixi environment would be "
    "missing. If the app only needs PyPI packages, lock them with uv (uv.lock) or list them in "
    "requirements.txt; or set BP_PYTHON_PACKAGE_MANAGER=pip to install the pyproject.toml's "
    "[project] dependencies with pip."
)


class UnknownPackageManager(InvalidPlatformEnv):
    def __init__(self, value: str, known: Sequence[str]) -> None:
        super().__init__(
            "BP_PYTHON_PACKAGE_MANAGER",
            value,
            "that is not a package manager this buildpack knows.",
            f"Set it to one of: {', '.join(known)}.",
        )


class RequestedPackageManagerFileMissing(InvalidPlatformEnv):
    def __init__(self, value: str, display: str) -> None:
        super().__init__(
            "BP_PYTHON_PACKAGE_MANAGER",
            value,
            f"the app has no file for {display}.",
            "Add that package manager's file to the app, or unset the variable.",
        )


class ManifestMissing(PackageManagerFileMissing):
    """A lock file without the file it was made from (pyproject.toml, Pipfile)."""

    def __init__(self, lock_file: str, manifest: str, display: str) -> None:
        super().__init__(
            lock_file,
            manifest,
            f"Commit the {manifest} that {display} generated {lock_file} from: {display} "
            f"checks that {lock_file} is current against it.",
        )


class PipfileLockMissing(PackageManagerFileMissing):
    def __init__(self) -> None:
        super().__init__(
            "Pipfile",
            "Pipfile.lock",
            "Run 'pipenv lock' and commit the Pipfile.lock it writes, so the build installs "
            "exactly the versions you tested with.",
        )


class PoetryLockMissing(PackageManagerFileMissing):
    """A pyproject.toml with [tool.poetry.dependencies] and no poetry.lock."""

    def __init__(self) -> None:
        super().__init__(
            "pyproject.toml",
            "poetry.lock",
            "Its [tool.poetry.dependencies] make it a Poetry project, and the buildpack installs "
            "a Poetry project from its lock file. Run 'poetry lock' and commit the poetry.lock "
            "it writes, so the build installs exactly the versions you tested with.",
        )


class CondaNotSupported(UnsupportedPackageManager):
    def __init__(self, file: str) -> None:
        super().__init__(file, "conda", _CONDA_FIX)


class PixiNotSupported(UnsupportedPackageManager):
    def __init__(self, file: str) -> None:
        super().__init__(file, "pixi", _PIXI_FIX)


# --- package managers: uv, Poetry, Pipenv -----------------------------------------------------


class LockFileOutdated(UserError):
    def __init__(self, tool: str, lock_file: str, manifest: str, fix_command: str) -> None:
        super().__init__(
            f"{lock_file} is out of date",
            f"{tool} says that {lock_file} no longer matches {manifest} (its message is "
            f"above). The build installs exactly what {lock_file} lists, so it must be "
            f"regenerated whenever the dependencies in {manifest} change.",
            f"Run '{fix_command}' and commit the {lock_file} it writes, then build again.",
        )


class PoetryProjectNotInstallable(UserError):
    def __init__(self) -> None:
        super().__init__(
            "Poetry could not install the project itself",
            "Poetry installs the project's own package (editable) unless package-mode is false, "
            "and it found no package of that name where it looked (see Poetry's message above).",
            "If the app is not a package (most web apps), set package-mode = false under "
            "[tool.poetry] in pyproject.toml. If it is, say where its code is with "
            'packages = [{ include = "<package>", from = "src" }] under [tool.poetry].',
        )


class PackageManagerInstallFailed(UserError):
    def __init__(
        self, tool: str, command: str, exit_code: int, lock_file: str, python_version: str
    ) -> None:
        super().__init__(
            f"Installing the dependencies with {tool} failed (exit status {exit_code})",
            f"'{command}' failed; its output is above. Common causes:\n"
            + bullet_list(
                [
                    f"a package index named in {lock_file} that the build cannot reach, or "
                    "that needs credentials",
                    f"a locked package with no release for Python {python_version} or this CPU",
                    "an sdist whose build needs a system library or tool the build image lacks",
                    f"a project Python requirement that Python {python_version} does not meet",
                ]
            ),
            f"Run '{command}' locally with the same {lock_file} and Python {python_version}; "
            "it usually shows the problem.",
        )


class LockedPackagesInstallFailed(PipInstallFailed):
    """Pipenv's lock file, exported to requirements and installed with pip, failed to install."""

    def __init__(self, lock_file: str, exit_code: int) -> None:
        super().__init__(f"the packages of {lock_file}", exit_code)
