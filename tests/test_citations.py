"""Citations and linked data of datasets and collections: the pure functions and their endpoints."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import datetime
import json

import pytest

from catalog import citations
from catalog.models import Dataset
from tests.test_api_fixtures import SmallCatalog, api, small_catalog  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "https://portal.example/datasets/jrc_hela-2/"


def hela_record(small_catalog: SmallCatalog) -> citations.CitationRecord:
    dataset = Dataset.objects.for_citation().get(slug="jrc_hela-2")
    return citations.dataset_record(dataset, url=URL, publisher="Test Portal")


def test_person_names_are_split() -> None:
    assert citations.person("Jane Doe") == citations.Creator(name="Jane Doe", given="Jane", family="Doe")
    assert citations.person("Smith, John") == citations.Creator(name="Smith, John", given="John", family="Smith")
    assert not citations.person("CellMap").is_person


def test_dataset_record(small_catalog: SmallCatalog) -> None:
    record = hela_record(small_catalog)
    assert record.title == "Interphase HeLa cell"
    assert record.doi == "10.25378/janelia.13114211"
    assert record.creators == [citations.Creator(name="HHMI/Janelia")]
    assert record.issued == datetime.date(2021, 5, 1)
    assert citations.RelatedWork("10.1038/s41586-021-03977-3", "IsDescribedBy") in record.related
    assert citations.RelatedWork("10.25378/janelia.challenge", "IsPartOf") in record.related
    assert record.keywords[:2] == ["Homo sapiens", "FIB-SEM"]


def test_bibtex(small_catalog: SmallCatalog) -> None:
    text = citations.bibtex(hela_record(small_catalog))
    assert text.startswith("@misc{jrc_hela-2,\n")
    assert "  title = {{Interphase HeLa cell}},\n" in text
    assert "  author = {{HHMI/Janelia}},\n" in text
    assert "  year = {2021},\n" in text
    assert "  doi = {10.25378/janelia.13114211},\n" in text
    assert f"  url = {{{URL}}},\n" in text
    assert text.rstrip().endswith("}")


def test_bibtex_escapes_special_characters() -> None:
    record = citations.CitationRecord(
        key="a b",
        title="50% of {cells} & more_stuff",
        creators=[citations.person("Doe, Jane")],
        publisher="P",
        url="u",
        issued=None,
    )
    text = citations.bibtex(record)
    assert text.startswith("@misc{a_b,")
    assert r"{50\% of \{cells\} \& more\_stuff}" in text
    assert "author = {Doe, Jane}" in text


def test_ris(small_catalog: SmallCatalog) -> None:
    lines = citations.ris(hela_record(small_catalog)).split("\r\n")
    assert lines[0] == "TY  - DATA"
    assert "TI  - Interphase HeLa cell" in lines
    assert "AU  - HHMI/Janelia" in lines
    assert "PY  - 2021" in lines
    assert "DA  - 2021/05/01" in lines
    assert "DO  - 10.25378/janelia.13114211" in lines
    assert f"UR  - {URL}" in lines
    assert lines[-2:] == ["ER  -", ""]


def test_csl_json(small_catalog: SmallCatalog) -> None:
    (item,) = citations.csl_json(hela_record(small_catalog))
    assert item["type"] == "dataset"
    assert item["id"] == "jrc_hela-2"
    assert item["author"] == [{"literal": "HHMI/Janelia"}]
    assert item["issued"] == {"date-parts": [[2021, 5, 1]]}
    assert item["DOI"] == "10.25378/janelia.13114211"


def test_datacite(small_catalog: SmallCatalog) -> None:
    document = citations.datacite(hela_record(small_catalog))
    attributes = document["data"]["attributes"]
    assert document["data"]["id"] == "10.25378/janelia.13114211"
    assert attributes["schemaVersion"] == "http://datacite.org/schema/kernel-4"
    assert attributes["types"]["resourceTypeGeneral"] == "Dataset"
    assert attributes["creators"] == [{"name": "HHMI/Janelia", "nameType": "Organizational"}]
    assert attributes["titles"] == [{"title": "Interphase HeLa cell"}]
    assert attributes["publicationYear"] == 2021
    assert attributes["publisher"] == {"name": "Test Portal"}
    assert attributes["rightsList"][0]["rightsUri"] == "https://creativecommons.org/licenses/by/4.0/"
    assert {
        "relatedIdentifier": "10.1038/s41586-021-03977-3",
        "relatedIdentifierType": "DOI",
        "relationType": "IsDescribedBy",
    } in attributes["relatedIdentifiers"]


def test_datacite_needs_a_doi() -> None:
    record = citations.CitationRecord(key="x", title="x", creators=[], publisher="p", url="u", issued=None)
    with pytest.raises(ValueError, match="no DOI"):
        citations.datacite(record)


def test_jsonld(small_catalog: SmallCatalog) -> None:
    dataset = Dataset.objects.for_citation().get(slug="jrc_hela-2")
    document = citations.dataset_jsonld(dataset, hela_record(small_catalog))
    assert document["@context"] == "https://schema.org"
    assert document["@type"] == "Dataset"
    assert document["identifier"] == "https://doi.org/10.25378/janelia.13114211"
    assert document["measurementTechnique"] == "FIB-SEM"
    assert document["about"]["name"] == "Homo sapiens"
    assert document["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert document["isPartOf"][0]["name"] == "CellMap Segmentation Challenge"
    assert document["citation"] == ["https://doi.org/10.1038/s41586-021-03977-3"]


# Endpoints ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "content_type", "start"),
    [
        ("bibtex", "application/x-bibtex; charset=utf-8", "@misc{jrc_hela-2,"),
        ("ris", "application/x-research-info-systems; charset=utf-8", "TY  - DATA"),
        ("csl", "application/vnd.citationstyles.csl+json", "["),
    ],
)
def test_dataset_citation_endpoint(api, small_catalog: SmallCatalog, style, content_type, start) -> None:
    response = api.get(f"/api/datasets/jrc_hela-2/citation/?style={style}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    text = response.content.decode()
    assert text.startswith(start)
    assert "http://testserver/datasets/jrc_hela-2/" in text


def test_collection_citations(api, small_catalog: SmallCatalog) -> None:
    bibtex = api.get("/api/collections/cellmap-segmentation-challenge/citation/").content.decode()
    assert "author = {Doe, Jane and Smith, John}" in bibtex
    csl = json.loads(api.get("/api/collections/cellmap-segmentation-challenge/citation/?style=csl").content)
    assert csl[0]["author"] == [{"family": "Doe", "given": "Jane"}, {"family": "Smith", "given": "John"}]
    datacite = api.get("/api/collections/cellmap-segmentation-challenge/datacite/")
    assert datacite["Content-Type"] == "application/vnd.datacite.datacite+json"
    attributes = datacite.json()["data"]["attributes"]
    assert attributes["types"]["resourceTypeGeneral"] == "Collection"
    assert attributes["creators"][0]["familyName"] == "Doe"
    jsonld = api.get("/api/collections/cellmap-segmentation-challenge/jsonld/")
    assert jsonld["Content-Type"] == "application/ld+json"
    parts = jsonld.json()["hasPart"]
    assert [part["url"] for part in parts] == [
        "http://testserver/datasets/jrc_hela-2/",
        "http://testserver/datasets/jrc_mus-liver/",
    ]


def test_jsonld_and_datacite_endpoints(api, small_catalog: SmallCatalog) -> None:
    response = api.get("/api/datasets/jrc_hela-2/jsonld/")
    assert response["Content-Type"] == "application/ld+json"
    assert response.json()["url"] == "http://testserver/datasets/jrc_hela-2/"
    assert api.get("/api/datasets/jrc_hela-2/datacite/").json()["data"]["type"] == "dois"
    missing = api.get("/api/datasets/jrc_mus-liver/datacite/")
    assert missing.status_code == 404
    assert "no DOI" in missing.json()["detail"]
