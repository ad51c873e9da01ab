"""Citations and linked data of datasets and collections: the pure functions and their endpoints."""

# Fixtures imported from tests.test_api_fixtures are redefined as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse

from catalog import citations, models
from catalog.models import Dataset
from catalog.models.base import DoiGroup
from catalog.views import _citation
from tests import factories
from tests.test_api_fixtures import SmallCatalog, api, small_catalog  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "https://portal.example/datasets/jrc_hela-2/"
CANONICAL = "https://catalog.example.org"


@pytest.fixture(autouse=True)
def _canonical_address(settings) -> None:
    """The portal's configured address differs from the host the test client calls."""
    settings.PORTAL_BASE_URL = CANONICAL + "/"


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
    assert f"{CANONICAL}/datasets/jrc_hela-2/" in text
    assert "testserver" not in text


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
        f"{CANONICAL}/datasets/jrc_hela-2/",
        f"{CANONICAL}/datasets/jrc_mus-liver/",
    ]


def test_jsonld_and_datacite_endpoints(api, small_catalog: SmallCatalog) -> None:
    response = api.get("/api/datasets/jrc_hela-2/jsonld/")
    assert response["Content-Type"] == "application/ld+json"
    assert response.json()["url"] == f"{CANONICAL}/datasets/jrc_hela-2/"
    assert api.get("/api/datasets/jrc_hela-2/datacite/").json()["data"]["type"] == "dois"
    missing = api.get("/api/datasets/jrc_mus-liver/datacite/")
    assert missing.status_code == 404
    assert "no DOI" in missing.json()["detail"]


# The year, the creators, the DOIs and the address of the data ----------------------------------


def _record(dataset: models.Dataset) -> citations.CitationRecord:
    return citations.dataset_record(Dataset.objects.for_citation().get(pk=dataset.pk), url=URL, publisher="Test Portal")


def _publication(title: str, year: int) -> models.Publication:
    return models.Publication.objects.create(title=title, year=year)


def test_without_a_release_date_the_year_is_the_earliest_publication_s() -> None:
    dataset = factories.DatasetFactory(slug="jrc_cos7-11", release_date=None)
    dataset.publications.add(_publication("Hoffman et al., 2020", 2020), _publication("Heinrich et al., 2021", 2021))
    record = _record(dataset)
    assert (record.issued, record.year, record.published_year) == (None, 2020, 2020)
    bibtex = citations.bibtex(record)
    assert "  year = {2020},\n" in bibtex
    assert "month" not in bibtex
    ris_lines = citations.ris(record).split("\r\n")
    assert "PY  - 2020" in ris_lines
    assert not any(line.startswith("DA  -") for line in ris_lines)
    assert citations.csl_json(record)[0]["issued"] == {"date-parts": [[2020]]}
    assert citations.dataset_jsonld(dataset, record)["datePublished"] == "2020"
    assert _citation(record)["text"].startswith("Test dataset")
    assert "(2020)" in _citation(record)["text"]


def test_a_release_date_beats_the_publications() -> None:
    dataset = factories.DatasetFactory(slug="jrc_mus-skin-1", release_date=datetime.date(2024, 9, 6))
    dataset.publications.add(_publication("Older paper", 2019))
    record = _record(dataset)
    assert (record.issued, record.published_year) == (datetime.date(2024, 9, 6), 2024)
    assert citations.csl_json(record)[0]["issued"] == {"date-parts": [[2024, 9, 6]]}


def test_no_known_date_is_never_the_load_day() -> None:
    dataset = factories.DatasetFactory(slug="jrc_mus-liver", release_date=None)
    models.DatasetDOI.objects.create(
        dataset=dataset, doi=models.DOI.objects.create(value="10.25378/janelia.16913047"), group=DoiGroup.EM
    )
    record = _record(dataset)
    assert (record.issued, record.published_year) == (None, None)
    assert "year =" not in citations.bibtex(record)
    assert not any(line.startswith(("PY", "DA")) for line in citations.ris(record).split("\r\n"))
    assert "issued" not in citations.csl_json(record)[0]
    attributes = citations.datacite(record)["data"]["attributes"]
    assert "publicationYear" not in attributes
    assert attributes["dates"] == []
    assert "datePublished" not in citations.dataset_jsonld(dataset, record)
    assert "(n.d.)" in _citation(record)["text"]
    assert str(datetime.date.today().year) not in _citation(record)["text"]


def test_creators_in_order_with_orcid_and_institutions_only_when_nobody_is_named() -> None:
    named = factories.DatasetFactory(
        slug="jrc_hela-3",
        release_date=datetime.date(2021, 1, 1),
        creators=[
            {"name": "Aubrey Weigel", "given_name": "Aubrey", "family_name": "Weigel", "orcid": ""},
            {
                "name": "Schuyler van Engelenburg",
                "given_name": "Schuyler",
                "family_name": "van Engelenburg",
                "orcid": "0000-0002-1825-0097",
            },
            {"name": "COSEM Project Team", "given_name": "", "family_name": "", "orcid": ""},
        ],
    )
    janelia = models.Institution.objects.create(name="HHMI/Janelia")
    named.institutions.add(janelia)
    models.DatasetDOI.objects.create(
        dataset=named, doi=models.DOI.objects.create(value="10.25378/janelia.13114244"), group=DoiGroup.EM
    )
    record = _record(named)
    assert [creator.name for creator in record.creators] == [
        "Aubrey Weigel",
        "Schuyler van Engelenburg",
        "COSEM Project Team",
    ]
    assert "author = {Weigel, Aubrey and van Engelenburg, Schuyler and {COSEM Project Team}}" in citations.bibtex(
        record
    )
    creators = citations.datacite(record)["data"]["attributes"]["creators"]
    assert creators[1]["nameIdentifiers"] == [
        {
            "nameIdentifier": "https://orcid.org/0000-0002-1825-0097",
            "nameIdentifierScheme": "ORCID",
            "schemeUri": "https://orcid.org",
        }
    ]
    assert "nameIdentifiers" not in creators[0]
    assert creators[2] == {"name": "COSEM Project Team", "nameType": "Organizational"}
    jsonld_creators = citations.dataset_jsonld(named, record)["creator"]
    assert jsonld_creators[1]["identifier"] == "https://orcid.org/0000-0002-1825-0097"

    unnamed = factories.DatasetFactory(slug="jrc_hela-4")
    unnamed.institutions.add(janelia)
    assert _record(unnamed).creators == [citations.Creator(name="HHMI/Janelia")]


def test_the_data_doi_leads_and_the_segmentations_doi_is_offered_too() -> None:
    dataset = factories.DatasetFactory(slug="jrc_hela-2", release_date=datetime.date(2021, 5, 1))
    # The segmentations' DOI sorts first by value; the EM's must still lead.
    for value, group in (("10.25378/janelia.13108343", DoiGroup.SEGMENTATIONS), ("10.25378/janelia.13114211", "em")):
        models.DatasetDOI.objects.create(dataset=dataset, doi=models.DOI.objects.create(value=value), group=group)
    record = _record(dataset)
    assert record.doi == "10.25378/janelia.13114211"
    assert record.other_dois == [citations.OtherDoi("10.25378/janelia.13108343", "Segmentations")]
    bibtex = citations.bibtex(record)
    assert "  doi = {10.25378/janelia.13114211},\n" in bibtex
    assert "note = {Dataset. Segmentations: doi:10.25378/janelia.13108343}" in bibtex
    assert "N1  - Segmentations DOI: 10.25378/janelia.13108343" in citations.ris(record).split("\r\n")
    (item,) = citations.csl_json(record)
    assert (item["DOI"], item["note"]) == ("10.25378/janelia.13114211", "Segmentations: doi:10.25378/janelia.13108343")
    attributes = citations.datacite(record)["data"]["attributes"]
    assert attributes["doi"] == "10.25378/janelia.13114211"
    assert {
        "relatedIdentifier": "10.25378/janelia.13108343",
        "relatedIdentifierType": "DOI",
        "relationType": "HasPart",
    } in attributes["relatedIdentifiers"]
    text = _citation(record)["text"]
    assert text.index("https://doi.org/10.25378/janelia.13114211") < text.index(
        "Segmentations: https://doi.org/10.25378/janelia.13108343"
    )


def test_every_citation_names_the_canonical_address_not_the_request_host(client, settings) -> None:
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    dataset = factories.DatasetFactory(slug="jrc_hela-2")
    models.DatasetDOI.objects.create(
        dataset=dataset, doi=models.DOI.objects.create(value="10.25378/janelia.13114211"), group=DoiGroup.EM
    )
    expected = f"{CANONICAL}/datasets/jrc_hela-2/"
    host = {"HTTP_HOST": "127.0.0.1:8011"}
    for style in citations.STYLES:
        text = client.get(f"/api/datasets/jrc_hela-2/citation/?style={style}", **host).content.decode()
        assert expected in text, style
        assert "127.0.0.1" not in text, style
    assert client.get("/api/datasets/jrc_hela-2/datacite/", **host).json()["data"]["attributes"]["url"] == expected
    assert client.get("/api/datasets/jrc_hela-2/jsonld/", **host).json()["@id"] == expected
    page = client.get(reverse("catalog:dataset-detail", args=["jrc_hela-2"]), **host)
    citation = page.context["citation"]
    assert expected in citation["bibtex"]
    assert "127.0.0.1" not in citation["bibtex"] + citation["ris"]
    assert page.context["jsonld"]["url"] == expected
