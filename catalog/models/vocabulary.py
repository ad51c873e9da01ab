"""Controlled vocabularies that datasets point at: organisms, tissues, cell types, label classes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from catalog.models.base import HEX_COLOUR_PATTERN, UBERON_PATTERN, hex_colour_validator


class Organism(models.Model):
    """A species (or the closest name the source gives), with its NCBI Taxonomy id where known."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    common_name = models.CharField(max_length=200, blank=True)
    ncbi_taxonomy_id = models.PositiveIntegerField(null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(ncbi_taxonomy_id__gt=0), name="organism_taxonomy_id_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Tissue(models.Model):
    """An anatomical structure, with its UBERON term where known."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    uberon_id = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uberon_id="") | Q(uberon_id__regex=UBERON_PATTERN), name="tissue_uberon_id_format"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CellType(models.Model):
    """A cell type or cell line (HeLa, Jurkat, T-Cell)."""

    name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Treatment(models.Model):
    """A treatment applied to the sample (wild-type, overexpression, BFA)."""

    name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Institution(models.Model):
    """An institution that produced or contributed to a dataset."""

    name = models.CharField(max_length=300, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ClassGraph:
    """Every label class's name and long name, and the group -> member edges between them."""

    names: dict[int, tuple[str, str]]
    members: dict[int, frozenset[int]]
    parents: dict[int, frozenset[int]]

    def descendants(self, class_ids: Iterable[int]) -> set[int]:
        """The classes themselves and every member of them, recursively."""
        return self._walk(class_ids, self.members)

    def ancestors(self, class_ids: Iterable[int]) -> set[int]:
        """The classes themselves and every group containing them, recursively."""
        return self._walk(class_ids, self.parents)

    @staticmethod
    def _walk(start: Iterable[int], edges: dict[int, frozenset[int]]) -> set[int]:
        seen = set(start)
        pending = list(seen)
        while pending:
            for neighbour in edges.get(pending.pop(), frozenset()) - seen:
                seen.add(neighbour)
                pending.append(neighbour)
        return seen


class LabelClassQuerySet(models.QuerySet):
    def graph(self) -> ClassGraph:
        """The class hierarchy of the whole catalog (two queries; callers cache it)."""
        members: dict[int, set[int]] = defaultdict(set)
        parents: dict[int, set[int]] = defaultdict(set)
        for group_id, member_id in LabelClass.members.through.objects.values_list(
            "from_labelclass_id", "to_labelclass_id"
        ):
            members[group_id].add(member_id)
            parents[member_id].add(group_id)
        return ClassGraph(
            names={pk: (name, long_name) for pk, name, long_name in self.values_list("pk", "name", "long_name")},
            members={pk: frozenset(ids) for pk, ids in members.items()},
            parents={pk: frozenset(ids) for pk, ids in parents.items()},
        )


class LabelClass(models.Model):
    """An organelle or structure class from the CellMap class table.

    Group classes (``mito`` = ``mito_mem`` + ``mito_lum`` + ``mito_ribo``) point at their
    members; groups overlap (the nuclear envelope is in both ``er`` and ``nuc``), so
    membership is many-to-many and ``member_of`` is the reverse side.
    """

    name = models.CharField(max_length=100, unique=True, help_text="Short name, e.g. mito.")
    label_id = models.PositiveSmallIntegerField(
        null=True, blank=True, unique=True, help_text="Numeric id in the CellMap class table."
    )
    long_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    colour = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])
    members = models.ManyToManyField("self", symmetrical=False, related_name="member_of", blank=True)
    instance_scored = models.BooleanField(default=False, help_text="Scored as instances by the challenge.")
    semantic_scored = models.BooleanField(default=False, help_text="Scored semantically by the challenge.")
    aliases = models.JSONField(default=list, blank=True, help_text="Other names for this class in upstream sources.")

    objects = LabelClassQuerySet.as_manager()

    class Meta:
        ordering = ["label_id", "name"]
        verbose_name_plural = "label classes"
        constraints = [
            models.CheckConstraint(condition=Q(label_id__gt=0), name="labelclass_id_positive"),
            models.CheckConstraint(
                condition=Q(colour="") | Q(colour__regex=HEX_COLOUR_PATTERN), name="labelclass_colour_hex"
            ),
            models.CheckConstraint(condition=Q(name=Lower("name")), name="labelclass_name_lowercase"),
        ]

    def __str__(self) -> str:
        return self.name
