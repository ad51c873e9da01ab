"""Fill the database with a synthetic catalog shaped like the real one, fast.

The shape follows the reference catalog scaled up: per dataset about 20 volumes (one EM
image, segmentations and predictions per organelle class, the odd LM channel), 2 crops
on average but concentrated on 40% of the datasets (as in the CellMap challenge, where
22 of 52 datasets carry all 305 crops), 3 to 30 label classes per crop, 1.4 curated views
per dataset, and descriptions written from the same vocabulary researchers search with.

Rows get explicit primary keys so that foreign keys are known without a round trip, and
go in with PostgreSQL's COPY (``bulk_create`` on other databases, for the tests). Every
value passes through the model field's own ``pre_save``, so defaults and ``auto_now``
columns are filled exactly as the ORM would fill them.

Run standalone against a benchmark database: ``python -m bench.generate --datasets 1000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

VOLUMES_PER_DATASET = 20
CROPS_PER_DATASET = 2
VIEWS_PER_DATASET = 1.4
LABEL_CLASSES = 80
DATASETS_WITH_CROPS = 0.4
ABSENT_CLASS_SHARE = 0.6
SEARCH_TERM = "mitochondria"
COPY_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class CatalogShape:
    """How many records of each kind to generate."""

    datasets: int
    volumes: int
    crops: int
    label_classes: int = LABEL_CLASSES
    views: int = 0
    seed: int = 7

    @classmethod
    def for_datasets(cls, datasets: int, *, seed: int = 7) -> CatalogShape:
        """The real catalog's proportions at ``datasets`` datasets (10,000 -> 200,000 volumes, 20,000 crops)."""
        if datasets < 1:
            raise ValueError("datasets must be at least 1")
        return cls(
            datasets=datasets,
            volumes=VOLUMES_PER_DATASET * datasets,
            crops=CROPS_PER_DATASET * datasets,
            views=round(VIEWS_PER_DATASET * datasets),
            seed=seed,
        )


@dataclass
class GenerationResult:
    """What was written, with the wall time it took."""

    shape: CatalogShape
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    method: str = ""
    post_load: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "shape": asdict(self.shape),
            "counts": self.counts,
            "seconds": round(self.seconds, 2),
            "method": self.method,
            "post_load": self.post_load,
            "phases": {name: round(seconds, 2) for name, seconds in self.phases.items()},
        }


# --- Vocabulary -----------------------------------------------------------------------------

# The CellMap class table (short name, long name, member short names for group classes).
CLASS_TABLE: list[tuple[str, str, tuple[str, ...]]] = [
    ("ecs", "extracellular space", ()),
    ("pm", "plasma membrane", ()),
    ("mito_mem", "mitochondrial membrane", ()),
    ("mito_lum", "mitochondrial lumen", ()),
    ("mito_ribo", "mitochondrial ribosome", ()),
    ("golgi_mem", "Golgi membrane", ()),
    ("golgi_lum", "Golgi lumen", ()),
    ("ves_mem", "vesicle membrane", ()),
    ("ves_lum", "vesicle lumen", ()),
    ("endo_mem", "endosome membrane", ()),
    ("endo_lum", "endosome lumen", ()),
    ("lyso_mem", "lysosome membrane", ()),
    ("lyso_lum", "lysosome lumen", ()),
    ("ld_mem", "lipid droplet membrane", ()),
    ("ld_lum", "lipid droplet lumen", ()),
    ("er_mem", "endoplasmic reticulum membrane", ()),
    ("er_lum", "endoplasmic reticulum lumen", ()),
    ("eres_mem", "endoplasmic reticulum exit site membrane", ()),
    ("eres_lum", "endoplasmic reticulum exit site lumen", ()),
    ("ne_mem", "nuclear envelope membrane", ()),
    ("ne_lum", "nuclear envelope lumen", ()),
    ("np_out", "nuclear pore out", ()),
    ("np_in", "nuclear pore in", ()),
    ("hchrom", "heterochromatin", ()),
    ("nhchrom", "nucleolus-associated heterochromatin", ()),
    ("echrom", "euchromatin", ()),
    ("nechrom", "nucleolus-associated euchromatin", ()),
    ("nucpl", "nucleoplasm", ()),
    ("nucleo", "nucleolus", ()),
    ("mt_out", "microtubule out", ()),
    ("cent", "centrosome", ()),
    ("cent_dapp", "centrosome distal appendage", ()),
    ("cent_sdapp", "centrosome subdistal appendage", ()),
    ("ribo", "ribosomes", ()),
    ("cyto", "cytosol", ()),
    ("mt_in", "microtubule in", ()),
    ("nuc", "nucleus", ("ne_mem", "ne_lum", "np_out", "np_in", "hchrom", "nhchrom", "echrom", "nechrom", "nucpl")),
    ("vim", "vimentin", ()),
    ("glyco", "glycogen", ()),
    ("golgi", "Golgi", ("golgi_mem", "golgi_lum")),
    ("ves", "vesicle", ("ves_mem", "ves_lum")),
    ("endo", "endosome", ("endo_mem", "endo_lum")),
    ("lyso", "lysosome", ("lyso_mem", "lyso_lum")),
    ("ld", "lipid droplet", ("ld_mem", "ld_lum")),
    ("rbc", "red blood cells", ()),
    ("eres", "endoplasmic reticulum exit site", ("eres_mem", "eres_lum")),
    ("perox_mem", "peroxisome membrane", ()),
    ("perox_lum", "peroxisome lumen", ()),
    ("perox", "peroxisome", ("perox_mem", "perox_lum")),
    ("mito", "mitochondria", ("mito_mem", "mito_lum", "mito_ribo")),
    ("er", "endoplasmic reticulum", ("er_mem", "er_lum", "eres_mem", "eres_lum", "ne_mem", "ne_lum")),
    ("ne", "nuclear envelope", ("ne_mem", "ne_lum", "np_out", "np_in")),
    ("np", "nuclear pore", ("np_out", "np_in")),
    ("chrom", "chromatin", ("hchrom", "nhchrom", "echrom", "nechrom")),
    ("mt", "microtubule", ("mt_out", "mt_in")),
    ("isg_mem", "insulin secretory granule membrane", ()),
    ("isg_lum", "insulin secretory granule lumen", ()),
    ("isg_ins", "insulin secretory granule insulin", ()),
    ("isg", "insulin secretory granule", ("isg_mem", "isg_lum", "isg_ins")),
    ("cell", "cell", ("pm", "mito", "golgi", "ves", "endo", "lyso", "ld", "er", "nuc", "cyto")),
    ("actin", "actin", ()),
    ("tbar", "t-bar", ()),
    ("bm", "basement membrane", ()),
    ("er_mem_all", "endoplasmic reticulum membrane collective", ("er_mem", "eres_mem", "ne_mem")),
    ("ne_mem_all", "nuclear envelope membrane collective", ("ne_mem", "np_out", "np_in")),
    ("cent_all", "centrosome collective", ("cent", "cent_dapp", "cent_sdapp")),
    ("chlor_mem", "chloroplast membrane", ()),
    ("chlor_lum", "chloroplast lumen", ()),
    ("chlor_sg", "chloroplast starch granule", ()),
    ("chlor", "chloroplast", ("chlor_mem", "chlor_lum", "chlor_sg")),
    ("vac_mem", "vacuole membrane", ()),
    ("vac_lum", "vacuole lumen", ()),
    ("vac", "vacuole", ("vac_mem", "vac_lum")),
    ("pd", "plasmodesmata", ()),
    ("yolk_mem", "yolk organelle membrane", ()),
    ("yolk_lum", "yolk organelle lumen", ()),
    ("yolk", "yolk organelle", ("yolk_mem", "yolk_lum")),
    ("cilia", "primary cilium", ()),
    ("synapse", "synapse", ()),
    ("myelin", "myelin sheath", ()),
    ("axon", "axon", ()),
]

# (name, slug, common name, NCBI taxonomy id); the first ones dominate as in real catalogs.
ORGANISMS = [
    ("Homo sapiens", "homo-sapiens", "human", 9606),
    ("Mus musculus", "mus-musculus", "house mouse", 10090),
    ("Drosophila melanogaster", "drosophila-melanogaster", "fruit fly", 7227),
    ("Caenorhabditis elegans", "caenorhabditis-elegans", "nematode", 6239),
    ("Danio rerio", "danio-rerio", "zebrafish", 7955),
    ("Rattus norvegicus", "rattus-norvegicus", "rat", 10116),
    ("Platynereis dumerilii", "platynereis-dumerilii", "ragworm", 6359),
    ("Chlamydomonas reinhardtii", "chlamydomonas-reinhardtii", "green alga", 3055),
    ("Arabidopsis thaliana", "arabidopsis-thaliana", "thale cress", 3702),
    ("Saccharomyces cerevisiae", "saccharomyces-cerevisiae", "baker's yeast", 4932),
    ("Chlorocebus sabaeus", "chlorocebus-sabaeus", "green monkey", 60711),
    ("Xenopus laevis", "xenopus-laevis", "African clawed frog", 8355),
]

TISSUES = [
    ("liver", "UBERON:0002107"),
    ("pancreas", "UBERON:0001264"),
    ("kidney", "UBERON:0002113"),
    ("heart", "UBERON:0000948"),
    ("thymus", "UBERON:0002370"),
    ("hippocampus", "UBERON:0001954"),
    ("skin", "UBERON:0002097"),
    ("choroid plexus", "UBERON:0001886"),
    ("cerebral cortex", "UBERON:0000956"),
    ("cerebellum", "UBERON:0002037"),
    ("retina", "UBERON:0000966"),
    ("lung", "UBERON:0002048"),
    ("spleen", "UBERON:0002106"),
    ("skeletal muscle", "UBERON:0001134"),
    ("intestine", "UBERON:0000160"),
    ("bone marrow", "UBERON:0002371"),
    ("olfactory bulb", "UBERON:0002264"),
    ("spinal cord", "UBERON:0002240"),
    ("mushroom body", ""),
    ("fan-shaped body", ""),
    ("antennal lobe", ""),
    ("optic lobe", ""),
    ("adipose tissue", "UBERON:0001013"),
    ("blood", "UBERON:0000178"),
]

CELL_TYPES = [
    "HeLa",
    "Jurkat",
    "COS-7",
    "CTL",
    "macrophage",
    "T-Cell",
    "platelet",
    "hepatocyte",
    "beta cell",
    "neuron",
    "astrocyte",
    "oligodendrocyte",
    "cardiomyocyte",
    "fibroblast",
    "keratinocyte",
    "SUM159",
    "U2OS",
    "HEK293",
    "iPSC",
    "sperm cell",
]

TREATMENTS = ["wild-type", "BFA", "H89", "nocodazole", "overexpression", "knockout", "SARS-CoV-2 infected", "starved"]

INSTITUTIONS = [
    "HHMI Janelia Research Campus",
    "European Molecular Biology Laboratory",
    "Max Planck Institute of Neurobiology",
    "University of Cambridge",
    "Harvard Medical School",
    "Allen Institute for Brain Science",
    "Chan Zuckerberg Initiative",
    "National Institutes of Health",
    "Francis Crick Institute",
    "University of Tokyo",
    "ETH Zurich",
    "Karolinska Institutet",
    "Weizmann Institute of Science",
    "University of California, San Francisco",
    "Salk Institute",
    "Institut Pasteur",
]

MODALITIES = [
    ("fib-sem", 0.35),
    ("efib-sem", 0.2),
    ("sbf-sem", 0.15),
    ("tem", 0.1),
    ("confocal", 0.08),
    ("light-sheet", 0.05),
    ("sem", 0.04),
    ("sim", 0.02),
    ("palm", 0.01),
]
EM_MODALITIES = {"fib-sem", "efib-sem", "sbf-sem", "tem", "sem"}
INSTRUMENTS = {
    "fib-sem": ["Zeiss Merlin FIB-SEM", "Zeiss Gemini 500 eFIB-SEM", "FEI Helios G4"],
    "efib-sem": ["Janelia enhanced FIB-SEM (Zeiss Merlin)", "Janelia enhanced FIB-SEM (Zeiss Gemini)"],
    "sbf-sem": ["Gatan 3View on Zeiss Sigma", "Thermo VolumeScope"],
    "tem": ["FEI Tecnai Spirit", "JEOL JEM-1400"],
    "sem": ["Zeiss Sigma 300"],
    "confocal": ["Zeiss LSM 880 Airyscan", "Leica SP8"],
    "light-sheet": ["Zeiss Lightsheet 7", "Bruker MuVi SPIM"],
    "sim": ["GE OMX SR"],
    "palm": ["Zeiss Elyra PS.1"],
}
EMBEDDINGS = ["Durcupan", "Epon", "Eponate 12", "LR White", "Spurr's resin", ""]
LICENCES = [
    ("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    ("CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("ODC-By 1.0", "https://opendatacommons.org/licenses/by/1-0/"),
]
STAGES = ["interphase", "mitotic", "differentiated", "adult", "P7", "embryonic", "larval", "aged"]
METHODS = [
    "a 3D U-Net trained on CellMap ground truth",
    "Cellpose nuclei model",
    "manual annotation in Paintera",
    "ilastik pixel classification",
    "a flood-filling network",
    "nnU-Net",
]
PURPOSES = [
    "to map the contacts between {a} and {b}",
    "to measure the volume fraction of {a} across the whole cell",
    "to trace {a} through the cell at isotropic resolution",
    "to compare the morphology of {a} and {b} under {treatment} treatment",
    "as ground truth for training segmentation networks of {a}",
]
VOLUME_FORMATS = ["ome-zarr-0.4", "ome-zarr-0.4", "ome-zarr-0.4", "n5", "precomputed", "zarr-v2"]
COLOURS = ["#ff0000", "#00ff00", "#0000ff", "#ffff00", "#ff00ff", "#00ffff", "#ff8800", "#8800ff", "#ffffff"]


# --- Writing --------------------------------------------------------------------------------


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_literal(value: Any) -> str:
    """One value in PostgreSQL COPY text format."""
    kind = type(value)
    if kind is int or kind is float:
        return str(value)
    if value is None:
        return r"\N"
    if kind is bool:
        return "t" if value else "f"
    if kind is dict or kind is list:
        value = json.dumps(value)
    elif isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    else:
        value = str(value)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


class Writer:
    """Insert model instances that carry explicit primary keys, by COPY or bulk_create."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.use_copy = connection.vendor == "postgresql"
        self.counts: dict[str, int] = {}
        self.models: list[type] = []

    def _track(self, model: type, rows: int) -> None:
        if model not in self.models:
            self.models.append(model)
        label = model._meta.label
        self.counts[label] = self.counts.get(label, 0) + rows

    def _copy(self, model: type, columns: Sequence[str], lines: Iterable[str]) -> None:
        table = self.connection.ops.quote_name(model._meta.db_table)
        column_list = ", ".join(self.connection.ops.quote_name(c) for c in columns)
        buffer = io.StringIO()
        buffer.writelines(lines)
        buffer.seek(0)
        with self.connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({column_list}) FROM STDIN", buffer)

    def write(self, model: type, objects: Sequence[Any]) -> None:
        """Insert model instances; every value comes from the field as the ORM would save it."""
        if not objects:
            return
        self._track(model, len(objects))
        if not self.use_copy:
            model.objects.bulk_create(objects, batch_size=500)
            return
        fields = [f for f in model._meta.concrete_fields if not f.generated]  # the database computes those
        getters = [
            (lambda obj, f=f: f.pre_save(obj, True))
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            else (lambda obj, name=f.attname: getattr(obj, name))
            for f in fields
        ]
        for start in range(0, len(objects), COPY_CHUNK_ROWS):
            chunk = objects[start : start + COPY_CHUNK_ROWS]
            self._copy(
                model,
                [f.column for f in fields],
                ("\t".join([_copy_literal(get(obj)) for get in getters]) + "\n" for obj in chunk),
            )

    def write_links(self, model: type, source: str, target: str, pairs: Sequence[tuple[int, int]]) -> None:
        """Insert many-to-many link rows (``source``/``target`` are the link model's columns)."""
        if not pairs:
            return
        self._track(model, len(pairs))
        if not self.use_copy:
            objects = [model(id=k, **{source: a, target: b}) for k, (a, b) in enumerate(pairs, 1)]
            model.objects.bulk_create(objects, batch_size=500)
            return
        for start in range(0, len(pairs), COPY_CHUNK_ROWS):
            chunk = pairs[start : start + COPY_CHUNK_ROWS]
            self._copy(model, ["id", source, target], (f"{k}\t{a}\t{b}\n" for k, (a, b) in enumerate(chunk, start + 1)))

    def reset_sequences(self) -> None:
        """Move the id sequences past the explicit keys, so later inserts do not collide."""
        from django.core.management.color import no_style

        statements = self.connection.ops.sequence_reset_sql(no_style(), self.models)
        with self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def _skip_row_triggers(connection: Any) -> bool:
    """Skip per-row foreign-key triggers for this transaction (PostgreSQL superusers only).

    Deferred FK checks of half a million COPY'd rows cost more than writing them; the keys are
    checked once, set-based, by ``check_foreign_keys`` before the transaction commits instead.
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
        if not row or not row[0]:
            return False
        cursor.execute("SET LOCAL session_replication_role = replica")
    return True


def check_foreign_keys(connection: Any, models: Sequence[type]) -> None:
    """Fail (and roll back) when any written row points at a row that does not exist."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in models:
            for f in model._meta.concrete_fields:
                if not f.is_relation or not f.db_constraint:
                    continue
                parent = f.related_model._meta
                cursor.execute(
                    f"SELECT count(*) FROM {qn(model._meta.db_table)} AS c "
                    f"LEFT JOIN {qn(parent.db_table)} AS p ON p.{qn(f.target_field.column)} = c.{qn(f.column)} "
                    f"WHERE c.{qn(f.column)} IS NOT NULL AND p.{qn(f.target_field.column)} IS NULL"
                )
                dangling = cursor.fetchone()[0]
                if dangling:
                    raise ValueError(f"{dangling} rows of {model._meta.label}.{f.name} point at missing rows")


def catalog_models() -> list[type]:
    """Every table of the catalog app, including the many-to-many link tables."""
    from django.apps import apps

    found: list[type] = []
    for model in apps.get_app_config("catalog").get_models(include_auto_created=True):
        if model._meta.managed and not model._meta.proxy:
            found.append(model)
    return found


def empty_catalog(connection: Any) -> None:
    """Remove every catalog row (and only those) so that a generation starts clean."""
    existing = set(connection.introspection.table_names())
    tables = [model._meta.db_table for model in catalog_models() if model._meta.db_table in existing]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        else:
            for model in reversed(catalog_models()):
                model._base_manager.all()._raw_delete(model._base_manager.db)


# --- Generation -----------------------------------------------------------------------------


def _crop_contents(crops: Sequence[Any], links: Sequence[tuple[int, int]], seed: int) -> list[Any]:
    """What each crop holds of each annotated class: as in the challenge, many classes are
    annotated but absent; the others fill a long-tailed share of the crop. A generator of its
    own, so the rest of the catalog stays what it was before contents existed."""
    from catalog import models as m

    rng = random.Random(seed + 1)
    contents = []
    for content_id, (number, class_id) in enumerate(links, 1):
        crop = crops[number - 1]
        total = crop.shape_x * crop.shape_y * crop.shape_z
        present = 0 if rng.random() < ABSENT_CLASS_SHARE else max(1, int(total * rng.random() ** 3 / 2))
        contents.append(
            m.CropContent(
                id=content_id,
                crop_id=number,
                label_class_id=class_id,
                source="attributes",
                total_voxels=total,
                present_voxels=present,
                absent_voxels=total - present,
                unknown_voxels=0,
            )
        )
    return contents


def _spread(total: int, buckets: int, rng: random.Random, *, minimum: int, maximum: int) -> list[int]:
    """Split ``total`` into ``buckets`` long-tailed counts within [minimum, maximum]."""
    if buckets == 0:
        return []
    if total < minimum * buckets or total > maximum * buckets:
        raise ValueError(f"cannot spread {total} over {buckets} buckets within [{minimum}, {maximum}]")
    weights = [min(rng.paretovariate(1.8), 20.0) for _ in range(buckets)]
    scale = (total - minimum * buckets) / sum(weights)
    counts = [min(maximum, minimum + int(w * scale)) for w in weights]
    remainder = total - sum(counts)
    order = list(range(buckets))
    while remainder != 0:
        rng.shuffle(order)
        step = 1 if remainder > 0 else -1
        for index in order:
            if remainder == 0:
                break
            if minimum <= counts[index] + step <= maximum:
                counts[index] += step
                remainder -= step
    return counts


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _zipf_index(rng: random.Random, size: int) -> int:
    """An index in [0, size) where low indexes are much more common (a few big organisms)."""
    return min(size - 1, int(rng.paretovariate(1.2)) - 1)


def generate_catalog(shape: CatalogShape, *, connection: Any = None) -> GenerationResult:
    """Empty the catalog tables and write a synthetic catalog of ``shape``; returns counts and timing."""
    from django.db import connection as default_connection
    from django.db import transaction

    from catalog import models as m

    connection = connection or default_connection
    started = time.perf_counter()
    rng = random.Random(shape.seed)
    writer = Writer(connection)
    now = dt.datetime.now(dt.UTC)

    with transaction.atomic(using=connection.alias):
        empty_catalog(connection)
        bulk_mode = _skip_row_triggers(connection)

        # Vocabularies.
        classes_spec = CLASS_TABLE[: shape.label_classes]
        while len(classes_spec) < shape.label_classes:
            n = len(classes_spec) + 1
            classes_spec.append((f"synthetic_{n}", f"synthetic structure {n}", ()))
        class_ids = {name: i for i, (name, _, _) in enumerate(classes_spec, start=1)}
        label_classes = [
            m.LabelClass(
                id=i,
                name=name,
                label_id=i,
                long_name=long_name,
                description=f"Voxels of the {long_name}, annotated in CellMap ground truth.",
                colour=f"#{rng.randrange(0x1000000):06x}",
                instance_scored=bool(members) and rng.random() < 0.5,
                semantic_scored=rng.random() < 0.7,
                aliases=[long_name.replace(" ", "_")],
            )
            for i, (name, long_name, members) in enumerate(classes_spec, start=1)
        ]
        writer.write(m.LabelClass, label_classes)
        member_link = m.LabelClass.members.through
        links = [
            (class_ids[name], class_ids[member])
            for name, _, members in classes_spec
            for member in members
            if member in class_ids
        ]
        writer.write_links(member_link, "from_labelclass_id", "to_labelclass_id", links)
        leaf_classes = [class_ids[name] for name, _, members in classes_spec if not members]
        group_classes = [class_ids[name] for name, _, members in classes_spec if members] or leaf_classes
        long_names = {class_ids[name]: long_name for name, long_name, _ in classes_spec}

        writer.write(
            m.Organism,
            [
                m.Organism(id=i, name=name, slug=slug, common_name=common, ncbi_taxonomy_id=taxid)
                for i, (name, slug, common, taxid) in enumerate(ORGANISMS, 1)
            ],
        )
        writer.write(
            m.Tissue,
            [
                m.Tissue(id=i, name=name, slug=name.replace(" ", "-"), uberon_id=uberon)
                for i, (name, uberon) in enumerate(TISSUES, 1)
            ],
        )
        writer.write(m.CellType, [m.CellType(id=i, name=name) for i, name in enumerate(CELL_TYPES, 1)])
        writer.write(m.Treatment, [m.Treatment(id=i, name=name) for i, name in enumerate(TREATMENTS, 1)])
        writer.write(m.Institution, [m.Institution(id=i, name=name) for i, name in enumerate(INSTITUTIONS, 1)])

        # Publications (one per four datasets) and DOIs.
        n_publications = max(1, shape.datasets // 4)
        dois: list[Any] = []
        publications: list[Any] = []
        for i in range(1, n_publications + 1):
            dois.append(m.DOI(id=i, value=f"10.1101/2026.{i:06d}"))
            organelle = long_names[rng.choice(group_classes)]
            publications.append(
                m.Publication(
                    id=i,
                    title=f"Whole-cell organelle segmentation of {organelle} in volume electron microscopy ({i})",
                    authors=f"Author {i % 97}, Author {i % 89}, Author {i % 83}",
                    year=2015 + i % 11,
                    doi_id=i,
                    url=f"https://www.biorxiv.org/content/10.1101/2026.{i:06d}",
                )
            )

        # Datasets.
        datasets: list[Any] = []
        dataset_text: dict[int, list[int]] = {}
        m2m: dict[str, list[tuple[int, int]]] = {
            "tissues": [],
            "cell_types": [],
            "treatments": [],
            "institutions": [],
            "publications": [],
        }
        for i in range(1, shape.datasets + 1):
            modality = _weighted(rng, MODALITIES)
            organism_index = _zipf_index(rng, len(ORGANISMS))
            is_tissue = organism_index != 0 and rng.random() < 0.6
            cell_type = CELL_TYPES[rng.randrange(len(CELL_TYPES))]
            tissue_index = rng.randrange(len(TISSUES))
            stage = rng.choice(STAGES)
            organelles = rng.sample(group_classes, k=min(3, len(group_classes)))
            if rng.random() < 0.35 and class_ids.get("mito") and class_ids["mito"] not in organelles:
                organelles[0] = class_ids["mito"]
            dataset_text[i] = organelles
            names = [long_names[c] for c in organelles]
            subject = TISSUES[tissue_index][0] if is_tissue else cell_type
            treatment = rng.choice(TREATMENTS)
            voxel = rng.choice([2.0, 4.0, 8.0, 16.0]) if modality in EM_MODALITIES else rng.choice([100.0, 200.0])
            modality_label = dict((v, lbl) for v, lbl in m.Dataset._meta.get_field("modality").choices)[modality]
            description = (
                f"{modality_label} volume of {'a ' if not is_tissue else ''}{subject} "
                f"({ORGANISMS[organism_index][2]}, {stage}) imaged at {voxel:g} nm isotropic resolution. "
                f"The volume was acquired {rng.choice(PURPOSES).format(a=names[0], b=names[1], treatment=treatment)}. "
                f"Segmentations of {names[0]}, {names[1]} and {names[2]} were produced with {rng.choice(METHODS)} "
                f"and proofread by experts. Sample prepared by "
                f"{'high-pressure freezing and freeze substitution' if rng.random() < 0.6 else 'chemical fixation'}."
            )
            licence, licence_url = rng.choice(LICENCES)
            slug_subject = subject.lower().replace(" ", "-").replace(",", "")
            datasets.append(
                m.Dataset(
                    id=i,
                    slug=f"jrc_{slug_subject}-{i}",
                    title=f"{subject} {stage} {i}" + (f" ({treatment})" if treatment != "wild-type" else ""),
                    description=description,
                    organism_id=organism_index + 1,
                    sample_type="tissue" if is_tissue else "cell-culture",
                    sample_protocol="Cells were grown on sapphire discs, high-pressure frozen and freeze-substituted.",
                    fixation="hpf" if rng.random() < 0.6 else "chemical",
                    embedding=rng.choice(EMBEDDINGS),
                    contributions="Sample preparation, imaging and segmentation by the CellMap project team.",
                    modality=modality,
                    instrument=rng.choice(INSTRUMENTS[modality]),
                    acquisition_id=f"Z{rng.randrange(1000, 9999)}-{i}",
                    acquisition_institution=rng.choice(INSTITUTIONS),
                    start_date=dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3600)),
                    duration_days=rng.randrange(1, 60),
                    bias_voltage_v=rng.choice([0.0, 600.0]) if modality in EM_MODALITIES else None,
                    scan_rate_mhz=rng.choice([0.5, 2.0, 3.0]) if modality in EM_MODALITIES else None,
                    current_na=rng.choice([0.25, 1.0, 2.0]) if modality in EM_MODALITIES else None,
                    primary_energy_ev=1200.0 if modality in EM_MODALITIES else None,
                    voxel_size_x=voxel,
                    voxel_size_y=voxel,
                    voxel_size_z=voxel * rng.choice([1.0, 1.0, 1.31]),
                    extent_x=voxel * rng.randrange(2000, 12000),
                    extent_y=voxel * rng.randrange(2000, 12000),
                    extent_z=voxel * rng.randrange(1000, 8000),
                    licence=licence,
                    licence_url=licence_url,
                    contact=f"curator{i % 40}@example.org",
                    thumbnail_url=f"https://thumbnails.example.org/{i}.jpg",
                    release_date=dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(3000)),
                    version="1",
                    tags=[modality, slug_subject, *[long_names[c].split()[0].lower() for c in organelles[:2]]],
                    software_availability=rng.choice(["open", "open", "partially open", ""]),
                    data_formats=["OME-Zarr"] if rng.random() < 0.8 else ["N5", "TIFF"],
                    published_state_url="",
                    provenance="bench.generate synthetic record",
                    created_at=now,
                    updated_at=now,
                )
            )
            if is_tissue:
                m2m["tissues"].append((i, tissue_index + 1))
            else:
                m2m["cell_types"].append((i, CELL_TYPES.index(cell_type) + 1))
            if treatment != "wild-type" and rng.random() < 0.4:
                m2m["treatments"].append((i, TREATMENTS.index(treatment) + 1))
            for inst in rng.sample(range(1, len(INSTITUTIONS) + 1), k=rng.choice([1, 1, 2])):
                m2m["institutions"].append((i, inst))
            m2m["publications"].append((i, (i - 1) % n_publications + 1))
        writer.write(m.DOI, dois)
        writer.write(m.Publication, publications)
        writer.write(m.Dataset, datasets)

        dataset_doi_rows: list[Any] = []
        for i in range(1, shape.datasets + 1):
            doi_id = n_publications + i
            dois_extra = m.DOI(id=doi_id, value=f"10.25378/janelia.bench.{i}")
            dataset_doi_rows.append((dois_extra, i))
        writer.write(m.DOI, [d for d, _ in dataset_doi_rows])
        dataset_dois = [
            m.DatasetDOI(id=k, dataset_id=ds, doi_id=d.id, group="dataset")
            for k, (d, ds) in enumerate(dataset_doi_rows, 1)
        ]
        writer.write(m.DatasetDOI, dataset_dois)
        for name, pairs in m2m.items():
            through = m.Dataset._meta.get_field(name).remote_field.through
            target = m.Dataset._meta.get_field(name).m2m_reverse_name()
            source = m.Dataset._meta.get_field(name).m2m_column_name()
            writer.write_links(through, source, target, pairs)

        # Collections: a few curated groups of datasets.
        n_collections = max(1, min(25, shape.datasets // 100))
        collections = [
            m.Collection(
                id=c,
                slug=f"collection-{c}",
                title=f"{rng.choice(CELL_TYPES)} organelle atlas, release {c}",
                summary="Datasets released together with their segmentations.",
                description="A curated release of whole-cell FIB-SEM volumes and their organelle segmentations.",
                tags=["release"],
                authors=[f"Author {c}"],
                release_date=dt.date(2020, 1, 1) + dt.timedelta(days=30 * c),
                created_at=now,
                updated_at=now,
            )
            for c in range(1, n_collections + 1)
        ]
        writer.write(m.Collection, collections)
        through = m.Collection.datasets.through
        collection_links = []
        for c in range(1, n_collections + 1):
            members = rng.sample(range(1, shape.datasets + 1), k=max(1, shape.datasets // 50))
            collection_links.extend((c, d) for d in members)
        writer.write_links(through, "collection_id", "dataset_id", collection_links)

        # Volumes: one EM (or LM) image per dataset, then segmentations and predictions per class.
        volume_counts = _spread(shape.volumes, shape.datasets, rng, minimum=1, maximum=300)
        volumes: list[Any] = []
        volumes_by_dataset: dict[int, list[int]] = {}
        segmentation_ids: list[int] = []
        volume_id = 0
        for ds, count in zip(datasets, volume_counts, strict=True):
            ids = volumes_by_dataset.setdefault(ds.id, [])
            base = f"s3://bench-cosem/{ds.slug}/{ds.slug}.zarr/recon-1"
            em = ds.modality in EM_MODALITIES
            for k in range(count):
                volume_id += 1
                ids.append(volume_id)
                fmt = rng.choice(VOLUME_FORMATS)
                common = {
                    "id": volume_id,
                    "dataset_id": ds.id,
                    "format": fmt,
                    "axes": "zyx",
                    "shape_x": rng.randrange(1000, 12000),
                    "shape_y": rng.randrange(1000, 12000),
                    "shape_z": rng.randrange(500, 8000),
                    "scale_x": ds.voxel_size_x,
                    "scale_y": -ds.voxel_size_y if rng.random() < 0.02 else ds.voxel_size_y,
                    "scale_z": ds.voxel_size_z,
                    "translation_x": 0.0,
                    "translation_y": 0.0,
                    "translation_z": 0.0,
                    "scale_levels": rng.randrange(3, 9),
                    "created_at": now,
                    "updated_at": now,
                }
                if k == 0:
                    name = "em/fibsem-uint8" if em else "lm/channel-0"
                    volumes.append(
                        m.Volume(
                            name=name,
                            url=f"{base}/{name}",
                            kind="image",
                            content_type="em" if em else "lm",
                            dtype="uint8",
                            description=f"{ds.get_modality_display()} image, contrast-adjusted",
                            contrast_min=0,
                            contrast_max=255,
                            contrast_start=rng.randrange(40, 110),
                            contrast_end=rng.randrange(150, 230),
                            invert_lut=em and rng.random() < 0.3,
                            provenance="Acquired, aligned and converted to OME-Zarr.",
                            **common,
                        )
                    )
                    continue
                j = k - 1
                label_class = leaf_classes[(j + ds.id) % len(leaf_classes)]
                kind_of = ("segmentation", "prediction", "groundtruth", "analysis")[(j // len(leaf_classes)) % 4]
                class_name = classes_spec[label_class - 1][0]
                suffix = f"-{j}" if j >= 4 * len(leaf_classes) else ""
                name = f"labels/{class_name}_{kind_of}{suffix}"
                volumes.append(
                    m.Volume(
                        name=name,
                        url=f"{base}/{name}",
                        kind="segmentation",
                        content_type=kind_of,
                        label_class_id=label_class,
                        dtype="uint64" if kind_of != "prediction" else "uint8",
                        description=f"{kind_of.capitalize()} of {long_names[label_class]}",
                        display_colour=rng.choice(COLOURS),
                        provenance=f"Made with {rng.choice(METHODS)}.",
                        **common,
                    )
                )
                segmentation_ids.append(volume_id)
        writer.write(m.Volume, volumes)

        meshes = []
        for mesh_id, vol in enumerate(rng.sample(segmentation_ids, k=len(segmentation_ids) // 20), 1):
            meshes.append(
                m.Mesh(
                    id=mesh_id,
                    volume_id=vol,
                    name="meshes",
                    url=f"s3://bench-cosem/meshes/{vol}",
                    format="neuroglancer_multilod_draco",
                    segment_ids=[1, 2, 3],
                )
            )
        writer.write(m.Mesh, meshes)
        del volumes

        # Crops: concentrated on 40% of the datasets, 3 to 30 label classes each.
        with_crops = rng.sample(datasets, k=max(1, round(DATASETS_WITH_CROPS * shape.datasets)))
        crop_counts = _spread(shape.crops, len(with_crops), rng, minimum=0, maximum=max(200, shape.crops))
        crops: list[Any] = []
        crop_links: list[tuple[int, int]] = []
        number = 0
        for ds, count in zip(with_crops, crop_counts, strict=True):
            for _ in range(count):
                number += 1
                voxel = rng.choice([2.0, 4.0, 8.0, 16.0, 32.0])
                crops.append(
                    m.Crop(
                        id=number,
                        number=number,
                        dataset_id=ds.id,
                        split="test" if rng.random() < 0.05 else "train",
                        voxel_size_x=voxel,
                        voxel_size_y=voxel,
                        voxel_size_z=voxel,
                        translation_x=voxel * rng.randrange(0, 5000) + voxel / 2,
                        translation_y=voxel * rng.randrange(0, 5000) + voxel / 2,
                        translation_z=voxel * rng.randrange(0, 5000) + voxel / 2,
                        shape_x=rng.randrange(100, 600),
                        shape_y=rng.randrange(100, 600),
                        shape_z=rng.randrange(100, 600),
                        labels_url=f"s3://bench-cosem/{ds.slug}/{ds.slug}.zarr/recon-1/labels/groundtruth/crop{number}",
                        created_at=now,
                        updated_at=now,
                    )
                )
                classes = rng.sample(leaf_classes, k=min(len(leaf_classes), rng.randrange(3, 31)))
                crop_links.extend((number, c) for c in classes)
        writer.write(m.Crop, crops)
        through = m.Crop.label_classes.through
        writer.write_links(through, "crop_id", "labelclass_id", crop_links)
        writer.write(m.CropContent, _crop_contents(crops, crop_links, shape.seed))

        # Curated views on random datasets, each with 2 or 3 layers and the organelles it shows.
        views: list[Any] = []
        layers: list[Any] = []
        view_organelles: list[tuple[int, int]] = []
        per_dataset: dict[int, int] = {}
        for view_id in range(1, shape.views + 1):
            ds = datasets[rng.randrange(len(datasets))]
            per_dataset[ds.id] = per_dataset.get(ds.id, 0) + 1
            organelles = dataset_text[ds.id]
            views.append(
                m.CuratedView(
                    id=view_id,
                    dataset_id=ds.id,
                    name=f"{long_names[organelles[0]].capitalize()} overview {per_dataset[ds.id]}",
                    description=f"Where {long_names[organelles[0]]} meet {long_names[organelles[1]]}.",
                    position_x=rng.uniform(0, ds.extent_x),
                    position_y=rng.uniform(0, ds.extent_y),
                    position_z=rng.uniform(0, ds.extent_z),
                    scale=rng.choice([2.0, 4.0, 10.0]),
                    orientation=[0.0, 0.0, 0.0, 1.0],
                    created_at=now,
                    updated_at=now,
                )
            )
            for position, volume in enumerate(volumes_by_dataset[ds.id][:3]):
                layers.append(
                    m.CuratedViewLayer(
                        id=len(layers) + 1,
                        view_id=view_id,
                        position=position,
                        name=f"layer-{position}",
                        volume_id=volume,
                    )
                )
            view_organelles.extend((view_id, c) for c in organelles[:2])
        writer.write(m.CuratedView, views)
        writer.write(m.CuratedViewLayer, layers)
        through = m.CuratedView.organelles.through
        writer.write_links(through, "curatedview_id", "labelclass_id", view_organelles)
        writer.reset_sequences()
        if bulk_mode:
            check_foreign_keys(connection, writer.models)

    result = GenerationResult(shape=shape, counts=dict(writer.counts), method="COPY" if writer.use_copy else "ORM")
    result.phases["write"] = time.perf_counter() - started
    result.post_load = after_load(connection, phases=result.phases)
    result.seconds = time.perf_counter() - started
    return result


def after_load(connection: Any, *, phases: dict[str, float] | None = None) -> list[str]:
    """What a real load does next: planner statistics, every derived row (annotated classes,
    search texts, viewer problems) and a new catalog version. COPY fires no signals, so the
    change hook of ``catalog.freshness`` is run here by hand; each step is named in the result."""
    from django.core.cache import cache

    from catalog import freshness, indexing
    from catalog.models import CatalogVersion

    done: list[str] = []
    phases = phases if phases is not None else {}
    mark = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        done.append("ANALYZE")
    phases["analyze"] = time.perf_counter() - mark
    mark = time.perf_counter()
    indexing.refresh_derived(None)
    done.append("catalog.indexing.refresh_derived")
    phases["search_index"] = time.perf_counter() - mark
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the derived tables too
    freshness.bump_catalog_version()
    done.append("catalog.freshness.bump_catalog_version")
    # Every derived row is current: a later ``migrate`` (bench.run --no-generate) must not redo them.
    CatalogVersion.objects.filter(pk=CatalogVersion.SINGLETON_ID).update(derived_revision=freshness.DERIVED_REVISION)
    cache.clear()
    done.append("cache.clear")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from django.db import connection

    name = str(connection.settings_dict.get("NAME", ""))
    if "bench" not in name:
        print(f"refusing to empty database {name!r}: its name must contain 'bench'", file=sys.stderr)
        return 2
    result = generate_catalog(CatalogShape.for_datasets(args.datasets, seed=args.seed))
    print(json.dumps(result.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
