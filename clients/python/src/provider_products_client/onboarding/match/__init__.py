"""Propose catalogue codes for inventory rows that only have product names.

Pharmacy and clinic inventories name products their own way: "ACETAMINOFEN 500MG TAB X 100 GENFAR"
for the catalogue's "Acetaminofén 500 mg Tableta". Both sides go through the same normalisation
(accent and case folding, abbreviation expansion, unit and decimal normalisation), which splits a
name into words, strengths (quantities with units) and pharmaceutical-form words. A candidate's
score (0 to 100) combines

* word agreement: IDF-weighted coverage of the catalogue name by the inventory words and of the
  inventory words by the catalogue name, where a word also matches its 1-2 edit typos (optimal
  string alignment) and an abbreviation matches the words it is a prefix of;
* strength agreement: "500mg", "0,5 g" and "500 mg" are the same strength; a different strength
  loses to the right one;
* form agreement: "tab" prefers "Tableta" to "Tableta recubierta" and to "Cápsula".

A word index narrows the catalogue to the entries sharing a (fuzzy) word with the row before any
scoring, so the cost per row grows with the number of similar entries, not the catalogue size.

The parts: ``vocabulary`` (the words), ``names`` (parsing a name), ``facets`` (form, route, release
and study qualifiers, and their contradictions), ``scoring`` (one entry against one row),
``evidence`` (what a confident fill needs), ``matcher`` (the index and the candidates), ``ranking``
(close better fits first, ties), ``catalogue`` and ``inventory`` (the two sides'
records and files) and ``proposals`` (the file a person reviews).
"""

from __future__ import annotations

from provider_products_client.onboarding.match.catalogue import (
    PRODUCT_TYPES,
    CatalogueEntry,
    catalogue_entries,
    fetch_catalogue,
    read_catalogue,
)
from provider_products_client.onboarding.match.inventory import KNOWN_COLUMNS, InventoryItem, read_inventory
from provider_products_client.onboarding.match.matcher import MIN_CANDIDATE_SCORE, Matcher
from provider_products_client.onboarding.match.names import ParsedName, Quantity, parse_name
from provider_products_client.onboarding.match.proposals import (
    ACCEPT_SCORE,
    AMBIGUOUS_MARGIN,
    OUTPUT_COLUMNS,
    accepted,
    proposal_columns,
    write_proposals,
)
from provider_products_client.onboarding.match.ranking import Candidate
from provider_products_client.onboarding.match.vocabulary import (
    ABBREVIATIONS,
    PHRASE_SYNONYMS,
    STOP_WORDS,
    WORD_SYNONYMS,
)

__all__ = [
    "ABBREVIATIONS",
    "ACCEPT_SCORE",
    "AMBIGUOUS_MARGIN",
    "KNOWN_COLUMNS",
    "MIN_CANDIDATE_SCORE",
    "OUTPUT_COLUMNS",
    "PHRASE_SYNONYMS",
    "PRODUCT_TYPES",
    "STOP_WORDS",
    "WORD_SYNONYMS",
    "Candidate",
    "CatalogueEntry",
    "InventoryItem",
    "Matcher",
    "ParsedName",
    "Quantity",
    "accepted",
    "catalogue_entries",
    "fetch_catalogue",
    "parse_name",
    "proposal_columns",
    "read_catalogue",
    "read_inventory",
    "write_proposals",
]
