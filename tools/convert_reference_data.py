"""Convert the published reference documents into the project's own catalog manifests.

Run by hand when the reference documents change:

    .venv/bin/python tools/convert_reference_data.py ../shared/reference-data catalog/reference

Nothing at run time, in the tests or in the Makefile reads the source folder: the portal
ships the converted copy in ``catalog/reference``. Every manifest is validated by the same
pydantic models the loader uses before it is written. Where a source lacks a fact the field
stays empty; where a source contradicts itself the manifest records a known issue instead of
silently choosing.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import django
import webcolors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from catalog.schemas.manifest import (  # noqa: E402
    CollectionManifest,
    DatasetManifest,
    LabelClassesManifest,
    VocabularyManifest,
)

CHALLENGE_COMMIT = "janelia-cellmap/cellmap-segmentation-challenge@6b9ad6893ef1059227917af2a59cc2e61d84fa7e"
OPENORGANELLE_COMMIT = "janelia-cellmap/fibsem-metadata@834bc55662526fa3d98558e5498f92372fd7dd89"
P7_DATASETS = {
    "jrc_mus-pancreas-4": "Pancreas",
    "jrc_mus-liver-3": "Liver",
    "jrc_mus-kidney-3": "Kidney",
    "jrc_mus-heart-1": "Heart",
    "jrc_mus-thymus-1": "Thymus",
    "jrc_mus-hippocampus-1": "Hippocampus",
    "jrc_mus-skin-1": "Skin",
}

ORGANISMS = [
    {"name": "Homo sapiens", "slug": "homo-sapiens", "common_name": "Human", "ncbi_taxonomy_id": 9606},
    {"name": "Mus musculus", "slug": "mus-musculus", "common_name": "Mouse", "ncbi_taxonomy_id": 10090},
    {
        "name": "Drosophila melanogaster",
        "slug": "drosophila-melanogaster",
        "common_name": "Fruit fly",
        "ncbi_taxonomy_id": 7227,
    },
    {
        "name": "Caenorhabditis elegans",
        "slug": "caenorhabditis-elegans",
        "common_name": "Nematode",
        "ncbi_taxonomy_id": 6239,
    },
    {"name": "Danio rerio", "slug": "danio-rerio", "common_name": "Zebrafish", "ncbi_taxonomy_id": 7955},
    {
        "name": "Chlorocebus aethiops",
        "slug": "chlorocebus-aethiops",
        "common_name": "Grivet",
        "ncbi_taxonomy_id": 9534,
    },
    # OpenOrganelle says only "Monkey" for the COS-7 cells (jrc_cos7-11, ATCC CRL-1651) and the
    # challenge's jrc_cos7-1a/1b: no source names the species, so it stays open (and the record
    # shows as incomplete to curators).
    {"name": "Monkey", "slug": "monkey", "common_name": "Monkey", "ncbi_taxonomy_id": None},
]
# Species a manifest that says only "Monkey" names in its own title or sample description:
# jrc_ccl81-covid-1 is "grivet kidney epithelial (Vero) cells".
MONKEY_SPECIES_NAMED = {"grivet": "Chlorocebus aethiops"}
OPENORGANELLE_ORGANISMS = {
    "Human": "Homo sapiens",
    "Mouse": "Mus musculus",
    "Drosophila": "Drosophila melanogaster",
    "fly": "Drosophila melanogaster",
    "C. Elegans": "Caenorhabditis elegans",
    "Monkey": "Monkey",
}
TISSUES = [
    ("Brain", "UBERON:0000955"),
    ("Choroid plexus", "UBERON:0001886"),
    ("Heart", "UBERON:0000948"),
    ("Hippocampus", "UBERON:0002421"),
    ("Kidney", "UBERON:0002113"),
    ("Liver", "UBERON:0002107"),
    ("Nucleus accumbens", "UBERON:0001882"),
    ("Pancreas", "UBERON:0001264"),
    ("Skin", "UBERON:0002097"),
    ("Spinal cord", "UBERON:0002240"),
    ("Thymus", "UBERON:0002370"),
    ("Ventral nerve cord", ""),
]
OPENORGANELLE_TISSUES = {"Spinal Cord": "Spinal cord"}
SAMPLE_TYPES = {"Cell culture": "cell-culture", "Tissue": "tissue", "Whole organism": "whole-organism"}

# Challenge datasets that OpenOrganelle's 2023 snapshot does not describe. Their organism and
# tissue come from the Janelia dataset id (jrc_<sample>-<tissue>-<n>), read the same way as the
# OpenOrganelle records of sibling samples (jrc_cos7-11 is COS-7 from monkey, jrc_fly-mb-z0419-20
# is Drosophila brain); ids that do not name a sample (jrc_ut21-1413-003) stay empty.
CHALLENGE_ONLY_SAMPLES: dict[str, dict] = {
    "jrc_cos7-1a": {"organism": "Monkey", "type": "cell-culture", "cell_types": ["COS-7"]},
    "jrc_cos7-1b": {"organism": "Monkey", "type": "cell-culture", "cell_types": ["COS-7"]},
    "jrc_fly-mb-1a": {"organism": "Drosophila melanogaster", "type": "tissue", "tissues": ["Brain"]},
    "jrc_fly-vnc-1": {"organism": "Drosophila melanogaster", "type": "tissue", "tissues": ["Ventral nerve cord"]},
    "jrc_mus-heart-1": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Heart"]},
    "jrc_mus-kidney-3": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Kidney"]},
    "jrc_mus-kidney-glomerulus-2": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Kidney"]},
    "jrc_mus-liver-3": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Liver"]},
    "jrc_mus-liver-zon-1": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Liver"]},
    "jrc_mus-liver-zon-2": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Liver"]},
    "jrc_mus-nacc-1": {"organism": "Mus musculus", "type": "tissue", "tissues": ["Nucleus accumbens"]},
    "jrc_sum159-4": {"organism": "Homo sapiens", "type": "cell-culture", "cell_types": ["SUM-159"]},
    "jrc_ut21-1413-003": {},
    "jrc_zf-cardiac-1": {"organism": "Danio rerio", "type": "tissue", "tissues": ["Heart"]},
}

# OpenOrganelle volume names that do not spell a CellMap class once '-' becomes '_'.
OPENORGANELLE_CLASS_ALIASES = {"nucleus": "nuc", "vesicle": "ves", "vesicle-mem": "ves_mem", "nucleolus": "nucleo"}
VOLUME_NAME_SUFFIXES = ("_instance_seg_ariadne", "_seg_ariadne", "_seg", "_pred")
CONTENT_TYPES = {"em": "em", "lm": "lm", "prediction": "prediction", "segmentation": "segmentation"}

# The contributors that OpenOrganelle's "contributions" sentences name and that are not people.
CONTRIBUTING_ORGANISATIONS = {"COSEM Project Team", "Ariadne.ai", "Craig Blackstone Lab"}
NAME_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "le", "la"}
PERSON_NAME = re.compile(r"^(?:[A-Z][\w'-]*\.?|[a-z]+)(?: (?:[A-Z][\w'-]*\.?|[a-z]+)){1,3}$")
P7_TEAM = "CellMap Project Team"
P7_INSTITUTION = "HHMI/Janelia"
# Release posts: what they publish, and the date in their front matter.
P7_POST = "p7-mouse-tissue-release.md"
CHALLENGE_POST = "cellmap-segmentation-challenge.md"
# Lines of the challenge post that were true only before it went out, or are an editing tool's
# leftovers; the portal shows the post as its collection's "About".
STALE_PROMOTIONS = [
    re.compile(r" *Submissions will open in early 2025\."),
    re.compile(r"^Here[\u2019']s an enhanced version of .*\n+---\n+", flags=re.MULTILINE),
]


def main(source: Path, target: Path) -> None:
    """Write vocabulary, classes, collections and one manifest per dataset into ``target``."""
    classes = label_classes(source)
    class_names = {c["name"] for c in classes}
    alias_to_class = {alias: c["name"] for c in classes for alias in c["aliases"]} | {n: n for n in class_names}
    challenge = challenge_data(source)
    p7_release = post_date(source / "sources" / P7_POST)
    challenge_release = post_date(source / "sources" / CHALLENGE_POST)
    datasets: dict[str, dict] = {}
    for path in sorted((source / "openorganelle" / "manifests").glob("*.json")):
        record = openorganelle_dataset(json.loads(path.read_text()), alias_to_class, challenge)
        datasets[record["slug"]] = record
    openorganelle_slugs = set(datasets)
    for slug in challenge["datasets"]:
        if slug not in datasets:
            datasets[slug] = challenge_only_dataset(slug)
        add_challenge_facts(datasets[slug], challenge)
    for slug, tissue in P7_DATASETS.items():
        datasets.setdefault(slug, {"slug": slug})
        add_p7_facts(datasets[slug], tissue, p7_release)
    for slug in challenge["datasets"]:
        # Data that OpenOrganelle already published is older than the challenge: its release date
        # is not known, and the challenge's would be wrong.
        if slug not in openorganelle_slugs and not datasets[slug].get("release_date"):
            set_release(datasets[slug], challenge_release, "the CellMap Segmentation Challenge release post")
    datasets["platelet-em"] = platelet_em()
    datasets["mouse-brain-confocal"] = mouse_brain_confocal()

    write(target / "vocabulary.json", VocabularyManifest(organisms=ORGANISMS, tissues=tissue_entries()))
    write(target / "label-classes.json", LabelClassesManifest(classes=classes))
    write(target / "collections" / "cellmap-segmentation-challenge.json", challenge_collection(source, challenge))
    write(target / "collections" / "p7-mouse-tissue.json", p7_collection(source))
    for stale in (target / "datasets").glob("*.json"):
        stale.unlink()
    for slug, record in sorted(datasets.items()):
        write(target / "datasets" / f"{slug}.json", DatasetManifest.model_validate(record))


def post_date(path: Path) -> str:
    """The date (YYYY-MM-DD) in a release post's front matter."""
    return front_matter(path)[0]["date"][:10]


def set_release(record: dict, date: str, source: str) -> None:
    """The date a release post first published the record's data, and where that date comes from."""
    record["release_date"] = date
    record["provenance"] += f"; release date from {source}"


def contributors(text: str) -> list[str]:
    """The people and teams an OpenOrganelle "contributions" text names, in order, each once.

    The text is a few sentences of "<role> by <name>, <name> and <name> (<affiliation>)"; a
    name is a run of capitalised words (initials and particles such as "van" included) that
    ends at a separator, a full stop or the end. Affiliations in parentheses are dropped.
    """
    plain = re.sub(r"\([^)]*\)", " , ", text)  # an affiliation ends the name before it
    names: list[str] = []
    for segment in re.split(r"\bby\b", plain)[1:]:
        current: list[str] = []
        for token in re.findall(r"[^\s,&]+|[,&]", segment):
            if token in (",", "&", "and"):
                if current:
                    names.append(" ".join(current))
                current = []
                continue
            if token == ".":  # the full stop after an affiliation
                break
            word = token
            sentence_end = word.endswith(".") and not re.fullmatch(r"[A-Z]\.", word)
            if sentence_end:
                word = word[:-1]
            if not (word[:1].isupper() or (word in NAME_PARTICLES and current)):
                current = []  # "EM imaging by ...": a capitalised word that starts a role, not a name
                break
            current.append(word)
            if sentence_end:
                break
        if current:
            names.append(" ".join(current))
    return list(dict.fromkeys(names))


def creator_entry(name: str) -> dict:
    """A contributor as a manifest creator: a known organisation, or a person split into given and family."""
    if name in CONTRIBUTING_ORGANISATIONS:
        return {"name": name}
    if not PERSON_NAME.match(name):
        raise SystemExit(f"{name!r}: neither a known contributing organisation nor a person's name")
    words = name.split()
    family_start = len(words) - 1
    while family_start > 1 and words[family_start - 1] in NAME_PARTICLES:
        family_start -= 1
    return {"name": name, "given_name": " ".join(words[:family_start]), "family_name": " ".join(words[family_start:])}


def write(path: Path, manifest) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = manifest.model_dump(mode="json", exclude_defaults=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def tissue_entries() -> list[dict]:
    return [{"name": name, "slug": slugify(name), "uberon_id": uberon} for name, uberon in TISSUES]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def label_classes(source: Path) -> list[dict]:
    """The 77 classes of the challenge docs, with OpenOrganelle's descriptions and colours."""
    rows = list(csv.DictReader((source / "cellmap-challenge" / "docs_classes.csv").open()))
    by_id = {int(row["class_id"]): row["field_name"] for row in rows}
    code_names = {
        int(row[1]): row[0] for row in csv.reader((source / "cellmap-challenge" / "classes.csv").open()) if row
    }
    openorganelle = json.loads((source / "openorganelle" / "organelle-classes.json").read_text())
    long_names = {row["long_name"].lower(): row["field_name"] for row in rows}
    descriptions: dict[str, dict] = {}
    oo_aliases: dict[str, list[str]] = defaultdict(list)
    for oo_name, entry in openorganelle.items():
        underscored = oo_name.replace("-", "_")
        name = OPENORGANELLE_CLASS_ALIASES.get(oo_name) or (
            underscored if underscored in by_id.values() else long_names.get(entry["description"].lower())
        )
        if name:
            descriptions[name] = entry
            if oo_name != name:
                oo_aliases[name].append(oo_name)
    classes = []
    for row in rows:
        name = row["field_name"]
        label_id = int(row["class_id"])
        aliases = list(oo_aliases[name])
        if code_names.get(label_id, name) != name:
            aliases.append(code_names[label_id])
        entry = descriptions.get(name, {})
        classes.append(
            {
                "name": name,
                "label_id": label_id,
                "long_name": row["long_name"],
                "description": entry.get("description", ""),
                "colour": entry.get("color", ""),
                "members": [by_id[int(i)] for i in row["ids included"].split("-") if i],
                "instance_scored": row["instance_challenge"] == "True",
                "semantic_scored": row["semantic_challenge"] == "True",
                "aliases": aliases,
            }
        )
    return classes


def zyx(text: str, cast=float) -> dict:
    """Read a '[z;y;x]' vector of the challenge manifests as an axis object."""
    z, y, x = (cast(v) for v in text.strip("[]").split(";"))
    return {"x": x, "y": y, "z": z}


def challenge_data(source: Path) -> dict:
    folder = source / "cellmap-challenge"
    crops: dict[int, dict] = {}
    for split, filename in (("train", "train_crop_manifest.csv"), ("test", "test_crop_manifest.csv")):
        for row in csv.DictReader((folder / filename).open()):
            number = int(row["crop_name"])
            crop = crops.setdefault(
                number,
                {
                    "number": number,
                    "dataset": row["dataset"],
                    "split": split,
                    "voxel_size_nm": zyx(row["voxel_size"]),
                    "translation_nm": zyx(row["translation"]),
                    "shape": zyx(row["shape"], int),
                    "label_classes": [],
                },
            )
            if (crop["dataset"], crop["voxel_size_nm"], crop["shape"]) != (
                row["dataset"],
                zyx(row["voxel_size"]),
                zyx(row["shape"], int),
            ):
                raise SystemExit(f"crop {number}: rows disagree on its geometry")
            crop["label_classes"].append(row["class_label"])
    em_urls: dict[str, str] = {}
    for row in csv.DictReader((folder / "manifest.csv").open()):
        crops[int(row["crop_number"])]["labels_url"] = row["crop_url"]
        em_urls[row["collection"]] = row["em_url"]
    for row in csv.DictReader((folder / "SegmentationChallengeWithNeuroglancerURLs_20241211_s3.csv").open()):
        crops[int(row["crop_number"].removeprefix("crop"))]["published_state_url"] = row["url"].split("#!", 1)[1]
    dataset_states = {
        row["collection"]: row["url"].split("#!", 1)[1]
        for row in csv.DictReader((folder / "SegmentationChallengeWithNeuroglancerURLs_20241211_all_s3.csv").open())
    }
    downloads = [
        {
            "name": row["file"],
            "url": row["url"],
            "all_resolutions": row["all_res"] == "True",
            "raw_padding": int(row["raw_padding"]),
        }
        for row in csv.DictReader((folder / "zip_manifest.csv").open())
    ]
    return {
        "datasets": list(dataset_states),
        "states": dataset_states,
        "em_urls": em_urls,
        "crops": crops,
        "downloads": downloads,
    }


def fixation_of(protocol: str) -> str | None:
    text = protocol.lower()
    if "high pressure freez" in text or "high-pressure freez" in text:
        return "hpf"
    if any(word in text for word in ("chemical", "glutaraldehyde", "paraformaldehyde", "postfixed")):
        return "chemical"
    return None


EMBEDDING_RESINS = {"eponate 12": "Eponate 12", "durcupan": "Durcupan", "epon": "Epon", "spurr": "Spurr"}


def embedding_of(protocol: str) -> str:
    match = re.search("|".join(EMBEDDING_RESINS), protocol, flags=re.IGNORECASE)
    return EMBEDDING_RESINS[match.group(0).lower()] if match else ""


def class_of_volume(name: str, content_type: str, alias_to_class: dict[str, str]) -> str | None:
    if content_type not in ("segmentation", "prediction"):
        return None
    base = name
    for suffix in VOLUME_NAME_SUFFIXES:
        if base.endswith(suffix):
            base = base.removesuffix(suffix)
            break
    return (
        OPENORGANELLE_CLASS_ALIASES.get(base) or alias_to_class.get(base) or alias_to_class.get(base.replace("-", "_"))
    )


def oo_vector(transform: dict, key: str) -> dict:
    values = dict(zip(transform["axes"], transform[key], strict=True))
    return {axis: values[axis] for axis in ("x", "y", "z")}


def colour_hex(name: str | None) -> str:
    return webcolors.name_to_hex(name) if name else ""


def openorganelle_organism(meta: dict) -> str | None:
    """The species; for "Monkey", the species the record's own title or description names, if any."""
    if not meta["sample"]["organism"]:
        return None
    organism = OPENORGANELLE_ORGANISMS[meta["sample"]["organism"][0]]
    if organism == "Monkey":
        text = f"{meta['title']} {meta['sample']['description']}".lower()
        named = [species for word, species in MONKEY_SPECIES_NAMED.items() if re.search(rf"\b{word}\b", text)]
        if len(named) == 1:
            return named[0]
    return organism


def openorganelle_dataset(manifest: dict, alias_to_class: dict[str, str], challenge: dict) -> dict:
    meta = manifest["metadata"]
    imaging = meta["imaging"]
    sample = meta["sample"]
    slug = manifest["name"]
    known_issues = []
    sample_type = SAMPLE_TYPES[sample["type"][0]] if sample["type"] else None
    subtypes = sample["subtype"]
    tissues = [OPENORGANELLE_TISSUES.get(s, s) for s in subtypes] if sample_type == "tissue" else []
    cell_types = subtypes if sample_type == "cell-culture" else []
    extent_unit = imaging["dimensions"]["unit"]
    extent_factor = {"nm": 1.0, "µm": 1000.0, "um": 1000.0}[extent_unit]
    dois = []
    for entry in meta["DOI"]:
        title = entry["title"]
        group = {"EM": "em", "Segmentations": "segmentations", "Segementations": "segmentations"}[title]
        if title == "Segementations":
            known_issues.append(
                {
                    "field": "dois",
                    "message": f"{entry['href']} is titled 'Segementations' upstream; read as Segmentations",
                }
            )
        dois.append({"doi": entry["href"], "group": group})
    publications = []
    for entry in meta["publications"]:
        text = entry["title"] if isinstance(entry, dict) else entry
        year = re.search(r"(19|20)\d\d", text)
        publications.append(
            {
                "title": text,
                "authors": re.sub(r",?\s*(19|20)\d\d$", "", text).strip(", "),
                "year": int(year.group(0)) if year else None,
                "doi": entry["href"] if isinstance(entry, dict) and "doi.org/" in entry["href"] else None,
                "url": entry["href"] if isinstance(entry, dict) else "",
            }
        )
    volumes = []
    for name, source in manifest["sources"].items():
        content_type = CONTENT_TYPES.get(source["contentType"], source["contentType"])
        kind = "segmentation" if source["sampleType"] == "label" else "image"
        if name == "gt":
            content_type = "groundtruth"
        limits = source["displaySettings"]["contrastLimits"]
        volumes.append(
            {
                "name": name,
                "description": source["description"],
                "url": source["url"],
                "format": source["format"],
                "kind": kind,
                "content_type": content_type,
                "label_class": class_of_volume(name, content_type, alias_to_class),
                "scale_nm": oo_vector(source["transform"], "scale"),
                "translation_nm": oo_vector(source["transform"], "translate"),
                "display": {
                    "contrast": {k: limits[k] for k in ("min", "max", "start", "end")},
                    "colour": colour_hex(source["displaySettings"].get("color")),
                    "invert_lut": source["displaySettings"]["invertLUT"],
                },
                "meshes": [
                    {
                        "name": mesh["name"],
                        "description": mesh["description"],
                        "url": mesh["url"],
                        "format": mesh["format"],
                        "scale_nm": oo_vector(mesh["transform"], "scale"),
                        "translation_nm": oo_vector(mesh["transform"], "translate"),
                        "segment_ids": mesh["ids"],
                    }
                    for mesh in source["subsources"]
                ],
            }
        )
    classes_by_volume = {v["name"]: v["label_class"] for v in volumes}
    views = []
    for view in manifest["views"]:
        position = view.get("position")
        views.append(
            {
                "name": view["name"],
                "description": view["description"],
                "position_nm": dict(zip(("x", "y", "z"), position, strict=True)) if position else None,
                "scale": view.get("scale"),
                "orientation": view.get("orientation"),
                "layers": view["sources"],
                "organelles": sorted({classes_by_volume[s] for s in view["sources"] if classes_by_volume.get(s)}),
            }
        )
    grid = imaging["gridSpacing"]["values"]
    beam = {
        "bias_voltage_v": imaging["biasVoltage"],
        "scan_rate_mhz": imaging["scanRate"],
        "current_na": imaging["current"],
        "primary_energy_ev": imaging["primaryEnergy"],
    }
    if not (imaging["scanRate"] or imaging["current"] or imaging["primaryEnergy"]):
        known_issues.append(
            {
                "field": "imaging",
                "message": "upstream gives 0 for bias voltage, scan rate, current and primary energy, "
                "i.e. not recorded; left empty",
            }
        )
        beam = dict.fromkeys(beam)
    return {
        "slug": slug,
        "title": meta["title"],
        "description": sample["description"],
        "organism": openorganelle_organism(meta),
        "tissues": tissues,
        "sample": {
            "type": sample_type,
            "protocol": sample["protocol"],
            "fixation": fixation_of(sample["protocol"]),
            "embedding": embedding_of(sample["protocol"]),
            "contributions": sample["contributions"],
            "cell_types": cell_types,
            "treatments": [t for t in sample["treatment"] if t],
        },
        "imaging": {
            "modality": "efib-sem" if slug in challenge["datasets"] else "fib-sem",
            "acquisition_id": imaging["id"],
            "institution": imaging["institution"],
            "start_date": imaging["startDate"],
            "duration_days": imaging["duration"],
            **beam,
            "voxel_size_nm": {axis: grid[axis] for axis in ("x", "y", "z")},
            "extent_nm": {axis: imaging["dimensions"]["values"][axis] * extent_factor for axis in ("x", "y", "z")},
        },
        "institutions": meta["institution"],
        "creators": [creator_entry(name) for name in contributors(sample["contributions"])],
        "thumbnail_url": meta.get("thumbnailURL", ""),
        "software_availability": meta["softwareAvailability"],
        "provenance": f"OpenOrganelle dataset manifest ({OPENORGANELLE_COMMIT})",
        "known_issues": known_issues,
        "dois": dois,
        "publications": publications,
        "volumes": volumes,
        "views": views,
    }


def challenge_only_dataset(slug: str) -> dict:
    sample = CHALLENGE_ONLY_SAMPLES[slug]
    return {
        "slug": slug,
        "organism": sample.get("organism"),
        "tissues": sample.get("tissues", []),
        "sample": {"type": sample.get("type"), "cell_types": sample.get("cell_types", [])},
        "provenance": (
            f"CellMap Segmentation Challenge manifests ({CHALLENGE_COMMIT}); organism and tissue read from "
            "the dataset id"
            if sample
            else f"CellMap Segmentation Challenge manifests ({CHALLENGE_COMMIT})"
        ),
    }


def add_challenge_facts(record: dict, challenge: dict) -> None:
    slug = record["slug"]
    record.setdefault("imaging", {})["modality"] = "efib-sem"
    record["published_state_url"] = challenge["states"][slug]
    if "CellMap Segmentation Challenge" not in record.get("provenance", ""):
        record["provenance"] += f"; CellMap Segmentation Challenge manifests ({CHALLENGE_COMMIT})"
    em_url = challenge["em_urls"].get(slug) or f"s3://janelia-cosem-datasets/{slug}/{slug}.zarr/recon-1/em/fibsem-uint8"
    record.setdefault("volumes", []).append(
        {
            "name": "recon-1/em/fibsem-uint8",
            "description": "FIB-SEM data of the CellMap Segmentation Challenge (OME-Zarr multiscale)",
            "url": em_url,
            "format": "ome-zarr-0.4",
            "kind": "image",
            "content_type": "em",
            "dtype": "uint8",
            "axes": "zyx",
        }
    )
    crops = sorted((c for c in challenge["crops"].values() if c["dataset"] == slug), key=lambda c: c["number"])
    record["crops"] = [{k: v for k, v in crop.items() if k != "dataset"} for crop in crops]


def add_p7_facts(record: dict, tissue: str, released: str) -> None:
    """The P7 release: 8 nm isotropic FIB-SEM, Cellpose nuclei and TEM quality-control images.

    The post credits the release to the CellMap Project Team at HHMI Janelia and names no person.
    """
    record.setdefault("title", f"P7 mouse {tissue.lower()}")
    record["organism"] = "Mus musculus"
    record["tissues"] = [tissue]
    record.setdefault("sample", {})["type"] = "tissue"
    record["description"] = record.get("description") or (
        f"{tissue} of a postnatal day 7 (P7) mouse, one of seven tissues from the same animal, imaged by "
        "FIB-SEM at 8 nm isotropic resolution, with Cellpose nuclei segmentations and TEM images for "
        "quality control."
    )
    imaging = record.setdefault("imaging", {})
    imaging.setdefault("modality", "fib-sem")
    imaging["voxel_size_nm"] = {"x": 8.0, "y": 8.0, "z": 8.0}
    record["tags"] = ["FIB-SEM", "P7 mouse", "tissue microarchitecture"]
    record["acknowledgements"] = (
        "CellMap Project Team at HHMI Janelia, with support from the AWS Open Data program, which hosts the data."
    )
    record["provenance"] = (record.get("provenance", "") + "; " if record.get("provenance") else "") + (
        "OpenOrganelle blog: Data Release - P7 Mouse Tissue"
    )
    record["creators"] = record.get("creators") or [{"name": P7_TEAM}]
    record["institutions"] = record.get("institutions") or [P7_INSTITUTION]
    set_release(record, released, "the P7 mouse tissue release post")
    volumes = record.setdefault("volumes", [])
    em = next((v for v in volumes if v["content_type"] == "em"), None)
    if em is None:
        volumes.append(
            {
                "name": "fibsem",
                "description": "FIB-SEM volume (storage location not published in the release)",
                "kind": "image",
                "content_type": "em",
                "scale_nm": {"x": 8.0, "y": 8.0, "z": 8.0},
            }
        )
    else:
        em["scale_nm"] = {"x": 8.0, "y": 8.0, "z": 8.0}
    volumes.append(
        {
            "name": "nuclei-cellpose",
            "description": "Nuclei segmentation by a Cellpose model (storage location not published in the release)",
            "kind": "segmentation",
            "content_type": "segmentation",
            "label_class": "nuc",
            "provenance": "Cellpose nuclei model (github.com/janelia-cellmap/cellmap-models)",
        }
    )
    volumes.append(
        {
            "name": "tem-qc",
            "description": "TEM images for quality control (storage location not published in the release)",
            "kind": "image",
            "content_type": "em",
            "provenance": "Transmission electron microscopy",
        }
    )


PLATELET_CLASSES = [
    (0, "Background", "", None),
    (1, "Cell", "darkblue", "cell"),
    (2, "Mitochondria", "cyan", "mito"),
    (3, "Alpha granule", "green", None),
    (4, "Canalicular vessel", "yellow", None),
    (5, "Dense granule body", "red", None),
    (6, "Dense granule core", "purple", None),
]


def platelet_em() -> dict:
    """Two SBF-SEM volumes of human platelets with semantic and instance labels (multipage TIFF)."""
    volumes = []
    for depth in (50, 24):
        geometry = {
            "axes": "zyx",
            "shape": {"x": 800, "y": 800, "z": depth},
            "scale_nm": {"x": 10.0, "y": 10.0, "z": 40.0},
            "translation_nm": {"x": 0.0, "y": 0.0, "z": 0.0},
        }
        volumes.append(
            {
                "name": f"{depth}-images",
                "description": f"{depth}x800x800 SBF-SEM image, grayscale multipage TIFF",
                "url": f"{depth}-images.tif",
                "format": "tiff",
                "kind": "image",
                "content_type": "em",
                "dtype": "uint16",
                **geometry,
            }
        )
        volumes.append(
            {
                "name": f"{depth}-semantic",
                "description": f"{depth}x800x800 semantic segmentation of {depth}-images.tif (seven classes)",
                "url": f"{depth}-semantic.tif",
                "format": "tiff",
                "kind": "segmentation",
                "content_type": "segmentation",
                "segment_labels": [
                    {"value": value, "name": name, "colour": colour, "label_class": label_class}
                    for value, name, colour, label_class in PLATELET_CLASSES
                ],
                **geometry,
            }
        )
        for target, label_class in (("cell", "cell"), ("organelle", None)):
            volumes.append(
                {
                    "name": f"{depth}-instance-{target}",
                    "description": f"{depth}x800x800 instance segmentation of {target}s in {depth}-images.tif",
                    "url": f"{depth}-instance-{target}.tif",
                    "format": "tiff",
                    "kind": "segmentation",
                    "content_type": "segmentation",
                    "label_class": label_class,
                    **geometry,
                }
            )
    return {
        "slug": "platelet-em",
        "title": "platelet-em: SBF-SEM of human platelets",
        "description": (
            "Two 3D serial block-face scanning electron microscope images of human platelets, with instance "
            "and semantic segmentations of both volumes. The data has been reviewed by NIBIB, contains no "
            "PII or PHI, and is cleared for public release. A 3D image of size [Z, X, Y] is saved as Z "
            "pages of size [X, Y]."
        ),
        "organism": "Homo sapiens",
        "sample": {"type": "cell-culture", "cell_types": ["Platelet"]},
        "imaging": {
            "modality": "sbf-sem",
            "instrument": "Gatan 3View",
            "voxel_size_nm": {"x": 10.0, "y": 10.0, "z": 40.0},
        },
        "download_url": "https://www.dropbox.com/s/lo6i7v2mc9z2wft/images-and-labels.zip?dl=1",
        "data_formats": ["TIFF"],
        "data_size": "95.8 MB (images and labels, zipped)",
        "provenance": "platelet-em dataset page",
        "known_issues": [
            {
                "field": "volumes.dtype",
                "message": "the source says every file is a multipage uint16 TIFF and that label files are "
                "RGB TIFFs; the label volumes' dtype is left empty",
            },
            {
                "field": "imaging.voxel_size_nm",
                "message": "the source gives the voxel size as approximately 40x10x10 nm (z, y, x)",
            },
        ],
        "volumes": volumes,
    }


def mouse_brain_confocal() -> dict:
    """Sparse and multicolour (Brainbow) confocal imaging of cleared mouse brain; many numbers are 'X'."""
    return {
        "slug": "mouse-brain-confocal",
        "title": "Mouse Brain Sparsely Labeled Neuron and Multicolor Neural Imaging 3D Dataset with Standardized "
        "Metadata",
        "description": (
            "Designed to support AI and deep learning model development for the BRAIN Initiative: sparsely "
            "labelled neuron tracing, multicolour neuron imaging (Brainbow) and segmentation, 3D morphology "
            "reconstruction, feature extraction and metadata standardisation. High-resolution, multicolour "
            "labelled neurons with features as metadata in fluorescence microscopy images of tissue-cleared "
            "mouse brains. Applications: automated neuron segmentation, 3D morphology reconstruction, neural "
            "network training and validation, comparative analysis with the Allen Brain Atlas, "
            "neuroanatomical studies."
        ),
        "organism": "Mus musculus",
        "tissues": ["Brain"],
        "sample": {
            "type": "tissue",
            "protocol": "Tissue clearing; sparse labelling with genetically encoded fluorescent proteins; "
            "multicolour labelling with different viral labelling. Preprocessing: channel alignment, image "
            "quality normalisation, initial segmentation by classical image processing.",
        },
        "imaging": {"modality": "confocal"},
        "institutions": ["ENSP, Mayo Clinic, Rochester, MN"],
        "licence": "Open Data Commons Attribution License (ODC-By)",
        "contact": "Foysal.mdkamrulhasan@mayo.edu",
        "release_date": "2024-05-24",
        "version": "1.0",
        "data_formats": ["TIFF", "ND2", "OIB", "CZI", "HDF5", "NPY", "JSON"],
        "data_size": "approximately 400 GB per hemisphere",
        "atlas": "Allen Brain Atlas",
        "metrics": ["iou", "accuracy", "precision", "recall", "f1"],
        "provenance": "Dataset description, version 1.0",
        "known_issues": [
            {"field": "imaging.voxel_size_nm", "message": "the source gives the resolution as 'X x X x X micrometers'"},
            {"field": "sample.protocol", "message": "the tissue-clearing technique is given as 'XXX'"},
            {"field": "data_size", "message": "the size per mouse brain is given as 'X GB'"},
            {
                "field": "benchmarks",
                "message": "metrics are named (IoU, accuracy, precision, recall, F1) without values",
            },
        ],
        "volumes": [
            {
                "name": "sparse-neurons",
                "description": "Sparsely labelled neurons, single-channel confocal stacks "
                "(raw TIFF/ND2/OIB/CZI, processed HDF5; location not published)",
                "format": "hdf5",
                "kind": "image",
                "content_type": "lm",
                "channels": [{"name": "fluorescence"}],
            },
            {
                "name": "brainbow-rgb",
                "description": "Multicolour (Brainbow) labelled neurons, RGB confocal stacks "
                "(raw TIFF/ND2/OIB/CZI, processed HDF5; location not published)",
                "format": "hdf5",
                "kind": "image",
                "content_type": "lm",
                "channels": [
                    {"name": "red", "colour": "red"},
                    {"name": "green", "colour": "lime"},
                    {"name": "blue", "colour": "blue"},
                ],
            },
            {
                "name": "neuron-masks",
                "description": "Segmentation masks of individual neurons, bounding boxes and classification labels "
                "(NPY; location not published)",
                "kind": "segmentation",
                "content_type": "groundtruth",
                "provenance": "Expert-annotated ground truth",
            },
        ],
    }


def challenge_collection(source: Path, challenge: dict) -> CollectionManifest:
    front, body = front_matter(source / "sources" / "cellmap-segmentation-challenge.md")
    return CollectionManifest(
        slug="cellmap-segmentation-challenge",
        title="CellMap Segmentation Challenge",
        summary=front["summary"],
        description=drop_stale_promotions(body),
        doi="10.25378/janelia.c.7456966",
        url="https://github.com/janelia-cellmap/cellmap-segmentation-challenge",
        thumbnail_url=front["thumbnail_url"],
        tags=json.loads(front["tags"]),
        authors=json.loads(front["authors"]),
        release_date=front["date"][:10],
        datasets=challenge["datasets"],
        downloads=challenge["downloads"],
    )


def p7_collection(source: Path) -> CollectionManifest:
    front, body = front_matter(source / "sources" / "p7-mouse-tissue-release.md")
    return CollectionManifest(
        slug="p7-mouse-tissue",
        title="P7 Mouse Tissue",
        summary=front["summary"],
        description=body,
        url="https://openorganelle.org",
        thumbnail_url=front["thumbnail URL"],
        tags=json.loads(front["tags"]),
        authors=json.loads(front["authors"]),
        release_date=front["date"][:10],
        datasets=list(P7_DATASETS),
    )


def drop_stale_promotions(text: str) -> str:
    """The post without its lines that expired or never belonged to it (see STALE_PROMOTIONS)."""
    for pattern in STALE_PROMOTIONS:
        text = pattern.sub("", text)
    return text


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as Mac Roman (the challenge post's emoji arrive as 'üéØ'), line by line."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(line.encode("mac_roman").decode("utf-8"))
        except (UnicodeEncodeError, UnicodeDecodeError):
            lines.append(line)
    return "\n".join(lines)


def front_matter(path: Path) -> tuple[dict[str, str], str]:
    text = repair_mojibake(path.read_text())
    _, header, body = text.split("---", 2)
    fields = {}
    for line in header.strip().splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip().strip("'\"").strip()
    fields["date"] = fields["date"].strip('"')
    return fields, body.strip()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
