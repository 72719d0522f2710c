"""Python adapters for MachineSoup's vec type and model store.

machinesoup.psycopg.register_vec    psycopg 3: text and binary, binary COPY
machinesoup.psycopg2.register_vec   psycopg2
machinesoup.sqlalchemy.Vec          SQLAlchemy column type with distance comparators
machinesoup.ms                      ingest_matrix / knn: numpy into ms.ingest, out of ms.knn

Importing the package needs numpy only; each submodule imports its driver.
"""

from ._catalog import VecTypeNotFound
from ._wire import MAX_DIM, Vec, from_binary, from_text, to_binary, to_text
from .ms import ingest_matrix, knn

__version__ = "0.1.0"

__all__ = ["Vec", "VecTypeNotFound", "MAX_DIM", "to_text", "to_binary", "from_text",
           "from_binary", "ingest_matrix", "knn"]
