"""Full-text search over datasets.

PostgreSQL: a weighted ``tsvector`` stored on each dataset (A: title and slug, B: description,
C: organism, tissue, cell type and organelle names) matched with ``websearch_to_tsquery`` and
ranked with ``ts_rank``; when the words match no dataset as written, pg_trgm word similarity
on ``search_text`` (the distinct words of title, slug, description and names) matches them instead, so that
a misspelt word (``mitochondira``) still finds its datasets. SQLite: the same query syntax (words, "quoted
phrases", ``or``, ``-excluded``) matched case-insensitively against the same texts, with a
rank that weighs the same fields the same way. Both return the queryset annotated with
``search_rank`` and ordered by it.

The stored fields are derived data: every write path calls ``refresh_search_index`` afterwards.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramWordSimilarity
from django.db import connection
from django.db.models import Case, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from catalog.models import Crop, Dataset, LabelClass, SegmentLabel, Volume

# Typo matches rank on a lower scale than word matches (they never appear together).
TRIGRAM_RANK_WEIGHT = 0.1
# The rank weights that PostgreSQL's ts_rank gives the A, B and C labels by default.
SQLITE_FIELD_WEIGHTS = (("title", 1.0), ("slug", 1.0), ("description", 0.4), ("search_text", 0.2))
_WORD_RE = re.compile(r"\S+")

_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass
class ParsedQuery:
    """A websearch-style query: every group must match (a group is words joined by ``or``)."""

    groups: list[list[str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[str]:
        return [term for group in self.groups for term in group]


def parse_query(text: str) -> ParsedQuery:
    """Split ``text`` the way ``websearch_to_tsquery`` reads it: words, "phrases", or, -word."""
    parsed = ParsedQuery()
    join_next = False
    for match in _TOKEN_RE.finditer(text):
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None:
            if word.lower() == "or" and parsed.groups:
                join_next = True
                continue
            negated = "-" if word.startswith("-") else ""
            term = word.lstrip("-")
        else:
            term = phrase
        term = term.strip()
        if not term:
            continue
        if negated:
            parsed.excluded.append(term)
        elif join_next:
            parsed.groups[-1].append(term)
        else:
            parsed.groups.append([term])
        join_next = False
    return parsed


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def search_datasets(queryset: QuerySet[Dataset], text: str, *, forgive_typos: bool | None = None) -> QuerySet[Dataset]:
    """Datasets of ``queryset`` matching ``text``, annotated with ``search_rank``, best first.

    On PostgreSQL the words are matched as written (stemmed, through the GIN index); only when
    no dataset matches them (``forgive_typos``; computed when None) are they matched by trigram
    word similarity instead, so a typo costs the slower path and a good query never does.
    """
    parsed = parse_query(text)
    if not is_postgresql():
        return _search_sqlite(queryset, parsed)
    if forgive_typos is None:
        forgive_typos = needs_typo_matching(text)
    return _search_postgresql(queryset, text, parsed, forgive_typos=forgive_typos)


def _tsquery(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=settings.SEARCH_CONFIG)


def needs_typo_matching(text: str) -> bool:
    """True on PostgreSQL when no dataset in the catalog matches the words of ``text`` as written."""
    if not is_postgresql() or not parse_query(text).groups:
        return False
    return not Dataset.objects.filter(search_vector=_tsquery(text)).exists()


def _search_postgresql(
    queryset: QuerySet[Dataset], text: str, parsed: ParsedQuery, *, forgive_typos: bool
) -> QuerySet[Dataset]:
    if not forgive_typos:
        query = _tsquery(text)
        rank = Coalesce(SearchRank(F("search_vector"), query), Value(0.0))
        return queryset.filter(search_vector=query).annotate(search_rank=rank).order_by("-search_rank", "slug")
    condition = Q()
    for group in parsed.groups:
        group_match = Q()
        for term in group:
            group_match |= Q(search_text__trigram_word_similar=term)
        condition &= group_match
    for term in parsed.excluded:
        condition &= ~Q(search_vector=SearchQuery(term, search_type="phrase", config=settings.SEARCH_CONFIG))
    rank = TrigramWordSimilarity(" ".join(parsed.terms), "search_text") * Value(TRIGRAM_RANK_WEIGHT)
    return queryset.filter(condition).annotate(search_rank=rank).order_by("-search_rank", "slug")


def _term_condition(term: str) -> Q:
    condition = Q(organism__name__icontains=term)
    for name, _weight in SQLITE_FIELD_WEIGHTS:
        condition |= Q(**{f"{name}__icontains": term})
    return condition


def _search_sqlite(queryset: QuerySet[Dataset], parsed: ParsedQuery) -> QuerySet[Dataset]:
    if not parsed.groups:
        return queryset.none().annotate(search_rank=Value(0.0, output_field=FloatField()))
    condition = Q()
    for group in parsed.groups:
        group_condition = Q()
        for term in group:
            group_condition |= _term_condition(term)
        condition &= group_condition
    for term in parsed.excluded:
        condition &= ~_term_condition(term)
    rank = Value(0.0, output_field=FloatField())
    for term in parsed.terms:
        rank = rank + Case(
            *[When(**{f"{name}__icontains": term}, then=Value(weight)) for name, weight in SQLITE_FIELD_WEIGHTS],
            default=Value(0.0),
            output_field=FloatField(),
        )
    return queryset.filter(condition).annotate(search_rank=rank).order_by("-search_rank", "slug")


def _organelle_names_by_dataset(dataset_ids: list[int]) -> dict[int, list[str]]:
    """Names of every class annotated in each dataset, and of the groups those classes are in."""
    direct: dict[int, set[int]] = defaultdict(set)
    sources = (
        Volume.objects.filter(dataset_id__in=dataset_ids, label_class__isnull=False).values_list(
            "dataset_id", "label_class_id"
        ),
        Crop.label_classes.through.objects.filter(crop__dataset_id__in=dataset_ids).values_list(
            "crop__dataset_id", "labelclass_id"
        ),
        SegmentLabel.objects.filter(volume__dataset_id__in=dataset_ids, label_class__isnull=False).values_list(
            "volume__dataset_id", "label_class_id"
        ),
    )
    for source in sources:
        for dataset_id, class_id in source.distinct():
            direct[dataset_id].add(class_id)
    parents: dict[int, set[int]] = defaultdict(set)
    for group_id, member_id in LabelClass.members.through.objects.values_list("from_labelclass_id", "to_labelclass_id"):
        parents[member_id].add(group_id)
    names = {
        pk: " ".join([name, long_name, *aliases])
        for pk, name, long_name, aliases in LabelClass.objects.values_list("pk", "name", "long_name", "aliases")
    }
    result: dict[int, list[str]] = {}
    for dataset_id, class_ids in direct.items():
        closure = set(class_ids)
        pending = list(class_ids)
        while pending:
            for parent in parents[pending.pop()] - closure:
                closure.add(parent)
                pending.append(parent)
        result[dataset_id] = sorted(names[pk] for pk in closure)
    return result


def _distinct_words(text: str) -> str:
    """Each word once, in order of first use: short texts keep trigram matching fast."""
    seen: dict[str, None] = {}
    for word in _WORD_RE.findall(text):
        seen.setdefault(word.lower(), None)
    return " ".join(seen)


def _split_slug(slug: str) -> str:
    return f"{slug} {re.sub(r'[_-]+', ' ', slug)}"


def refresh_search_index(dataset_ids: Iterable[int] | None = None) -> None:
    """Recompute the stored search fields of the given datasets (all when None).

    Call after any write that changes a dataset's texts, vocabulary or annotations.
    """
    datasets = Dataset.objects.select_related("organism").prefetch_related("tissues", "cell_types", "treatments")
    if dataset_ids is not None:
        datasets = datasets.filter(pk__in=list(dataset_ids))
    datasets = list(datasets.only("pk", "slug", "title", "description", "organism__name", "organism__common_name"))
    if not datasets:
        return
    organelles = _organelle_names_by_dataset([dataset.pk for dataset in datasets])
    postgresql = is_postgresql()
    config = settings.SEARCH_CONFIG
    for dataset in datasets:
        primary = f"{dataset.title} {_split_slug(dataset.slug)}"
        vocabulary = " ".join(
            [
                *([dataset.organism.name, dataset.organism.common_name] if dataset.organism else []),
                *(tissue.name for tissue in dataset.tissues.all()),
                *(cell_type.name for cell_type in dataset.cell_types.all()),
                *(treatment.name for treatment in dataset.treatments.all()),
                *organelles.get(dataset.pk, []),
            ]
        )
        dataset.search_text = _distinct_words(f"{primary} {dataset.description} {vocabulary}")
        if postgresql:
            dataset.search_vector = (
                SearchVector(Value(primary), weight="A", config=config)
                + SearchVector(Value(dataset.description), weight="B", config=config)
                + SearchVector(Value(vocabulary), weight="C", config=config)
            )
    fields = ["search_text", "search_vector"] if postgresql else ["search_text"]
    Dataset.objects.bulk_update(datasets, fields, batch_size=200)
