"""The search index moves out of the dataset rows into its own narrow table, and spelling
correction gets a word table.

PostgreSQL: ``catalog_datasetsearch(dataset_id, vector tsvector)`` with a GIN index, so that
counting and ranking the matches reads neither the wide dataset rows nor every vector; the
words get a trigram GIN index (pg_trgm, added by 0002). SQLite: an FTS5 table (porter stemming,
bm25 ranking) with the dataset's id as rowid. ``catalog.indexing`` fills both: the new derived
revision rebuilds them after ``migrate``.
"""

import django.contrib.postgres.search
from django.db import migrations, models

POSTGRESQL = [
    # Vectors stay uncompressed in the row up to a page: matching and ranking never decompress.
    "CREATE TABLE catalog_datasetsearch (dataset_id bigint PRIMARY KEY, vector tsvector NOT NULL)"
    " WITH (toast_tuple_target = 8160)",
    "CREATE INDEX catalog_datasetsearch_vector ON catalog_datasetsearch USING gin (vector)",
    "CREATE INDEX catalog_searchword_trigram ON catalog_searchword USING gin (word gin_trgm_ops)",
]
SQLITE = [
    "CREATE VIRTUAL TABLE catalog_datasetsearch USING fts5("
    "dataset_id UNINDEXED, primary_text, description, names, tokenize = 'porter unicode61 remove_diacritics 2')",
]


def create_search_tables(apps, schema_editor):
    statements = POSTGRESQL if schema_editor.connection.vendor == "postgresql" else SQLITE
    for statement in statements:
        schema_editor.execute(statement)


def drop_search_tables(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS catalog_searchword_trigram")
    schema_editor.execute("DROP TABLE IF EXISTS catalog_datasetsearch")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0013_conversion_jobs"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[("word", models.CharField(max_length=100, primary_key=True, serialize=False))],
        ),
        migrations.CreateModel(
            name="DatasetSearch",
            fields=[
                (
                    "dataset",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="search_index",
                        serialize=False,
                        to="catalog.dataset",
                    ),
                ),
                ("vector", django.contrib.postgres.search.SearchVectorField(null=True)),
            ],
            options={"db_table": "catalog_datasetsearch", "managed": False},
        ),
        migrations.RemoveField(model_name="dataset", name="search_vector"),
        migrations.RemoveField(model_name="dataset", name="search_text"),
        migrations.RunPython(create_search_tables, drop_search_tables),
    ]
