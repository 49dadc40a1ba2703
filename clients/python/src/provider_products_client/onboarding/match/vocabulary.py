"""The words of inventories and catalogues: abbreviations, synonyms, units, form words and salts."""

from __future__ import annotations

STOP_WORDS = frozenset({"de", "del", "la", "las", "el", "los", "en", "para", "por", "y", "e", "o", "a", "al"})

# Folded inventory spellings -> catalogue words. Values with spaces expand to several words.
ABBREVIATIONS: dict[str, str] = {
    # pharmaceutical forms
    "tab": "tableta",
    "tabs": "tableta",
    "tb": "tableta",
    "tbs": "tableta",
    "tabl": "tableta",
    "tableta": "tableta",
    "tabletas": "tableta",
    "comp": "tableta",
    "comps": "tableta",
    "compr": "tableta",
    "comprimido": "tableta",
    "comprimidos": "tableta",
    "grag": "tableta",
    "gragea": "tableta",
    "grageas": "tableta",
    "cap": "capsula",
    "caps": "capsula",
    "cps": "capsula",
    "capsulas": "capsula",
    "susp": "suspension",
    "sus": "suspension",
    "sol": "solucion",
    "soln": "solucion",
    "sln": "solucion",
    "iny": "inyectable",
    "inj": "inyectable",
    "inyec": "inyectable",
    "inyect": "inyectable",
    # an ampoule or vial in an inventory is what the catalogue calls an injectable
    "amp": "inyectable",
    "amps": "inyectable",
    "ampolla": "inyectable",
    "ampollas": "inyectable",
    "ampolleta": "inyectable",
    "ampolletas": "inyectable",
    "vial": "inyectable",
    "viales": "inyectable",
    "jbe": "jarabe",
    "jb": "jarabe",
    "jar": "jarabe",
    "crem": "crema",
    "cr": "crema",
    "cremas": "crema",
    "ung": "unguento",
    "ungto": "unguento",
    "pomada": "unguento",
    "gts": "gotas",
    "gt": "gotas",
    "got": "gotas",
    "oft": "oftalmica",
    "oftal": "oftalmica",
    "oftalm": "oftalmica",
    "oftalmico": "oftalmica",
    "oftalmicas": "oftalmica",
    "ot": "otica",
    "otico": "otica",
    "lib": "liberacion",
    "prol": "prolongada",
    "lp": "liberacion prolongada",
    "xr": "liberacion prolongada",
    "sr": "liberacion prolongada",
    "rec": "recubierta",
    "recub": "recubierta",
    "mast": "masticable",
    "eferv": "efervescente",
    "efv": "efervescente",
    "sup": "supositorio",
    "supos": "supositorio",
    "supositorios": "supositorio",
    "ovulos": "ovulo",
    "aer": "aerosol",
    "spray": "aerosol",
    "inh": "inhalacion",
    "inhal": "inhalacion",
    "neb": "nebulizacion",
    "nebul": "nebulizacion",
    "vag": "vaginal",
    "top": "topica",
    "topico": "topica",
    "pvo": "polvo",
    "polv": "polvo",
    "sublin": "sublingual",
    "gran": "granulado",
    "emul": "emulsion",
    "vo": "oral",
    "inhalador": "aerosol inhalacion",
    "jeringa": "inyectable",
    "jeringas": "inyectable",
    "prellenada": "inyectable",
    # hospital and pharmacy abbreviations of forms and routes (Chile, Mexico, Peru, Cuba, Colombia)
    "cm": "tableta",
    "cms": "tableta",
    "cp": "capsula",
    "gg": "tableta",
    "fa": "inyectable",
    "am": "inyectable",
    "ampula": "inyectable",
    "ampulas": "inyectable",
    "bulbo": "inyectable",
    "bulbos": "inyectable",
    "jer": "inyectable",
    "inyeccion": "inyectable",
    "inyectables": "inyectable",
    "parenterico": "inyectable",
    "parenteral": "inyectable",
    "iv": "inyectable",
    "ev": "inyectable",
    "im": "inyectable",
    "sc": "inyectable",
    "colirio": "solucion oftalmica",
    "sl": "sublingual",
    "disp": "dispersable",
    "dispersables": "dispersable",
    "xl": "liberacion prolongada",
    "er": "liberacion prolongada",
    "liber": "liberacion",
    "sos": "sostenida",
    "retard": "liberacion prolongada",
    "acc": "accion",
    "prolong": "prolongada",
    "comprimi": "tableta",
    "cubierta": "recubierta",
    "cubiertas": "recubierta",
    "recubiertas": "recubierta",
    "capsula": "capsula",
    "gotero": "gotas",
    # salts
    "clorh": "clorhidrato",
    "hcl": "clorhidrato",
    "br": "bromuro",
    "vit": "vitamina",
    # imaging, labs and procedures
    "rx": "radiografia",
    "eco": "ecografia",
    "ecog": "ecografia",
    "usg": "ecografia",
    "tac": "tomografia computarizada",
    "tc": "tomografia computarizada",
    "rm": "resonancia magnetica",
    "rmn": "resonancia magnetica",
    "ekg": "electrocardiograma",
    "ecg": "electrocardiograma",
    "bilat": "bilateral",
    "unilat": "unilateral",
    "cte": "contraste",
    "contr": "contraste",
    "vac": "vacuna",
    "cons": "consulta",
    "hs": "horas",
    "hrs": "horas",
}

# Other names inventories use for a catalogue word: each is tried as well, slightly below an exact match,
# because the catalogue may hold both ("Paracetamol 750 mg" and "Acetaminofén 500 mg").
WORD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "paracetamol": ("acetaminofen",),
    "acetaminofen": ("paracetamol",),
    "dipirona": ("metamizol",),
    "albuterol": ("salbutamol",),
    "glicemia": ("glucosa",),
    "glucemia": ("glucosa",),
    "dextrosa": ("glucosa",),
    "aspirina": ("acido", "acetilsalicilico"),
    "asa": ("acido", "acetilsalicilico"),
    "ssn": ("cloruro", "sodio"),
    # "AC" is an acid in a pharmacy and an antibody in a lab ("AC ANTI Ag c DE HEPATITIS B")
    "ac": ("acido", "anticuerpos", "anticuerpo"),
    "ag": ("antigeno",),
    "anti": ("contra", "anticuerpos"),
    "computada": ("computarizada",),
    "computadorizada": ("computarizada",),
    "nariz": ("nasal",),
    "rin": ("inr",),  # razón internacional normalizada
    "oido": ("otica",),
}
# Body parts and their adjectives: "ecografía de abdomen" is the "ecografía abdominal".
_ANATOMY = (
    ("abdomen", "abdominal"),
    ("torax", "toracico", "toracica"),
    # a "TAC cerebral" is the CT of the head
    ("craneo", "craneal", "cerebro", "cerebral", "encefalo"),
    ("pelvis", "pelvico", "pelvica"),
    ("mama", "mamaria", "mamas"),
    ("tiroides", "tiroidea", "tiroideo"),
    ("rinon", "rinones", "renal", "renales"),
    ("higado", "hepatico", "hepatica"),
    ("corazon", "cardiaco", "cardiaca"),
    ("prostata", "prostatico", "prostatica"),
    ("testiculo", "testicular", "testiculos"),
    ("cuello", "cervical"),
    ("utero", "uterino", "uterina"),
    ("vejiga", "vesical"),
)
for _words in _ANATOMY:
    for _word in _words:
        WORD_SYNONYMS[_word] = (*WORD_SYNONYMS.get(_word, ()), *(w for w in _words if w != _word))
# Several-word names (after stop words are dropped) rewritten in inventory rows only.
PHRASE_SYNONYMS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("solucion", "salina"): ("cloruro", "sodio", "solucion"),
    ("suero", "fisiologico"): ("cloruro", "sodio", "solucion"),
    ("vitamina", "c"): ("acido", "ascorbico"),
    ("vitamina", "k"): ("fitomenadiona",),
    ("cuadro", "hematico"): ("hemograma",),
    ("biometria", "hematica"): ("hemograma",),
    ("parcial", "orina"): ("examen", "general", "orina"),
    ("posicion", "vertical"): ("pie",),
    ("materia", "fecal"): ("heces",),
    ("materia", "fecales"): ("heces",),
    ("bipedestacion",): ("pie",),
}

# Units -> (dimension, factor to the dimension's base unit).
UNITS: dict[str, tuple[str, float]] = {
    "mg": ("mass", 1.0),
    "g": ("mass", 1000.0),
    "gr": ("mass", 1000.0),
    "grs": ("mass", 1000.0),
    "gramo": ("mass", 1000.0),
    "gramos": ("mass", 1000.0),
    "mcg": ("mass", 0.001),
    "ug": ("mass", 0.001),
    "μg": ("mass", 0.001),
    "microgramos": ("mass", 0.001),
    "ml": ("volume", 1.0),
    "cc": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "lt": ("volume", 1000.0),
    "mgs": ("mass", 1.0),
    "mui": ("ui", 1000000.0),
    "ui": ("ui", 1.0),
    "iu": ("ui", 1.0),
    "u": ("ui", 1.0),
    "%": ("percent", 1.0),
    "cm": ("length", 1.0),
    "meq": ("meq", 1.0),
    "mosm": ("mosm", 1.0),
}
# Packaging words: a quantity right after one ("caja x 100", "envase con 20 tabletas") or right
# before one after "/" ("15 g/tubo") is a pack size, never a strength.
PACK_WORDS = frozenset(
    {
        "caja",
        "cja",
        "cj",
        "envase",
        "estuche",
        "tubo",
        "tu",
        "blister",
        "bolsa",
        "pote",
        "fco",
        "fc",
        "frasco",
    }
)
# Words after a unit that only say "per dose": "50 mcg/dosis".
PER_WORDS = frozenset({"dosis", "puff", "inhalacion", "gota", "gotas"})

# Form words: the main form counts fully, qualifiers ("oral", "recubierta") less.
FORM_MAIN = frozenset(
    {
        "tableta",
        "capsula",
        "suspension",
        "solucion",
        "inyectable",
        "jarabe",
        "crema",
        "unguento",
        "gotas",
        "gel",
        "supositorio",
        "ovulo",
        "polvo",
        "aerosol",
        "granulado",
        "emulsion",
        "locion",
        "champu",
        "pasta",
        "parche",
    }
)
FORM_QUALIFIERS = frozenset(
    {
        "oral",
        "orales",
        "oftalmica",
        "otica",
        "nasal",
        "topica",
        "vaginal",
        "sublingual",
        "efervescente",
        "masticable",
        "recubierta",
        "blanda",
        "liberacion",
        "prolongada",
        "modificada",
        "retardada",
        "inhalacion",
        "nebulizacion",
        "bucodispersable",
        "pluma",
    }
)
# "gotas oftálmicas" is what the catalogue calls "Solución oftálmica" (or a suspension).
RELATED_FORMS: dict[str, tuple[str, ...]] = {"gotas": ("solucion", "suspension")}

# Salts and hydrates that inventories often leave out ("Tramadol" for "Clorhidrato de tramadol").
MINOR_WORDS = frozenset(
    {
        "clorhidrato",
        "sodico",
        "sodica",
        "potasico",
        "potasica",
        "calcico",
        "magnesico",
        "sulfato",
        "maleato",
        "tartrato",
        "succinato",
        "fumarato",
        "citrato",
        "besilato",
        "bromhidrato",
        "acetato",
        "fosfato",
        "mesilato",
        "hiclato",
        "monohidrato",
        "trihidrato",
        "dihidrato",
        "trometamol",
        "cristalina",
        "bromuro",
        "trometamina",
    }
)

# Words that describe a pack, a maker, a method or a view rather than which product it is: a row
# word of these never makes a candidate "another product" ("CADA ML CONTIENE", "PFIZER S.A",
# "POR NEFELOMETRIA", "AP Y LATERAL", "SOD": sin otra descripción in Colombian tariffs).
DESCRIPTIVE_WORDS = frozenset(
    {
        # how a formulary line is written
        "cada", "contiene", "contienen", "equivalente", "envase", "frasco", "frascos", "dosificador",
        "dosificadora", "medida", "gotero", "integral", "calibrado", "integrado", "adjunto", "tapa",
        "una", "uno", "un", "que", "sirve", "esteril", "diluyente", "dispositivo", "pulverizador",
        "est", "estuche", "blisters", "unidades", "und", "unidad", "origen", "adn", "recombinante",
        "micronizada", "micronizado", "levogiro", "heptahidratado", "dihidratado", "dihidratada",
        "monohidratado", "anhidra", "anhidro", "elemental", "normalizado", "desecados", "dosis",
        # makers
        "s", "sa", "sac", "srl", "ltd", "ltda", "co", "cia", "inc", "gmbh", "laboratorio",
        "laboratorios", "lab", "labs", "farma", "pharma", "pharmaceutical", "pharmaceuticals",
        "peru", "chile", "mexico", "colombia", "limited", "generico", "generica",
        # how a test is done
        "metodo", "automatico", "automatizado", "manual", "determinacion", "estudio", "test", "prueba",
        "tecnica", "nefelometria", "turbidimetria", "semiautomatizado",
        # views of an x-ray
        "proyeccion", "proyecciones", "vista", "vistas", "ap", "pa", "lateral", "laterales", "oblicua",
        "oblicuas", "frontal", "focalizada", "posicion", "vertical", "adicionales", "unicamente",
        "anteroposterior", "posteroanterior", "decubito", "rotacion",
        # how a procedure is billed
        "computarizada", "computada", "computadorizada", "digital",
        "sod", "medica", "medico", "especialidad", "adulto", "adultos", "paciente", "servicio",
    }
)  # fmt: skip

# Words of a study's name that say little about which study it is ("Niveles de carbamazepina",
# "Calcio sérico"): they weigh little when a row leaves them out.
GENERIC_STUDY_WORDS = frozenset(
    {"niveles", "serico", "serica", "sericos", "sericas", "plasmatico", "plasmatica", "sanguineo"}
)
