"""The model registry: shipped models (``models/`` in the repository) and the user's own.

The user folder is ``$MEDVISION_HOME/models``, defaulting to
``~/.local/share/medvision/models``. Every model listed, imported or opened
is verified; shipped models can be verified but not removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from medvision_app.inference.card import ModelCard
from medvision_app.inference.errors import ModelError
from medvision_app.inference.model import VerifiedModel, card_path_for, verify_bytes, verify_model
from medvision_app.inference.provenance import Provenance, assess
from medvision_app.inference.shipped_models import is_shipped_name
from medvision_app.utils.atomic import atomic_write_bytes, atomic_write_text
from medvision_app.utils.paths import user_data_dir
from medvision_app.utils.shipped import data_root

SHIPPED_DIR = data_root() / "models"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


@dataclass(frozen=True)
class RegistryEntry:
    """One model file found in a registry folder.

    ``card`` is None and ``problem`` says why when the file failed verification.
    """

    name: str
    path: Path
    location: str  # "shipped" | "user": the folder it was found in
    card: Optional[ModelCard]
    problem: Optional[str] = None
    # "shipped" | "signed" | "unverified" (inference.provenance), None when refused;
    # a file in the shipped folder is "shipped" only when its bytes match the pin.
    provenance: Optional[str] = None
    provenance_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None


def is_path(text: str) -> bool:
    """A model argument is a path when it holds a separator or ends in ``.onnx``; else it is a registered name."""
    return "/" in text or os.sep in text or text.endswith(".onnx")


class ModelRegistry:
    def __init__(self, shipped: Optional[Path] = None, user: Optional[Path] = None) -> None:
        self.shipped = Path(shipped) if shipped is not None else SHIPPED_DIR
        self.user = Path(user) if user is not None else user_models_dir()

    def _folders(self) -> list[tuple[str, Path]]:
        return [("shipped", self.shipped), ("user", self.user)]

    def list(self) -> list[RegistryEntry]:
        """All ``.onnx`` files of both folders, each verified (shipped first, then by name)."""
        entries = []
        for location, folder in self._folders():
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.onnx")):
                try:
                    verified = verify_model(path)
                    provenance = assess(verified, path.stem)
                    entries.append(RegistryEntry(path.stem, path, location, verified.card,
                                                 provenance=provenance.state, provenance_detail=provenance.detail))
                except ModelError as exc:
                    entries.append(RegistryEntry(path.stem, path, location, None, exc.reason))
        return entries

    def resolve(self, name_or_path: str | Path) -> Path:
        """A model file from a path or a registered name, told apart by their form.

        A path has a separator or ends in ``.onnx``; anything else is a
        registered name, looked up in the registry only (a file of that name
        in the current folder is not used). A shipped model's name always
        means the shipped file; other user models shadow shipped ones.
        """
        text = str(name_or_path)
        if is_path(text):
            return Path(text)
        folders = self._folders() if is_shipped_name(text) else list(reversed(self._folders()))
        for _location, folder in folders:
            path = folder / f"{text}.onnx"
            if path.is_file():
                return path
        raise ModelError(Path(text), "no registered model of this name (a model file is given as a path: "
                                     "with a / or ending in .onnx)")

    def inspect(self, name_or_path: str | Path) -> tuple[VerifiedModel, Provenance]:
        """Verify a model and assess its provenance (:class:`ModelError` when refused)."""
        verified = verify_model(self.resolve(name_or_path))
        return verified, assess(verified)

    def verify(self, name_or_path: str | Path) -> ModelCard:
        return self.inspect(name_or_path)[0].card

    def import_model(self, source: str | Path, *, name: Optional[str] = None, overwrite: bool = False) -> Path:
        """Verify ``source`` and copy it (with its card as JSON) into the user folder."""
        source = Path(source)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise ModelError(source, f"cannot read: {exc.strerror or exc}") from None
        verified = verify_bytes(source, data)
        stem = name or source.stem
        if not stem or "/" in stem or stem.startswith("."):
            raise ModelError(source, f"invalid model name {stem!r}")
        if is_shipped_name(stem):
            raise ModelError(source, f"{stem!r} is the name of a model shipped with MedVision; "
                                     "no other file may take it (choose another --name)")
        assess(verified, stem)  # refuses a file whose card claims a shipped model's name
        target = self.user / f"{stem}.onnx"
        if target.exists() and not overwrite:
            raise ModelError(target, "a user model with this name exists (remove it or choose another name)")
        card_text = verified.card.to_json()
        atomic_write_text(card_path_for(target), card_text)
        atomic_write_bytes(target, data)
        return target

    def remove(self, name: str) -> Path:
        """Delete a user model and its card; shipped models cannot be removed."""
        target = self.user / f"{name}.onnx"
        if not target.is_file():
            if (self.shipped / f"{name}.onnx").is_file():
                raise ModelError(self.shipped / f"{name}.onnx", "shipped models cannot be removed")
            raise ModelError(target, "no user model with this name")
        target.unlink()
        card = card_path_for(target)
        if card.exists():
            card.unlink()
        return target

