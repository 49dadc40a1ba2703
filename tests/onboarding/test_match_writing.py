"""How real inventories write names: formulary wording, strengths per volume, lists, qualifiers, views.

Each case is a kind of writing seen in public formularies and price lists, written here with other
products than the labelled evaluation set (bench/match_eval/), against a small catalogue built for
the case, so that a test says which rule decided it.
"""

from __future__ import annotations

from typing import Any

import pytest

from provider_products_client.onboarding.match import (
    CatalogueEntry,
    InventoryItem,
    Matcher,
    accepted,
    parse_name,
)
from provider_products_client.onboarding.match.names import view_count

_NUMBER = iter(range(1, 10_000))


def entry(name: str, product_type: str = "MEDICATION", **fields: Any) -> CatalogueEntry:
    return CatalogueEntry(f"T-{next(_NUMBER):04d}", product_type, name, **fields)


def fill(entries: list[CatalogueEntry], name: str) -> str | None:
    """The entry name a row is confidently given, or None."""
    found = Matcher(entries).candidates(InventoryItem(line=2, name=name), top=3)
    chosen = accepted(found)
    return chosen.name if chosen else None


def top(entries: list[CatalogueEntry], name: str) -> str:
    return Matcher(entries).candidates(InventoryItem(line=2, name=name), top=3)[0].name


def keys(text: str) -> set[tuple[str, float]]:
    return {q.key for q in parse_name(text).quantities}


# --- strengths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # formulary wording: the amounts after "cada N ml" / "cada N g" are per that much
        ("SUSPENSION CADA 5 ML CONTIENE: AMOXICILINA 250 MG", {("mass/ml", 50.0)}),
        ("CREMA CADA 100 G CONTIENE: HIDROCORTISONA 1 G. ENVASE CON 20 G", {("percent", 1.0)}),
        ("GEL CADA GRAMO CONTIENE: DICLOFENACO 10 MG", {("percent", 1.0)}),
        # "x 50 mg" is a strength; "x 30" and "caja x 30" are packs
        ("LOSARTAN X 50 MG X 30 TABLETAS", {("mass", 50.0)}),
        # a packaging word before a percentage does not swallow it; the tube's grams are not a strength
        ("CLOTRIMAZOL TU 1% CREMA 20 G", {("percent", 1.0)}),
    ],
)
def test_strengths_as_formularies_write_them(written: str, expected: set[tuple[str, float]]) -> None:
    assert keys(written) == expected


def test_an_amount_times_a_volume_is_a_concentration() -> None:
    (quantity,) = parse_name("DEXAMETASONA 8 MG X 2 ML AMPOLLA").quantities
    assert quantity.concentration == ("mass/ml", 4.0)


def test_the_volume_decides_between_two_concentrations_of_one_amount() -> None:
    catalogue = [entry("Dexametasona 8 mg/2 mL Solución inyectable")]
    assert fill(catalogue, "DEXAMETASONA 8 MG X 2 ML AMPOLLA") == catalogue[0].name
    assert fill(catalogue, "DEXAMETASONA 8 MG X 1 ML AMPOLLA") is None


def test_an_ampoule_amount_is_its_per_ml_strength_but_a_bare_amount_is_not() -> None:
    catalogue = [entry("Furosemida 10 mg/mL Solución inyectable")]
    assert fill(catalogue, "FUROSEMIDA 10 MG AMPOLLA") == catalogue[0].name
    # no form: "10 MG" is a tablet's amount, not the solution's concentration
    assert fill(catalogue, "FUROSEMIDA 10 MG") is None


def test_a_combination_may_be_written_as_its_total() -> None:
    catalogue = [entry("Ampicilina + Sulbactam 1 g/500 mg Polvo para solución inyectable")]
    assert fill(catalogue, "AMPICILINA/SULBACTAM FA 1,5 G") == catalogue[0].name


# --- forms and routes -------------------------------------------------------------------------------


def test_an_eye_ointment_is_not_the_eye_solution() -> None:
    catalogue = [entry("Tobramicina 0.3 % Solución oftálmica")]
    assert fill(catalogue, "TOBRAMICINA 0,3% UNG OFT") is None
    assert fill(catalogue, "TOBRAMICINA 0,3% GOTAS OFTALMICAS") == catalogue[0].name


def test_plain_drops_fit_eye_ear_and_nose_but_not_tablets() -> None:
    nasal = [entry("Oximetazolina 0.05 % Solución nasal")]
    assert fill(nasal, "OXIMETAZOLINA 0.05% GOTAS") == nasal[0].name
    tablet = [entry("Loratadina 10 mg Tableta")]
    assert fill(tablet, "LORATADINA 10 MG GOTAS") is None


def test_a_nasal_spray_is_not_an_inhaler() -> None:
    catalogue = [entry("Budesonida 64 mcg/dosis Aerosol nasal")]
    assert fill(catalogue, "BUDESONIDA 64 MCG INHALADOR") is None


def test_plural_form_words_are_read() -> None:
    catalogue = [entry("Montelukast 4 mg Tableta masticable"), entry("Montelukast 4 mg Tableta")]
    assert fill(catalogue, "MONTELUKAST 4 MG TABLETAS MASTICABLES") == "Montelukast 4 mg Tableta masticable"


def test_a_contradicting_form_ranks_below_a_strength_written_another_way() -> None:
    catalogue = [entry("Paracetamol 10 mg/mL Solución inyectable"), entry("Paracetamol 1 g Tableta")]
    assert top(catalogue, "PARACETAMOL FA 1000 MG") == "Paracetamol 10 mg/mL Solución inyectable"


# --- words that do not make another product ----------------------------------------------------------


def test_makers_and_pack_words_never_block_a_fill() -> None:
    catalogue = [entry("Losartán 50 mg Tableta"), entry("Ácido acetilsalicílico 100 mg Tableta")]
    assert fill(catalogue, "LOSARTAN 50MG TABLETA CAJA X 30 LABORATORIOS GENFAR S.A.") == catalogue[0].name
    assert (
        fill(catalogue, "TABLETA CADA TABLETA CONTIENE: LOSARTAN 50 MG. ENVASE CON 30") == catalogue[0].name
    )


def test_another_product_named_in_the_row_still_blocks() -> None:
    # a word is telling when few of a catalogue's entries have it: give the catalogue some size
    others = [entry(f"Producto{n} 10 mg Tableta") for n in range(60)]
    catalogue = [entry("Losartán 50 mg Tableta"), entry("Hidroclorotiazida 12.5 mg Tableta"), *others]
    assert fill(catalogue, "LOSARTAN HIDROCLOROTIAZIDA 50 MG TABLETA") is None


def test_ac_is_an_acid_or_an_antibody() -> None:
    catalogue = [entry("Anticuerpos antinucleares", "LAB"), entry("Ácido úrico", "LAB")]
    assert top(catalogue, "AC ANTINUCLEARES") == "Anticuerpos antinucleares"
    assert top(catalogue, "AC URICO") == "Ácido úrico"


# --- studies ------------------------------------------------------------------------------------------


def test_a_panel_may_list_what_it_holds_in_brackets() -> None:
    catalogue = [entry("Perfil lipídico", "LAB"), entry("Colesterol total", "LAB")]
    row = "PERFIL LIPIDICO [COLESTEROL TOTAL, HDL, LDL Y TRIGLICERIDOS]"
    assert fill(catalogue, row) == "Perfil lipídico"


def test_an_entry_named_only_in_the_brackets_is_not_filled() -> None:
    catalogue = [entry("Colesterol total", "LAB")]
    assert fill(catalogue, "PANEL CARDIOVASCULAR [COLESTEROL TOTAL, HDL, LDL Y TRIGLICERIDOS]") is None


def test_a_qualifier_the_entry_does_not_state_takes_its_default() -> None:
    catalogue = [entry("Troponina I", "LAB"), entry("Procalcitonina", "LAB")]
    assert fill(catalogue, "TROPONINA I CUALITATIVA") is None
    assert fill(catalogue, "PROCALCITONINA CUANTITATIVA POR QUIMIOLUMINISCENCIA") == "Procalcitonina"


def test_an_unstated_approach_is_the_open_one() -> None:
    catalogue = [
        entry("Colecistectomía laparoscópica", "PROCEDURE"),
        entry("Colecistectomía abierta", "PROCEDURE"),
    ]
    assert top(catalogue, "COLECISTECTOMIA") == "Colecistectomía abierta"
    assert fill(catalogue, "COLECISTECTOMIA LAPAROSCOPICA") == "Colecistectomía laparoscópica"


@pytest.mark.parametrize(
    ("row", "expected"), [("CALCEMIA", "Calcio sérico"), ("CALCIURIA", "Calcio en orina")]
)
def test_emia_is_blood_and_uria_is_urine(row: str, expected: str) -> None:
    catalogue = [entry("Calcio sérico", "LAB"), entry("Calcio en orina", "LAB")]
    assert fill(catalogue, row) == expected


def test_words_the_catalogue_joins_are_joined() -> None:
    catalogue = [entry("Aspartato aminotransferasa (AST)", "LAB")]
    assert fill(catalogue, "ASPARTATO AMINO TRANSFERASA") == catalogue[0].name


def test_a_drug_name_alone_is_its_level_test_before_the_medicine() -> None:
    catalogue = [entry("Digoxina 0.25 mg Tableta"), entry("Niveles de digoxina", "LAB")]
    assert top(catalogue, "DIGOXINA") == "Niveles de digoxina"
    assert top(catalogue, "DIGOXINA 0,25 MG") == "Digoxina 0.25 mg Tableta"


@pytest.mark.parametrize(
    ("row", "views"),
    [("RX TORAX PA Y LATERAL", 2), ("RX TORAX AP O LATERAL", 1), ("RX COLUMNA AP, LATERAL Y OBLICUAS", 4)],
)
def test_x_ray_views_are_counted(row: str, views: int) -> None:
    assert view_count(row) == views


def test_x_ray_views_pick_the_number_of_projections() -> None:
    catalogue = [
        entry("Radiografía de tórax (1 proyección)", "IMAGING"),
        entry("Radiografía de tórax (2 proyecciones)", "IMAGING"),
    ]
    assert fill(catalogue, "RX TORAX PA Y LATERAL") == "Radiografía de tórax (2 proyecciones)"
    assert fill(catalogue, "RX TORAX PA") == "Radiografía de tórax (1 proyección)"


def test_ordinals_are_not_numbers() -> None:
    assert parse_name("COLUMNA LUMBAR FOCALIZADA EN EL 5° ESPACIO").numbers == ()


def test_equivalent_strengths_are_one_strength() -> None:
    (quantity,) = parse_name(
        "CADA TABLETA CONTIENE: CARBONATO DE CALCIO 1250 MG EQUIVALENTE A 500 MG DE CALCIO"
    ).quantities
    assert ("mass", 500.0) in quantity.keys
    assert ("mass", 1250.0) in quantity.keys


def test_a_brand_and_form_without_strength_fill_the_only_strength_there_is() -> None:
    catalogue = [
        entry("Furosemida 20 mg/2 mL Solución inyectable", synonyms=("Lasix",)),
        entry("Furosemida 40 mg Tableta", synonyms=("Lasix",)),
        entry("Furosemida 80 mg Tableta", synonyms=("Lasix",)),
    ]
    assert fill(catalogue, "LASIX AMPOLLAS") == "Furosemida 20 mg/2 mL Solución inyectable"
    # two tablet strengths: the row does not say which
    assert fill(catalogue, "LASIX TABLETAS") is None
    # a strength written without units that is not the entry's is not "no strength"
    assert fill(catalogue, "LASIX AMPOLLAS 10/1") is None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("VALPROATO DE SODIO 250 MG/5 ML JARABE", "Ácido valproico 250 mg/5 mL Jarabe"),
        ("L-TIROXINA CM 100 MCG", "Levotiroxina sódica 100 mcg Tableta"),
        ("IPRATROPIO BR 20 MCG INHALADOR", "Bromuro de ipratropio 20 mcg/dosis Aerosol para inhalación"),
        ("CEFUROXIMA 500MG TABLETA CAJA X 10 AC FARMA S.A.C", "Cefuroxima 500 mg Tableta"),
    ],
)
def test_salts_prefixes_and_makers_initials(row: str, expected: str) -> None:
    catalogue = [
        entry("Ácido valproico 250 mg/5 mL Jarabe"),
        entry("Levotiroxina sódica 100 mcg Tableta"),
        entry("Bromuro de ipratropio 20 mcg/dosis Aerosol para inhalación"),
        entry("Cefuroxima 500 mg Tableta"),
        entry("Ácido ascórbico 500 mg Tableta"),
    ]
    assert fill(catalogue, row) == expected


def test_a_part_named_in_the_brackets_does_not_outrank_the_whole() -> None:
    catalogue = [entry("Perfil hepático", "LAB"), entry("Bilirrubina total", "LAB")]
    row = "PERFIL HEPATICO [BILIRRUBINA TOTAL, TRANSAMINASAS Y FOSFATASA ALCALINA]"
    assert top(catalogue, row) == "Perfil hepático"


def test_an_unstated_side_is_neither_side() -> None:
    catalogue = [entry("Doppler arterial de miembros bilateral", "IMAGING")]
    assert top(catalogue, "DOPPLER ARTERIAL DE MIEMBROS INFERIORES") == catalogue[0].name
    assert fill(catalogue, "DOPPLER ARTERIAL DE MIEMBRO INFERIOR UNILATERAL") is None


def test_a_qualifier_written_another_way_names_the_entry_word() -> None:
    catalogue = [entry("Radiografía de ambos pies", "IMAGING"), entry("Radiografía de pie", "IMAGING")]
    assert fill(catalogue, "RADIOGRAFIA DE PIES COMPARATIVA") == "Radiografía de ambos pies"


def test_concentrations_equal_but_for_rounding_are_the_same() -> None:
    catalogue = [entry("Lactulosa 3.3 g/5 mL Solución oral")]
    assert fill(catalogue, "SOLUCION ORAL CADA 100 ML CONTIENEN: LACTULOSA 66.7 G") == catalogue[0].name


def test_delayed_release_is_not_extended_release() -> None:
    catalogue = [entry("Omeprazol 20 mg Cápsula"), entry("Nifedipino 30 mg Tableta de liberación prolongada")]
    assert fill(catalogue, "OMEPRAZOL 20 MG CAP. LIB. RETARDADA") == "Omeprazol 20 mg Cápsula"
    assert fill(catalogue, "NIFEDIPINO 30 MG TAB") is None


def test_a_tariffs_list_of_alternative_views_says_no_number() -> None:
    assert (
        view_count("RADIOGRAFIA DE TORAX (P.A. O A.P. Y LATERAL, DECUBITO LATERAL, OBLICUAS O LATERAL)")
        is None
    )
    assert view_count("RX TORAX P.A. Y LATERAL") == 2


def test_a_body_part_names_its_adjective() -> None:
    catalogue = [entry("Ecografía renal", "IMAGING"), entry("Radiografía de abdomen", "IMAGING")]
    assert fill(catalogue, "ECOGRAFIA DE RIÑONES") == "Ecografía renal"


def test_a_vials_total_is_read_against_the_catalogues_concentration_and_pack() -> None:
    catalogue = [
        entry("Paracetamol 10 mg/mL Solución inyectable", presentation="Frasco x 100 mL"),
        entry("Paracetamol 1 g Tableta", presentation="Caja x 10"),
        entry("Amoxicilina 250 mg/5 mL Suspensión oral", presentation="Frasco x 100 mL"),
    ]
    assert fill(catalogue, "PARACETAMOL FA 1000 MG") == "Paracetamol 10 mg/mL Solución inyectable"
    assert fill(catalogue, "PARACETAMOL FA 500 MG") is None
    # an oral liquid is written by its concentration, never by the bottle's total
    assert fill(catalogue, "AMOXICILINA 5 G SUSPENSION") is None


def test_the_pack_after_envase_does_not_state_the_products_form() -> None:
    catalogue = [entry("Salbutamol 5 mg/mL Solución para nebulización")]
    row = "SOLUCION PARA NEBULIZADOR CADA ML CONTIENE: SALBUTAMOL 5 MG. ENVASE CON FRASCO AMPULA CON 10 ML."
    assert fill(catalogue, row) == catalogue[0].name
    # without a form in the name, the pack's words are all there is
    tablet = [entry("Salbutamol 4 mg Tableta")]
    assert fill(tablet, "SALBUTAMOL 4 MG ENVASE CON 30 TABLETAS") == tablet[0].name


def test_an_acronym_synonym_is_not_read_as_a_form_abbreviation() -> None:
    catalogue = [
        entry("Aspartato aminotransferasa (AST)", "LAB", synonyms=("GOT", "TGO")),
        entry("Paracetamol 100 mg/mL Gotas orales"),
    ]
    assert top(catalogue, "PARACETAMOL GOTAS") == "Paracetamol 100 mg/mL Gotas orales"
    assert fill(catalogue, "TGO") == "Aspartato aminotransferasa (AST)"


def test_a_medicines_row_is_never_given_a_lab_test() -> None:
    catalogue = [entry("Vitamina B12", "LAB"), entry("Cianocobalamina 1 mg/mL Solución inyectable")]
    assert fill(catalogue, "VITAMINA B12 1MG/ML CAJA X 25 AMPOLLAS") != "Vitamina B12"


def test_a_word_nobody_knows_may_make_a_generic_study_another_one() -> None:
    others = [entry(f"Estudio{n}", "LAB") for n in range(30)]
    catalogue = [entry("Glucosa sérica", "LAB"), *others]
    assert fill(catalogue, "GLUCOSA SERICA") == "Glucosa sérica"
    assert fill(catalogue, "GLUCOSA SERICA, PRUEBA DE SOBRECARGA") is None


def test_a_row_naming_both_kinds_is_a_panel() -> None:
    catalogue = [entry("Bilirrubina directa", "LAB"), entry("Bilirrubina total", "LAB")]
    assert fill(catalogue, "BILIRRUBINA TOTAL, DIRECTA E INDIRECTA") is None
    assert fill(catalogue, "BILIRRUBINA DIRECTA") == "Bilirrubina directa"


def test_a_special_tablet_is_not_assumed_for_a_row_without_a_form() -> None:
    catalogue = [entry("Acetilcisteína 600 mg Tableta efervescente")]
    assert fill(catalogue, "ACETILCISTEINA 600 MG") is None
    assert fill(catalogue, "ACETILCISTEINA 600 MG TAB EFERVESCENTE") == catalogue[0].name


def test_what_a_procedure_does_without_is_not_another_product() -> None:
    others = [entry(f"Procedimiento{n}", "PROCEDURE") for n in range(30)]
    catalogue = [
        entry("Extracción de cuerpo extraño de oído", "PROCEDURE"),
        entry("Incisión y drenaje", "PROCEDURE"),
        *others,
    ]
    assert fill(catalogue, "EXTRACCION SIN INCISION DE CUERPO EXTRAÑO DE OIDO") == catalogue[0].name


def test_laparoscopy_is_written_many_ways() -> None:
    catalogue = [
        entry("Apendicectomía abierta", "PROCEDURE"),
        entry("Apendicectomía laparoscópica", "PROCEDURE"),
    ]
    assert top(catalogue, "APENDICECTOMIA POR VIDEOLAPAROSCOPIA") == "Apendicectomía laparoscópica"


def test_the_method_of_a_test_is_a_qualifier() -> None:
    catalogue = [entry("CK-MB masa", "LAB", synonyms=("Creatina quinasa MB",))]
    assert fill(catalogue, "CREATINA QUINASA MB POR QUIMIOLUMINISCENCIA") == "CK-MB masa"
    assert fill(catalogue, "CREATINA QUINASA MB POR ESPECTROFOTOMETRIA") is None


def test_materia_fecal_is_heces() -> None:
    catalogue = [entry("Sangre oculta en heces", "LAB")]
    assert fill(catalogue, "SANGRE OCULTA EN MATERIA FECAL") == catalogue[0].name


def test_a_close_candidate_that_explains_the_whole_row_comes_first() -> None:
    others = [entry(f"Estudio{n}", "LAB") for n in range(60)]
    catalogue = [
        entry("Antígeno prostático específico total", "LAB", synonyms=("Antígeno prostático",)),
        entry("Antígeno prostático específico libre", "LAB"),
        *others,
    ]
    assert top(catalogue, "ANTIGENO PROSTATICO LIBRE") == "Antígeno prostático específico libre"


def test_video_endoscopies_and_trans_routes_are_the_studies() -> None:
    catalogue = [
        entry("Colonoscopia diagnóstica", "PROCEDURE"),
        entry("Electroencefalograma", "PROCEDURE"),
        entry("Ecografía transvaginal", "IMAGING"),
        *(entry(f"Estudio{n}", "IMAGING") for n in range(30)),
    ]
    assert top(catalogue, "VIDEOCOLONOFIBROSCOPIA DIAGNOSTICA") == "Colonoscopia diagnóstica"
    assert top(catalogue, "ECOGRAFIA VAGINAL") == "Ecografía transvaginal"
    # a video-EEG is not the EEG
    assert fill(catalogue, "VIDEOELECTROENCEFALOGRAMA") is None
