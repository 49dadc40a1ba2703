"""Generate a deterministic, realistic Spanish catalogue as JSON Lines for benchmarks.

The same ``--size`` and ``--seed`` always give byte-identical output. Rows mix the four product
types (about 62% MEDICATION, 16% LAB, 10% IMAGING, 12% PROCEDURE), ~3% are INACTIVE, and names are
built from word lists of generic drugs (with accents: "Acetaminofén", "Losartán"), strengths,
pharmaceutical forms, lab tests, imaging studies and procedures. Codes are unique by construction
(``MED-0000001``, ``LAB-0000001``, ``IMG-...``, ``PRC-...``).

Usage::

    .venv/bin/python bench/gen_catalogue.py --size 25000 --out bench/data/catalogue-25000.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20261126

# One drug per line: "ingredient|ATC code|strength:form;strength:form;...". Indented lines continue
# the previous drug. Strengths and forms are paired so that names stay plausible.
_DRUG_SPEC = """\
Acetaminofén|N02BE01|500 mg:Tableta;650 mg:Tableta recubierta;1 g:Tableta;160 mg/5 mL:Jarabe;
    100 mg/mL:Gotas orales;300 mg:Supositorio
Paracetamol|N02BE01|500 mg:Tableta;1 g:Tableta efervescente;120 mg/5 mL:Solución oral;
    1 g/100 mL:Solución para infusión
Ibuprofeno|M01AE01|200 mg:Tableta;400 mg:Tableta recubierta;600 mg:Tableta;800 mg:Tableta;
    400 mg:Cápsula blanda;100 mg/5 mL:Suspensión oral
Naproxeno|M01AE02|250 mg:Tableta;500 mg:Tableta;550 mg:Tableta recubierta
Diclofenaco|M01AB05|50 mg:Tableta recubierta;100 mg:Tableta de liberación prolongada;
    75 mg/3 mL:Solución inyectable;1%:Gel tópico
Ketorolaco|M01AB15|10 mg:Tableta;30 mg/mL:Solución inyectable;60 mg/2 mL:Solución inyectable
Metamizol|N02BB02|500 mg:Tableta;1 g/2 mL:Solución inyectable;2.5 g/5 mL:Solución inyectable
Tramadol|N02AX02|50 mg:Cápsula;100 mg/2 mL:Solución inyectable;100 mg/mL:Gotas orales
Amoxicilina|J01CA04|500 mg:Cápsula;875 mg:Tableta;1 g:Tableta;250 mg/5 mL:Polvo para suspensión oral
Amoxicilina + Ácido clavulánico|J01CR02|500 mg/125 mg:Tableta recubierta;
    875 mg/125 mg:Tableta recubierta;400 mg/57 mg/5 mL:Polvo para suspensión oral
Azitromicina|J01FA10|500 mg:Tableta recubierta;200 mg/5 mL:Polvo para suspensión oral
Claritromicina|J01FA09|250 mg:Tableta recubierta;500 mg:Tableta recubierta;
    250 mg/5 mL:Suspensión oral
Ciprofloxacino|J01MA02|250 mg:Tableta;500 mg:Tableta recubierta;750 mg:Tableta;
    200 mg/100 mL:Solución para infusión;0.3%:Gotas oftálmicas
Levofloxacino|J01MA12|500 mg:Tableta recubierta;750 mg:Tableta recubierta;
    500 mg/100 mL:Solución para infusión
Cefalexina|J01DB01|500 mg:Cápsula;250 mg/5 mL:Polvo para suspensión oral
Ceftriaxona|J01DD04|500 mg:Polvo para solución inyectable;1 g:Polvo para solución inyectable;
    2 g:Polvo para solución inyectable
Trimetoprima + Sulfametoxazol|J01EE01|80 mg/400 mg:Tableta;160 mg/800 mg:Tableta;
    40 mg/200 mg/5 mL:Suspensión oral
Nitrofurantoína|J01XE01|100 mg:Cápsula;50 mg:Cápsula
Metronidazol|P01AB01|250 mg:Tableta;500 mg:Tableta;500 mg:Óvulo vaginal;
    500 mg/100 mL:Solución para infusión
Fluconazol|J02AC01|150 mg:Cápsula;50 mg:Cápsula;200 mg:Tableta
Aciclovir|J05AB01|200 mg:Tableta;400 mg:Tableta;800 mg:Tableta;5%:Crema tópica
Losartán|C09CA01|25 mg:Tableta;50 mg:Tableta recubierta;100 mg:Tableta recubierta
Losartán + Hidroclorotiazida|C09DA01|50 mg/12.5 mg:Tableta recubierta;
    100 mg/25 mg:Tableta recubierta
Enalapril|C09AA02|5 mg:Tableta;10 mg:Tableta;20 mg:Tableta
Captopril|C09AA01|25 mg:Tableta;50 mg:Tableta
Valsartán|C09CA03|80 mg:Tableta recubierta;160 mg:Tableta recubierta;320 mg:Tableta recubierta
Amlodipino|C08CA01|5 mg:Tableta;10 mg:Tableta
Nifedipino|C08CA05|10 mg:Cápsula blanda;30 mg:Tableta de liberación prolongada;
    60 mg:Tableta de liberación prolongada
Hidroclorotiazida|C03AA03|12.5 mg:Tableta;25 mg:Tableta;50 mg:Tableta
Furosemida|C03CA01|40 mg:Tableta;20 mg/2 mL:Solución inyectable
Espironolactona|C03DA01|25 mg:Tableta;100 mg:Tableta
Metoprolol|C07AB02|50 mg:Tableta;100 mg:Tableta de liberación prolongada
Carvedilol|C07AG02|6.25 mg:Tableta;12.5 mg:Tableta;25 mg:Tableta
Atenolol|C07AB03|50 mg:Tableta;100 mg:Tableta
Atorvastatina|C10AA05|10 mg:Tableta recubierta;20 mg:Tableta recubierta;40 mg:Tableta recubierta;
    80 mg:Tableta recubierta
Rosuvastatina|C10AA07|10 mg:Tableta recubierta;20 mg:Tableta recubierta
Simvastatina|C10AA01|20 mg:Tableta;40 mg:Tableta
Ácido acetilsalicílico|B01AC06|81 mg:Tableta masticable;100 mg:Tableta;500 mg:Tableta
Clopidogrel|B01AC04|75 mg:Tableta recubierta
Warfarina|B01AA03|1 mg:Tableta;5 mg:Tableta
Enoxaparina|B01AB05|20 mg/0.2 mL:Solución inyectable;40 mg/0.4 mL:Solución inyectable;
    60 mg/0.6 mL:Solución inyectable
Metformina|A10BA02|500 mg:Tableta;850 mg:Tableta;1000 mg:Tableta de liberación prolongada
Glibenclamida|A10BB01|5 mg:Tableta
Sitagliptina|A10BH01|50 mg:Tableta recubierta;100 mg:Tableta recubierta
Insulina glargina|A10AE04|100 UI/mL:Solución inyectable
Insulina humana NPH|A10AC01|100 UI/mL:Suspensión inyectable
Levotiroxina|H03AA01|25 mcg:Tableta;50 mcg:Tableta;75 mcg:Tableta;100 mcg:Tableta
Omeprazol|A02BC01|20 mg:Cápsula;40 mg:Cápsula;40 mg:Polvo para solución inyectable
Esomeprazol|A02BC05|20 mg:Tableta recubierta;40 mg:Tableta recubierta
Pantoprazol|A02BC02|20 mg:Tableta;40 mg:Tableta;40 mg:Polvo para solución inyectable
Ranitidina|A02BA02|150 mg:Tableta;300 mg:Tableta
Metoclopramida|A03FA01|10 mg:Tableta;10 mg/2 mL:Solución inyectable
Ondansetrón|A04AA01|4 mg:Tableta;8 mg:Tableta bucodispersable;8 mg/4 mL:Solución inyectable
Loperamida|A07DA03|2 mg:Tableta;2 mg:Cápsula
Butilhioscina|A03BB01|10 mg:Tableta recubierta;20 mg/mL:Solución inyectable
Loratadina|R06AX13|10 mg:Tableta;5 mg/5 mL:Jarabe
Cetirizina|R06AE07|10 mg:Tableta;5 mg/5 mL:Solución oral
Clorfenamina|R06AB04|4 mg:Tableta;2 mg/5 mL:Jarabe
Salbutamol|R03AC02|100 mcg/dosis:Inhalador;2 mg/5 mL:Jarabe;5 mg/mL:Solución para nebulización
Budesonida|R03BA02|200 mcg/dosis:Inhalador;0.5 mg/2 mL:Suspensión para nebulización
Montelukast|R03DC03|4 mg:Granulado;5 mg:Tableta masticable;10 mg:Tableta recubierta
Prednisona|H02AB07|5 mg:Tableta;20 mg:Tableta;50 mg:Tableta
Dexametasona|H02AB02|0.5 mg:Tableta;4 mg:Tableta;8 mg/2 mL:Solución inyectable
Hidrocortisona|H02AB09|100 mg:Polvo para solución inyectable;1%:Crema tópica
Betametasona|D07AC01|0.05%:Crema tópica;4 mg/mL:Suspensión inyectable
Sertralina|N06AB06|50 mg:Tableta recubierta;100 mg:Tableta recubierta
Fluoxetina|N06AB03|20 mg:Cápsula;20 mg:Tableta dispersable
Escitalopram|N06AB10|10 mg:Tableta recubierta;20 mg:Tableta recubierta
Clonazepam|N03AE01|0.5 mg:Tableta;2 mg:Tableta;2.5 mg/mL:Gotas orales
Alprazolam|N05BA12|0.25 mg:Tableta;0.5 mg:Tableta;1 mg:Tableta
Quetiapina|N05AH04|25 mg:Tableta recubierta;100 mg:Tableta recubierta;300 mg:Tableta recubierta
Levetiracetam|N03AX14|500 mg:Tableta recubierta;1000 mg:Tableta recubierta;100 mg/mL:Solución oral
Carbamazepina|N03AF01|200 mg:Tableta;400 mg:Tableta de liberación prolongada;
    100 mg/5 mL:Suspensión oral
Ácido valproico|N03AG01|250 mg:Cápsula blanda;500 mg:Tableta de liberación prolongada;
    250 mg/5 mL:Jarabe
Gabapentina|N03AX12|300 mg:Cápsula;400 mg:Cápsula
Pregabalina|N03AX16|75 mg:Cápsula;150 mg:Cápsula
Tamsulosina|G04CA02|0.4 mg:Cápsula de liberación prolongada
Sildenafilo|G04BE03|50 mg:Tableta recubierta;100 mg:Tableta recubierta
Alopurinol|M04AA01|100 mg:Tableta;300 mg:Tableta
Colchicina|M04AC01|0.5 mg:Tableta;1 mg:Tableta
Sulfato ferroso|B03AA07|300 mg:Tableta;125 mg/mL:Gotas orales
Ácido fólico|B03BB01|1 mg:Tableta;5 mg:Tableta
Vitamina D3 (Colecalciferol)|A11CC05|1000 UI:Cápsula blanda;50000 UI:Cápsula blanda;
    200 UI/gota:Gotas orales
Calcio + Vitamina D|A12AX|600 mg/400 UI:Tableta
Sales de rehidratación oral|A07CA|27.9 g:Polvo para solución oral
Cloruro de sodio|B05XA03|0.9%:Solución para infusión
Lactato de Ringer|B05BB01|500 mL:Solución para infusión;1000 mL:Solución para infusión
Dextrosa|B05BA03|5%:Solución para infusión;10%:Solución para infusión;50%:Solución inyectable
Lidocaína|N01BB02|1%:Solución inyectable;2%:Solución inyectable;2%:Gel tópico;10%:Spray
Clotrimazol|D01AC01|1%:Crema tópica;100 mg:Óvulo vaginal
Mupirocina|D06AX09|2%:Ungüento tópico
Tobramicina|S01AA12|0.3%:Gotas oftálmicas;0.3%:Ungüento oftálmico
Hipromelosa|S01XA20|0.5%:Gotas oftálmicas
Albendazol|P02CA03|200 mg:Tableta masticable;400 mg:Tableta masticable;400 mg/20 mL:Suspensión oral
Ivermectina|P02CF01|6 mg:Tableta;6 mg/mL:Gotas orales
Levonorgestrel + Etinilestradiol|G03AA07|0.15 mg/0.03 mg:Tableta recubierta
Medroxiprogesterona|G03DA02|150 mg/mL:Suspensión inyectable;10 mg:Tableta
"""


def _parse_drugs(spec: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Parse ``_DRUG_SPEC`` into ``(ingredient, atc, [(strength, form), ...])`` tuples."""
    joined: list[str] = []
    for line in spec.splitlines():
        if line.startswith(" ") and joined:
            joined[-1] += line.strip()
        elif line.strip():
            joined.append(line.strip())
    drugs = []
    for line in joined:
        ingredient, atc, pairs = line.split("|")
        variants = [(s.strip(), f.strip()) for s, f in (p.split(":") for p in pairs.split(";") if p)]
        drugs.append((ingredient, atc, variants))
    return drugs


DRUGS = _parse_drugs(_DRUG_SPEC)

PRESENTATIONS = {
    "Tableta": ["Caja x 10", "Caja x 20", "Caja x 30", "Caja x 100", "Blíster x 10"],
    "Cápsula": ["Caja x 10", "Caja x 14", "Caja x 28", "Frasco x 30"],
    "Jarabe": ["Frasco x 60 mL", "Frasco x 120 mL"],
    "Suspensión": ["Frasco x 60 mL", "Frasco x 100 mL", "Frasco x 120 mL"],
    "Solución inyectable": ["Ampolla x 1", "Caja x 5 ampollas", "Vial x 1", "Jeringa prellenada x 1"],
    "Solución para infusión": ["Bolsa x 100 mL", "Bolsa x 500 mL", "Bolsa x 1000 mL"],
    "Gotas": ["Frasco gotero x 15 mL", "Frasco gotero x 30 mL"],
    "Crema": ["Tubo x 15 g", "Tubo x 30 g"],
    "Inhalador": ["Inhalador x 200 dosis"],
    "Polvo para suspensión": ["Frasco x 60 mL", "Frasco x 100 mL"],
    "Polvo para solución inyectable": ["Vial x 1", "Caja x 10 viales"],
    "Óvulo": ["Caja x 6 óvulos", "Caja x 10 óvulos"],
}
DEFAULT_PRESENTATIONS = ["Caja x 1", "Frasco x 1", "Sobre x 1", "Caja x 10"]

LABORATORIES = [
    "Genfar",
    "MK",
    "La Santé",
    "Bayer",
    "Pfizer",
    "Sanofi",
    "Abbott",
    "Tecnoquímicas",
    "Procaps",
    "Laproff",
    "Bussié",
    "Ecar",
    "Novartis",
    "Roemmers",
    "Stein",
    "Medipharm",
    "Lafrancol",
    "Vitalis",
    "Farmasa",
    "Calox",
    "Gynopharm",
    "Menarini",
    "Chalver",
    "Siegfried",
    "Eurofarma",
    "Tecnofarma",
]

# (name, coding code, description)
LAB_TESTS: list[tuple[str, str, str]] = [
    ("Hemograma completo", "58410-2", "Recuento de células sanguíneas con fórmula leucocitaria"),
    ("Glucosa en ayunas", "1558-6", "Glucemia basal en suero o plasma"),
    ("Glucosa postprandial", "1521-4", "Glucemia dos horas después de la ingesta"),
    ("Hemoglobina glicosilada (HbA1c)", "4548-4", "Control glucémico de los últimos tres meses"),
    ("Perfil lipídico", "57698-3", "Colesterol total, HDL, LDL y triglicéridos"),
    ("Colesterol total", "2093-3", "Colesterol en suero"),
    ("Triglicéridos", "2571-8", "Triglicéridos en suero"),
    ("Creatinina sérica", "2160-0", "Función renal"),
    ("Nitrógeno ureico (BUN)", "3094-0", "Urea en sangre"),
    ("Ácido úrico", "3084-1", "Ácido úrico en suero"),
    ("Transaminasa glutámico oxalacética (TGO/AST)", "1920-8", "Función hepática"),
    ("Transaminasa glutámico pirúvica (TGP/ALT)", "1742-6", "Función hepática"),
    ("Bilirrubina total y directa", "1975-2", "Bilirrubinas en suero"),
    ("Fosfatasa alcalina", "6768-6", "Enzima hepática y ósea"),
    ("Electrolitos séricos (sodio, potasio, cloro)", "24326-1", "Ionograma"),
    ("Tiempo de protrombina (TP)", "5902-2", "Coagulación, vía extrínseca"),
    ("Tiempo de tromboplastina parcial (TTP)", "3173-2", "Coagulación, vía intrínseca"),
    ("Hormona estimulante de tiroides (TSH)", "3016-3", "Función tiroidea"),
    ("Tiroxina libre (T4 libre)", "3024-7", "Función tiroidea"),
    ("Uroanálisis (parcial de orina)", "24356-8", "Examen físico, químico y microscópico de orina"),
    ("Urocultivo con antibiograma", "630-4", "Cultivo de orina"),
    ("Coprológico", "10704-5", "Examen directo de materia fecal"),
    ("Sangre oculta en heces", "2335-8", "Tamizaje de sangrado digestivo"),
    ("Proteína C reactiva (PCR)", "1988-5", "Marcador de inflamación"),
    ("Velocidad de sedimentación globular (VSG)", "4537-7", "Marcador de inflamación"),
    ("Antígeno prostático específico (PSA)", "2857-1", "Tamizaje prostático"),
    ("Prueba de embarazo en sangre (Beta-hCG)", "21198-7", "Gonadotropina coriónica cuantitativa"),
    ("VIH 1 y 2 (prueba rápida)", "75622-1", "Anticuerpos contra VIH"),
    ("Serología para sífilis (VDRL)", "20507-0", "Prueba no treponémica"),
    ("Antígeno de superficie hepatitis B (HBsAg)", "5196-1", "Tamizaje de hepatitis B"),
    ("Anticuerpos hepatitis C", "16128-1", "Tamizaje de hepatitis C"),
    ("Ferritina", "2276-4", "Depósitos de hierro"),
    ("Vitamina B12", "2132-9", "Cianocobalamina en suero"),
    ("Vitamina D (25-hidroxi)", "1989-3", "Calcidiol en suero"),
    ("Hemocultivo", "600-7", "Cultivo de sangre para aerobios"),
    ("Gases arteriales", "24336-0", "pH, pCO2, pO2 y bicarbonato"),
    ("Troponina I", "10839-9", "Marcador de lesión miocárdica"),
    ("Dímero D", "48065-7", "Marcador de trombosis"),
    ("Prueba de antígeno SARS-CoV-2", "94558-4", "Detección de antígeno viral"),
    ("PCR SARS-CoV-2", "94500-6", "Detección de ARN viral"),
    ("Grupo sanguíneo y factor Rh", "882-1", "Tipificación ABO y Rh"),
    ("Citología cervicovaginal", "10524-7", "Tamizaje de cáncer de cuello uterino"),
]
LAB_VARIANTS = ["", " urgente", " (muestra domiciliaria)", " pediátrico", " control", " de seguimiento"]

IMAGING_MODALITIES: list[tuple[str, str]] = [
    ("Radiografía", "RX"),
    ("Ecografía", "US"),
    ("Tomografía computarizada", "TC"),
    ("Resonancia magnética", "RM"),
    ("Mamografía", "MG"),
    ("Densitometría ósea", "DO"),
    ("Ecografía Doppler", "DP"),
    ("Gammagrafía", "MN"),
]
IMAGING_REGIONS = [
    "de tórax",
    "abdominal total",
    "de abdomen superior",
    "pélvica",
    "transvaginal",
    "obstétrica",
    "de rodilla",
    "de hombro",
    "de columna lumbar",
    "de columna cervical",
    "de cráneo",
    "de senos paranasales",
    "de mano",
    "de tobillo",
    "de cadera",
    "renal y de vías urinarias",
    "de tiroides",
    "de mama",
    "de próstata",
    "de cuello",
    "cerebral",
    "de pie",
    "de codo",
    "de muñeca",
    "de miembros inferiores",
]
IMAGING_VARIANTS = ["", " con contraste", " sin contraste", " simple", " bilateral", " comparativa"]

PROCEDURES: list[tuple[str, str, str]] = [
    ("Consulta de medicina general", "890201", "Primera vez"),
    ("Consulta de medicina especializada", "890202", "Primera vez con especialista"),
    ("Consulta de control", "890301", "Consulta de seguimiento"),
    ("Electrocardiograma", "895100", "Registro de la actividad eléctrica del corazón"),
    ("Prueba de esfuerzo", "895001", "Electrocardiograma con ejercicio"),
    ("Holter de 24 horas", "895002", "Monitoreo electrocardiográfico ambulatorio"),
    ("Ecocardiograma transtorácico", "881234", "Ultrasonido cardíaco"),
    ("Endoscopia digestiva alta", "452301", "Esofagogastroduodenoscopia"),
    ("Colonoscopia total", "452302", "Exploración endoscópica del colon"),
    ("Espirometría", "893805", "Pruebas de función pulmonar"),
    ("Sutura de herida", "869501", "Cierre de herida en piel"),
    ("Curación de herida", "869502", "Limpieza y cubrimiento de herida"),
    ("Drenaje de absceso", "860301", "Incisión y drenaje"),
    ("Retiro de cuerpo extraño", "981101", "Extracción superficial"),
    ("Inyección intramuscular", "993501", "Aplicación de medicamento"),
    ("Nebulización", "939402", "Terapia respiratoria"),
    ("Terapia física", "931000", "Sesión de fisioterapia"),
    ("Terapia respiratoria", "939400", "Sesión de terapia respiratoria"),
    ("Terapia de lenguaje", "937000", "Sesión de fonoaudiología"),
    ("Vacunación", "993100", "Aplicación de biológico"),
    ("Inserción de dispositivo intrauterino", "697100", "Anticoncepción de larga duración"),
    ("Biopsia de piel", "862601", "Toma de muestra cutánea"),
    ("Extracción dental", "232101", "Exodoncia simple"),
    ("Profilaxis dental", "997002", "Limpieza odontológica"),
    ("Resina dental", "232201", "Obturación con resina"),
    ("Audiometría", "954101", "Evaluación de la audición"),
    ("Optometría", "950601", "Examen visual"),
    ("Electroencefalograma", "891401", "Registro de actividad cerebral"),
    ("Cesárea", "740001", "Parto por vía abdominal"),
    ("Parto vaginal", "735300", "Atención del parto"),
    ("Apendicectomía", "470100", "Resección del apéndice"),
    ("Colecistectomía laparoscópica", "512100", "Resección de la vesícula biliar"),
    ("Herniorrafia inguinal", "530100", "Corrección de hernia"),
    ("Artroscopia de rodilla", "806100", "Cirugía articular mínimamente invasiva"),
    ("Cirugía de catarata", "132100", "Facoemulsificación con lente intraocular"),
    ("Hemodiálisis", "399500", "Sesión de diálisis"),
]
PROCEDURE_VARIANTS = [
    "",
    " ambulatoria",
    " (primera vez)",
    " (control)",
    " domiciliaria",
    " por telemedicina",
]

TYPE_WEIGHTS = [("MEDICATION", 62), ("LAB", 16), ("IMAGING", 10), ("PROCEDURE", 12)]
PREFIX = {"MEDICATION": "MED", "LAB": "LAB", "IMAGING": "IMG", "PROCEDURE": "PRC"}
INACTIVE_SHARE = 0.03


def _presentation(rng: random.Random, form: str) -> str:
    for key, options in PRESENTATIONS.items():
        if form.startswith(key):
            return rng.choice(options)
    return rng.choice(DEFAULT_PRESENTATIONS)


def _medication(rng: random.Random) -> dict[str, Any]:
    ingredient, atc, variants = rng.choice(DRUGS)
    strength, form = rng.choice(variants)
    presentation = _presentation(rng, form)
    name = f"{ingredient} {strength} {form}"
    if rng.random() < 0.7:
        name += f" {rng.choice(LABORATORIES)}"
    return {
        "product_type": "MEDICATION",
        "name": name,
        "active_ingredient": ingredient,
        "concentration": strength,
        "pharmaceutical_form": form,
        "presentation": presentation,
        "atc_code": atc,
    }


def _lab(rng: random.Random) -> dict[str, Any]:
    name, loinc, description = rng.choice(LAB_TESTS)
    return {
        "product_type": "LAB",
        "name": name + rng.choice(LAB_VARIANTS),
        "description": description,
        "coding_system": "LOINC",
        "coding_code": loinc,
    }


def _imaging(rng: random.Random) -> dict[str, Any]:
    modality, short = rng.choice(IMAGING_MODALITIES)
    region = rng.choice(IMAGING_REGIONS)
    return {
        "product_type": "IMAGING",
        "name": f"{modality} {region}{rng.choice(IMAGING_VARIANTS)}",
        "description": f"Estudio de imagen diagnóstica ({short})",
        "coding_system": "CUPS",
        "coding_code": f"{short}{rng.randrange(10000, 99999)}",
    }


def _procedure(rng: random.Random) -> dict[str, Any]:
    name, cups, description = rng.choice(PROCEDURES)
    return {
        "product_type": "PROCEDURE",
        "name": name + rng.choice(PROCEDURE_VARIANTS),
        "description": description,
        "coding_system": "CUPS",
        "coding_code": cups,
    }


BUILDERS = {"MEDICATION": _medication, "LAB": _lab, "IMAGING": _imaging, "PROCEDURE": _procedure}

# Synonyms (opt-in, ``--synonyms``): invented brand names from syllables, regional names and
# abbreviations, drawn from a random generator of their own so the entries stay byte-identical.
_SYLLABLES = [
    "do",
    "lex",
    "ty",
    "le",
    "nol",
    "ad",
    "vil",
    "fe",
    "bri",
    "dal",
    "co",
    "ra",
    "mi",
    "xo",
    "pan",
    "zen",
    "tra",
    "ma",
    "go",
    "ter",
    "vi",
    "cal",
    "bu",
    "pro",
]
_SUFFIXES = ["", "", "", " Forte", " Plus", " Niños", " Duo", " Max", " 500", " Retard"]
_COUNTRIES = ["CO", "MX", "PE", "CL", "AR", "EC", "GT", "CR", "BO", "PA"]


def _synonym(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.75 or body["product_type"] == "MEDICATION":
        name = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        return {"name": name + rng.choice(_SUFFIXES), "kind": "brand", "countries": rng.sample(_COUNTRIES, 2)}
    if roll < 0.9:
        words = body["name"].split()
        return {
            "name": " ".join(words[: max(1, len(words) - 1)]) + " (regional)",
            "kind": "regional",
            "countries": [],
        }
    initials = "".join(w[0] for w in body["name"].split() if w[:1].isalpha()).upper()
    return {"name": initials or "X", "kind": "abbreviation", "countries": []}


def _synonyms(rng: random.Random, body: dict[str, Any], mean: float) -> list[dict[str, Any]]:
    count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
    found: dict[str, dict[str, Any]] = {}
    for _ in range(count):
        synonym = _synonym(rng, body)
        found.setdefault(synonym["name"].casefold(), synonym)
    return list(found.values())


def rows(size: int, seed: int = DEFAULT_SEED, synonyms: float = 0.0) -> Iterator[dict[str, Any]]:
    """Yield ``size`` catalogue rows, the same ones for the same ``size``, ``seed`` and ``synonyms``.

    ``synonyms`` is the mean number of synonyms per entry (0: none, the rows of earlier runs).
    """
    rng = random.Random(seed)
    synonym_rng = random.Random(seed + 1)
    types = [t for t, _ in TYPE_WEIGHTS]
    weights = [w for _, w in TYPE_WEIGHTS]
    counters = dict.fromkeys(types, 0)
    for _ in range(size):
        product_type = rng.choices(types, weights)[0]
        counters[product_type] += 1
        body = BUILDERS[product_type](rng)
        status = "INACTIVE" if rng.random() < INACTIVE_SHARE else "ACTIVE"
        code = f"{PREFIX[product_type]}-{counters[product_type]:07d}"
        if synonyms:
            body["synonyms"] = _synonyms(synonym_rng, body, synonyms)
        yield {"product_code": code, "status": status, **body}


def write(path: Path, size: int, seed: int = DEFAULT_SEED, synonyms: float = 0.0) -> str:
    """Write the catalogue to ``path`` (UTF-8 JSON Lines) and return its SHA-256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows(size, seed, synonyms):
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
            digest.update(line.encode("utf-8"))
            fh.write(line)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and write the catalogue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, required=True, help="number of entries, e.g. 1000, 25000, 120000")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument("--out", type=Path, required=True, help="output .jsonl file")
    parser.add_argument("--synonyms", type=float, default=0.0, help="mean synonyms per entry (default 0)")
    args = parser.parse_args(argv)
    if args.size < 1 or args.synonyms < 0:
        parser.error("--size must be positive and --synonyms not negative")
    sha = write(args.out, args.size, args.seed, args.synonyms)
    print(f"wrote {args.size} rows to {args.out} (sha256 {sha[:16]}...)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
