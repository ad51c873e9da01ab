"""How to cite a dataset or a collection: BibTeX, RIS, CSL-JSON, DataCite 4.x JSON, schema.org JSON-LD.

Pure functions: records in (datasets with their organism, tissues, institutions, DOIs,
publications and collections prefetched; collections with their DOI and datasets), text or
dicts out. No query of their own beyond the prefetched relations, no I/O. The caller passes
the landing page URL, so the same output serves the API and the HTML pages.

Datasets name no personal authors in the catalog; their creators are the institutions that
produced them (organisations), which is what DataCite records for them too. Collections list
their authors by name.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from catalog.models import Collection, Dataset
from catalog.models.base import DoiGroup, Modality

Style = Literal["bibtex", "ris", "csl"]
STYLES: dict[str, str] = {
    "bibtex": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
    "csl": "application/vnd.citationstyles.csl+json",
}
DATACITE_SCHEMA = "http://datacite.org/schema/kernel-4"


@dataclass(frozen=True)
class Creator:
    """A person (given and family name) or an organisation (name only)."""

    name: str
    given: str = ""
    family: str = ""

    @property
    def is_person(self) -> bool:
        return bool(self.family)


@dataclass(frozen=True)
class RelatedWork:
    doi: str
    relation: str  # a DataCite relationType


@dataclass(frozen=True)
class CitationRecord:
    """What every format needs, taken once from a dataset or a collection."""

    key: str
    title: str
    creators: list[Creator]
    publisher: str
    url: str
    issued: datetime.date | None
    doi: str | None = None
    description: str = ""
    version: str = ""
    licence: str = ""
    licence_url: str = ""
    keywords: list[str] = field(default_factory=list)
    related: list[RelatedWork] = field(default_factory=list)
    resource_type: str = "Dataset"


def person(name: str) -> Creator:
    """Split "Given Family" (or "Family, Given") into its parts; one word is an organisation."""
    text = " ".join(name.split())
    if "," in text:
        family, _, given = text.partition(",")
        return Creator(name=text, given=given.strip(), family=family.strip())
    parts = text.rsplit(" ", 1)
    if len(parts) == 1:
        return Creator(name=text)
    return Creator(name=text, given=parts[0], family=parts[1])


def _primary_doi(dataset: Dataset) -> tuple[str | None, list[str]]:
    links = sorted(dataset.dataset_dois.all(), key=lambda link: (link.group != DoiGroup.DATASET, link.doi.value))
    values = [link.doi.value for link in links]
    return (values[0], values[1:]) if values else (None, [])


def dataset_record(dataset: Dataset, *, url: str, publisher: str) -> CitationRecord:
    doi, other_dois = _primary_doi(dataset)
    creators = [Creator(name=institution.name) for institution in dataset.institutions.all()]
    if not creators and dataset.acquisition_institution:
        creators = [Creator(name=dataset.acquisition_institution)]
    related = [RelatedWork(value, "HasPart") for value in other_dois]
    related += [
        RelatedWork(publication.doi.value, "IsDescribedBy")
        for publication in dataset.publications.all()
        if publication.doi is not None
    ]
    related += [
        RelatedWork(collection.doi.value, "IsPartOf")
        for collection in dataset.collections.all()
        if collection.doi is not None
    ]
    keywords = [
        *([dataset.organism.name] if dataset.organism else []),
        *(tissue.name for tissue in dataset.tissues.all()),
        *([Modality(dataset.modality).label] if dataset.modality else []),
        *dataset.tags,
    ]
    return CitationRecord(
        key=dataset.slug,
        title=dataset.title or dataset.slug,
        creators=creators,
        publisher=publisher,
        url=url,
        issued=dataset.release_date or dataset.created_at.date(),
        doi=doi,
        description=dataset.description,
        version=dataset.version,
        licence=dataset.licence,
        licence_url=dataset.licence_url,
        keywords=list(dict.fromkeys(keywords)),
        related=related,
    )


def collection_record(collection: Collection, *, url: str, publisher: str) -> CitationRecord:
    return CitationRecord(
        key=collection.slug,
        title=collection.title,
        creators=[person(name) for name in collection.authors],
        publisher=publisher,
        url=url,
        issued=collection.release_date or collection.created_at.date(),
        doi=collection.doi.value if collection.doi else None,
        description=collection.summary or collection.description,
        keywords=list(collection.tags),
        resource_type="Collection",
    )


# BibTeX --------------------------------------------------------------------------------------------

_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _bibtex_escape(text: str) -> str:
    return "".join(_BIBTEX_SPECIAL.get(char, char) for char in " ".join(text.split()))


def _bibtex_name(creator: Creator) -> str:
    if creator.is_person:
        return f"{_bibtex_escape(creator.family)}, {_bibtex_escape(creator.given)}"
    return "{" + _bibtex_escape(creator.name) + "}"


def bibtex(record: CitationRecord) -> str:
    """A ``@misc`` entry (BibLaTeX reads it as a dataset), keyed by the slug."""
    fields: list[tuple[str, str]] = [("title", "{" + _bibtex_escape(record.title) + "}")]
    if record.creators:
        fields.append(("author", " and ".join(_bibtex_name(creator) for creator in record.creators)))
    if record.issued:
        fields += [("year", str(record.issued.year)), ("month", str(record.issued.month))]
    fields.append(("publisher", _bibtex_escape(record.publisher)))
    if record.version:
        fields.append(("version", _bibtex_escape(record.version)))
    if record.doi:
        fields.append(("doi", record.doi))
    fields += [("url", record.url), ("note", record.resource_type)]
    key = re.sub(r"[^A-Za-z0-9_:-]", "_", record.key)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


# RIS -----------------------------------------------------------------------------------------------


def ris(record: CitationRecord) -> str:
    """A RIS record of type DATA, CRLF line ends as the format asks."""
    lines = [("TY", "DATA"), ("TI", record.title)]
    lines += [("AU", f"{c.family}, {c.given}" if c.is_person else c.name) for c in record.creators]
    if record.issued:
        lines += [("PY", str(record.issued.year)), ("DA", record.issued.strftime("%Y/%m/%d"))]
    lines.append(("PB", record.publisher))
    if record.version:
        lines.append(("ET", record.version))
    if record.doi:
        lines.append(("DO", record.doi))
    lines.append(("UR", record.url))
    if record.description:
        lines.append(("AB", " ".join(record.description.split())))
    lines += [("KW", keyword) for keyword in record.keywords]
    lines.append(("ER", ""))
    return "".join(f"{tag}  - {value}".rstrip() + "\r\n" for tag, value in lines)


# CSL-JSON ------------------------------------------------------------------------------------------


def csl_json(record: CitationRecord) -> list[dict[str, Any]]:
    """One CSL-JSON item (in a list, as citeproc processors take them)."""
    item: dict[str, Any] = {
        "id": record.key,
        "type": "dataset",
        "title": record.title,
        "author": [
            {"family": c.family, "given": c.given} if c.is_person else {"literal": c.name} for c in record.creators
        ],
        "publisher": record.publisher,
        "URL": record.url,
    }
    if record.issued:
        item["issued"] = {"date-parts": [[record.issued.year, record.issued.month, record.issued.day]]}
    if record.doi:
        item["DOI"] = record.doi
    if record.version:
        item["version"] = record.version
    if record.description:
        item["abstract"] = record.description
    if record.keywords:
        item["keyword"] = ", ".join(record.keywords)
    return [item]


def render(record: CitationRecord, style: Style) -> str:
    """The citation as text in ``style`` (bibtex, ris or csl)."""
    if style == "bibtex":
        return bibtex(record)
    if style == "ris":
        return ris(record)
    if style == "csl":
        return json.dumps(csl_json(record), ensure_ascii=False, indent=2)
    raise ValueError(f"Unknown citation style {style!r}; use one of {', '.join(STYLES)}.")


# DataCite ------------------------------------------------------------------------------------------


def datacite(record: CitationRecord) -> dict[str, Any]:
    """DataCite Metadata Schema 4.x in the JSON of DataCite's REST API; only for a record with a DOI."""
    if not record.doi:
        raise ValueError(f"{record.key} has no DOI; DataCite metadata describes DOIs.")
    creators = [
        {"name": f"{c.family}, {c.given}", "nameType": "Personal", "givenName": c.given, "familyName": c.family}
        if c.is_person
        else {"name": c.name, "nameType": "Organizational"}
        for c in record.creators
    ] or [{"name": ":unav", "nameType": "Organizational"}]
    attributes: dict[str, Any] = {
        "doi": record.doi,
        "identifiers": [{"identifier": f"https://doi.org/{record.doi}", "identifierType": "DOI"}],
        "creators": creators,
        "titles": [{"title": record.title}],
        "publisher": {"name": record.publisher},
        "publicationYear": record.issued.year if record.issued else None,
        "types": {"resourceTypeGeneral": record.resource_type, "resourceType": record.resource_type},
        "subjects": [{"subject": keyword} for keyword in record.keywords],
        "dates": [{"date": record.issued.isoformat(), "dateType": "Issued"}] if record.issued else [],
        "relatedIdentifiers": [
            {"relatedIdentifier": work.doi, "relatedIdentifierType": "DOI", "relationType": work.relation}
            for work in record.related
        ],
        "descriptions": [{"description": record.description, "descriptionType": "Abstract"}]
        if record.description
        else [],
        "rightsList": [{"rights": record.licence, "rightsUri": record.licence_url}] if record.licence else [],
        "url": record.url,
        "schemaVersion": DATACITE_SCHEMA,
    }
    if record.version:
        attributes["version"] = record.version
    return {"data": {"id": record.doi, "type": "dois", "attributes": attributes}}


# schema.org ----------------------------------------------------------------------------------------


def _schema_org_creator(creator: Creator) -> dict[str, str]:
    if creator.is_person:
        return {"@type": "Person", "name": creator.name, "givenName": creator.given, "familyName": creator.family}
    return {"@type": "Organization", "name": creator.name}


def _schema_org_common(record: CitationRecord) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": record.url,
        "name": record.title,
        "description": record.description or record.title,
        "url": record.url,
        "creator": [_schema_org_creator(creator) for creator in record.creators],
        "publisher": {"@type": "Organization", "name": record.publisher},
        "keywords": record.keywords,
        "isAccessibleForFree": True,
    }
    if record.doi:
        document["identifier"] = f"https://doi.org/{record.doi}"
    if record.issued:
        document["datePublished"] = record.issued.isoformat()
    if record.version:
        document["version"] = record.version
    if record.licence_url or record.licence:
        document["license"] = record.licence_url or record.licence
    return document


def dataset_jsonld(dataset: Dataset, record: CitationRecord) -> dict[str, Any]:
    """schema.org ``Dataset`` for search engines and harvesters (also embedded in the pages)."""
    document = _schema_org_common(record)
    if dataset.modality:
        document["measurementTechnique"] = Modality(dataset.modality).label
    if dataset.organism:
        taxon: dict[str, Any] = {"@type": "Taxon", "name": dataset.organism.name}
        if dataset.organism.ncbi_taxonomy_id:
            taxon["identifier"] = (
                f"https://www.ncbi.nlm.nih.gov/Taxonomy/Browser/wwwtax.cgi?id={dataset.organism.ncbi_taxonomy_id}"
            )
        document["about"] = taxon
    if dataset.thumbnail_url:
        document["thumbnailUrl"] = dataset.thumbnail_url
    if dataset.download_url:
        document["distribution"] = [{"@type": "DataDownload", "contentUrl": dataset.download_url}]
    document["isPartOf"] = [
        {"@type": "Dataset", "name": collection.title, "identifier": collection.slug}
        for collection in dataset.collections.all()
    ]
    document["citation"] = [
        f"https://doi.org/{publication.doi.value}" if publication.doi else publication.title
        for publication in dataset.publications.all()
    ]
    return document


def collection_jsonld(collection: Collection, record: CitationRecord, dataset_urls: dict[str, str]) -> dict[str, Any]:
    """schema.org ``Dataset`` of a collection, with its datasets as parts."""
    document = _schema_org_common(record)
    if collection.thumbnail_url:
        document["thumbnailUrl"] = collection.thumbnail_url
    document["hasPart"] = [
        {"@type": "Dataset", "name": dataset.title or dataset.slug, "url": dataset_urls[dataset.slug]}
        for dataset in collection.datasets.all()
    ]
    return document
