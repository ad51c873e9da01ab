"""Everything Neuroglancer, one module per job; data flows one way: catalog -> state -> viewer.

- ``recipe``: viewer states as pure functions (plain inputs in, JSON out; no database, no I/O).
- ``adapters``: catalog records -> the recipe's inputs, fetched in a fixed number of queries.
- ``links``: which viewer opens a state, and the state and viewer URLs of every record.
- ``endpoints``: the state documents over HTTP (``/api/states/...``) and the viewer page.
- ``saved_states``: short links to states edited in the viewer (the one write of the package).

The npm build of the Neuroglancer client itself lives in the top-level ``viewer/`` folder.
"""
