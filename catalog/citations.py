"""How to cite a dataset or a collection: BibTeX, RIS, CSL-JSON, DataCite 4.x JSON, schema.org JSON-LD.

Pure functions: records in (datasets with their organism, tissues, institutions, DOIs,
publications and collections prefetched; collections with their DOI and datasets), text or
dicts out. No query of their own beyond the prefetched relations, no I/O. The caller passes
the landing page URL (``canonical_url``: the portal's configured address, never the host of
a request), so the same output serves the API and the HTML pages.

A citation states only what the catalog knows. The year is the data's: its release date,
else the year of its earliest publication; never the day the record was loaded. With neither,
no date is given (the one-line reference says "n.d."). Creators are the people and teams the
dataset credits, in order; only when it names nobody do its institutions stand in for them.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings

from catalog.models import Collection, Dataset
from catalog.models.base import DoiGroup, Modality

Style = Literal["bibtex", "ris", "csl"]
STYLES: dict[str, str] = {
    "bibtex": "application/x-bibtex; charset=utf-8",
    "ris": "application/x-research-info-systems; charset=utf-8",
    "csl": "application/vnd.citationstyles.csl+json",
}
DATACITE_SCHEMA = "http://datacite.org/schema/kernel-4"
# Which DOI a citation leads with: the whole dataset, then its data (EM), then derived data.
DOI_GROUP_ORDER = [DoiGroup.DATASET, DoiGroup.EM, DoiGroup.SEGMENTATIONS]
NO_DATE = "n.d."


def canonical_url(path: str) -> str:
    """``path`` on the portal's canonical address (``PORTAL_BASE_URL``)."""
    return settings.PORTAL_BASE_URL.rstrip("/") + path


@dataclass(frozen=True)
class Creator:
    """A person (given and family name) or an organisation (name only)."""

    name: str
    given: str = ""
    family: str = ""
    orcid: str = ""

    @property
    def is_person(self) -> bool:
        return bool(self.family)


@dataclass(frozen=True)
class RelatedWork:
    doi: str
    relation: str  # a DataCite relationType


@dataclass(frozen=True)
class OtherDoi:
    """A further DOI of the same record (a dataset's segmentations next to its EM)."""

    doi: str
    label: str


@dataclass(frozen=True)
class CitationRecord:
    """What every format needs, taken once from a dataset or a collection.

    ``issued`` is a full date where one is known; ``year`` alone where only the year is
    (a publication's); both None where nothing is.
    """

    key: str
    title: str
    creators: list[Creator]
    publisher: str
    url: str
    issued: datetime.date | None
    doi: str | None = None
    other_dois: list[OtherDoi] = field(default_factory=list)
    year: int | None = None
    description: str = ""
    version: str = ""
    licence: str = ""
    licence_url: str = ""
    keywords: list[str] = field(default_factory=list)
    related: list[RelatedWork] = field(default_factory=list)
    resource_type: str = "Dataset"

    @property
    def published_year(self) -> int | None:
        return self.issued.year if self.issued else self.year


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


def _dois(dataset: Dataset) -> tuple[str | None, list[OtherDoi]]:
    """The DOI to cite (the data's) and the others, labelled by what they cover."""

    def rank(group: str) -> int:
        return DOI_GROUP_ORDER.index(group) if group in DOI_GROUP_ORDER else len(DOI_GROUP_ORDER)

    links = sorted(dataset.dataset_dois.all(), key=lambda link: (rank(link.group), link.doi.value))
    if not links:
        return None, []
    return links[0].doi.value, [OtherDoi(link.doi.value, DoiGroup(link.group).label) for link in links[1:]]


def dataset_creators(dataset: Dataset) -> list[Creator]:
    """The people and teams the dataset credits, in order; else its institutions (organisations)."""
    creators = [
        Creator(
            name=entry["name"],
            given=entry.get("given_name", ""),
            family=entry.get("family_name", ""),
            orcid=entry.get("orcid", ""),
        )
        for entry in dataset.creators
    ]
    if not creators:
        creators = [Creator(name=institution.name) for institution in dataset.institutions.all()]
    if not creators and dataset.acquisition_institution:
        creators = [Creator(name=dataset.acquisition_institution)]
    return creators


def data_year(dataset: Dataset) -> int | None:
    """The year of the data when no release date is known: its earliest publication's, if any."""
    years = [publication.year for publication in dataset.publications.all() if publication.year]
    return min(years) if years else None


def dataset_record(dataset: Dataset, *, url: str, publisher: str) -> CitationRecord:
    doi, other_dois = _dois(dataset)
    related = [RelatedWork(other.doi, "HasPart") for other in other_dois]
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
        creators=dataset_creators(dataset),
        publisher=publisher,
        url=url,
        issued=dataset.release_date,
        year=None if dataset.release_date else data_year(dataset),
        doi=doi,
        other_dois=other_dois,
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
        issued=collection.release_date,
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


def _other_dois_note(record: CitationRecord) -> str:
    return "; ".join(f"{other.label}: doi:{other.doi}" for other in record.other_dois)


def bibtex(record: CitationRecord) -> str:
    """A ``@misc`` entry (BibLaTeX reads it as a dataset), keyed by the slug; no year when none is known."""
    fields: list[tuple[str, str]] = [("title", "{" + _bibtex_escape(record.title) + "}")]
    if record.creators:
        fields.append(("author", " and ".join(_bibtex_name(creator) for creator in record.creators)))
    if record.published_year:
        fields.append(("year", str(record.published_year)))
    if record.issued:
        fields.append(("month", str(record.issued.month)))
    fields.append(("publisher", _bibtex_escape(record.publisher)))
    if record.version:
        fields.append(("version", _bibtex_escape(record.version)))
    if record.doi:
        fields.append(("doi", record.doi))
    note = ". ".join(part for part in (record.resource_type, _bibtex_escape(_other_dois_note(record))) if part)
    fields += [("url", record.url), ("note", note)]
    key = re.sub(r"[^A-Za-z0-9_:-]", "_", record.key)
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n"


# RIS -----------------------------------------------------------------------------------------------


def ris(record: CitationRecord) -> str:
    """A RIS record of type DATA, CRLF line ends as the format asks."""
    lines = [("TY", "DATA"), ("TI", record.title)]
    lines += [("AU", f"{c.family}, {c.given}" if c.is_person else c.name) for c in record.creators]
    if record.published_year:
        lines.append(("PY", str(record.published_year)))
    if record.issued:
        lines.append(("DA", record.issued.strftime("%Y/%m/%d")))
    lines.append(("PB", record.publisher))
    if record.version:
        lines.append(("ET", record.version))
    if record.doi:
        lines.append(("DO", record.doi))
    lines += [("N1", f"{other.label} DOI: {other.doi}") for other in record.other_dois]
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
    elif record.year:
        item["issued"] = {"date-parts": [[record.year]]}
    if record.doi:
        item["DOI"] = record.doi
    if record.other_dois:
        item["note"] = _other_dois_note(record)
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


def _datacite_creator(creator: Creator) -> dict[str, Any]:
    if not creator.is_person:
        return {"name": creator.name, "nameType": "Organizational"}
    entry: dict[str, Any] = {
        "name": f"{creator.family}, {creator.given}" if creator.given else creator.family,
        "nameType": "Personal",
        "givenName": creator.given,
        "familyName": creator.family,
    }
    if creator.orcid:
        entry["nameIdentifiers"] = [
            {
                "nameIdentifier": f"https://orcid.org/{creator.orcid}",
                "nameIdentifierScheme": "ORCID",
                "schemeUri": "https://orcid.org",
            }
        ]
    return entry


def datacite(record: CitationRecord) -> dict[str, Any]:
    """DataCite Metadata Schema 4.x in the JSON of DataCite's REST API; only for a record with a DOI."""
    if not record.doi:
        raise ValueError(f"{record.key} has no DOI; DataCite metadata describes DOIs.")
    creators = [_datacite_creator(c) for c in record.creators] or [{"name": ":unav", "nameType": "Organizational"}]
    attributes: dict[str, Any] = {
        "doi": record.doi,
        "identifiers": [{"identifier": f"https://doi.org/{record.doi}", "identifierType": "DOI"}],
        "creators": creators,
        "titles": [{"title": record.title}],
        "publisher": {"name": record.publisher},
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
    if record.published_year:
        attributes["publicationYear"] = record.published_year
    if record.version:
        attributes["version"] = record.version
    return {"data": {"id": record.doi, "type": "dois", "attributes": attributes}}


# schema.org ----------------------------------------------------------------------------------------


def _schema_org_creator(creator: Creator) -> dict[str, str]:
    if not creator.is_person:
        return {"@type": "Organization", "name": creator.name}
    entry = {"@type": "Person", "name": creator.name, "givenName": creator.given, "familyName": creator.family}
    if creator.orcid:
        entry["identifier"] = f"https://orcid.org/{creator.orcid}"
    return entry


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
    elif record.year:
        document["datePublished"] = str(record.year)
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
