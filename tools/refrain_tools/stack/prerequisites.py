"""Find the gcloud emulators and Java, or say exactly what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 17
ROOT = Path(__file__).resolve().parents[3]
# firebase-tools (pinned in tools/firebase/package-lock.json), installed by scripts/setup.sh.
FIREBASE_CLI = ROOT / ".tools" / "firebase" / "node_modules" / ".bin" / "firebase"
FIREBASE_HINT = (
    "the Firebase Auth emulator (firebase-tools; run scripts/setup.sh, which installs the "
    "pinned version into .tools/firebase with npm ci; it needs Node.js 20+ and npm)"
)
INSTALL_HINT = (
    "Install them with: gcloud components install cloud-firestore-emulator pubsub-emulator "
    "(on Debian/Ubuntu with the apt-installed SDK: apt-get install "
    "google-cloud-cli-firestore-emulator google-cloud-cli-pubsub-emulator), "
    f"and a Java {MIN_JAVA}+ runtime (apt-get install openjdk-17-jre-headless)."
)


class MissingPrerequisite(RuntimeError):
    """A tool the local stack needs is not installed."""


@dataclass(frozen=True)
class Emulators:
    firestore: Path
    pubsub: Path
    java: Path
    firebase: Path  # the Auth emulator's CLI


def _sdk_roots() -> list[Path]:
    roots: list[Path] = []
    if env_root := os.environ.get("CLOUDSDK_ROOT_DIR"):
        roots.append(Path(env_root))
    if gcloud := shutil.which("gcloud"):
        roots.append(Path(gcloud).resolve().parent.parent)
    roots += [Path("/usr/lib/google-cloud-sdk"), Path("/usr/local/google-cloud-sdk")]
    roots.append(Path.home() / "google-cloud-sdk")
    return roots


def _java_major(java: str) -> int:
    out = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_emulators() -> Emulators:
    """Locate both emulators and a Java runtime new enough to run them."""
    missing: list[str] = []
    firestore = pubsub = None
    for root in _sdk_roots():
        fs = root / "platform/cloud-firestore-emulator/cloud_firestore_emulator"
        ps = root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator"
        firestore = firestore or (fs if fs.exists() else None)
        pubsub = pubsub or (ps if ps.exists() else None)
    if firestore is None:
        missing.append("the Firestore emulator (gcloud component cloud-firestore-emulator)")
    if pubsub is None:
        missing.append("the Pub/Sub emulator (gcloud component pubsub-emulator)")
    firebase = Path(os.environ.get("REFRAIN_FIREBASE_CLI") or FIREBASE_CLI)
    if not firebase.exists() or shutil.which("node") is None:
        missing.append(FIREBASE_HINT)
    java = shutil.which("java")
    if java is None:
        missing.append(f"Java {MIN_JAVA}+")
    elif (major := _java_major(java)) < MIN_JAVA:
        missing.append(f"Java {MIN_JAVA}+ (found Java {major} at {java})")
    if missing or firestore is None or pubsub is None or java is None:
        raise MissingPrerequisite("Missing: " + "; ".join(missing) + ". " + INSTALL_HINT)
    return Emulators(firestore=firestore, pubsub=pubsub, java=Path(java), firebase=firebase)
