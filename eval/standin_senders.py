"""Who sends the stand-in consultation's submissions (eval/standin.py): real Norwegian names of
municipalities, county municipalities, health-community regions, organisations and state bodies
that answer health consultations, in the real round's mix. Only the names are real; what the
stand-in makes them say is cut from the seeds.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rag.errors import RagError


class StandinError(RagError):
    """The stand-in corpus cannot be written as asked."""


# Senders per 300 submissions, by submitter type (the real round's mix).
MIX = {"kommune": 200, "helsefellesskap": 12, "fylkeskommune": 8, "organisasjon": 50, "statlig": 30}


@dataclass(frozen=True)
class Forms:
    """How a letter names its sender: name, genitive, place and its genitive (None: no place)."""

    name: str
    name_genitive: str
    place: str | None
    place_genitive: str | None


def genitive(name: str) -> str:
    return f"{name}'" if name.endswith(("s", "x", "z")) else f"{name}s"


@dataclass(frozen=True)
class Sender:
    name: str
    kind: str  # submitter_type
    place: str | None

    @property
    def forms(self) -> Forms:
        place_gen = genitive(self.place) if self.place else None
        return Forms(self.name, genitive(self.name), self.place, place_gen)


def _names(block: str) -> tuple[str, ...]:
    """Names separated by white space; «_» stands for a space inside a name."""
    return tuple(name.replace("_", " ") for name in block.split())


MUNICIPALITIES = _names(
    """
    Halden Sarpsborg Fredrikstad Hvaler Råde Indre_Østfold Skiptvet Rakkestad Marker Aremark
    Bærum Asker Lillestrøm Lørenskog Nordre_Follo Ullensaker Nittedal Gjerdrum Nannestad Eidsvoll
    Hurdal Aurskog-Høland Rælingen Enebakk Frogn Vestby Lunner Jevnaker Drammen Lier Kongsberg
    Ringerike Modum Øvre_Eiker Krødsherad Sigdal Flå Nesbyen Gol Hemsedal Hol Flesberg Rollag
    Nore_og_Uvdal Elverum Kongsvinger Gjøvik Lillehammer Østre_Toten Vestre_Toten Gran
    Søndre_Land Nordre_Land Sør-Fron Nord-Fron Ringebu Øyer Gausdal Dovre Lesja Skjåk Vågå
    Nord-Aurdal Sør-Aurdal Etnedal Vestre_Slidre Øystre_Slidre Trysil Åmot Stor-Elvdal Rendalen
    Engerdal Tolga Tynset Alvdal Folldal Nord-Odal Sør-Odal Eidskog Grue Åsnes Tønsberg
    Sandefjord Larvik Horten Holmestrand Færder Skien Porsgrunn Bamble Kragerø Drangedal Nome
    Midt-Telemark Notodden Tinn Hjartdal Seljord Kviteseid Nissedal Fyresdal Tokke Vinje Siljan
    Kristiansand Arendal Grimstad Lillesand Birkenes Iveland Evje_og_Hornnes Bygland Valle Bykle
    Vennesla Vegårshei Tvedestrand Risør Gjerstad Åmli Froland Lindesnes Farsund Flekkefjord
    Kvinesdal Sirdal Hægebostad Åseral Lyngdal Stavanger Sandnes Sola Randaberg Strand
    Hjelmeland Suldal Sauda Haugesund Karmøy Tysvær Bokn Vindafjord Utsira Kvitsøy Gjesdal Klepp
    Time Eigersund Sokndal Bjerkreim Askøy Øygarden Bjørnafjorden Alver Austevoll Osterøy
    Vaksdal Voss Kvam Ulvik Eidfjord Ullensvang Stord Fitjar Bømlo Sveio Tysnes Kvinnherad Etne
    Masfjorden Fedje Gulen Modalen Samnanger Høyanger Sogndal Luster Årdal Lærdal Aurland
    Hyllestad Solund Askvoll Fjaler Sunnfjord Kinn Bremanger Stad Gloppen Stryn Austrheim
    Ulstein Hareid Sula Giske Vestnes Rauma Aukra Hustadvika Averøy Gjemnes Tingvoll Sunndal
    Surnadal Smøla Aure Stranda Sykkylven Vanylven Trondheim Stjørdal Levanger Verdal Steinkjer
    Namsos Malvik Melhus Skaun Orkland Heim Hitra Frøya Ørland Indre_Fosen Åfjord Oppdal Rennebu
    Midtre_Gauldal Holtålen Røros Selbu Tydal Meråker Frosta Inderøy Snåsa Lierne Røyrvik
    Namsskogan Grong Høylandet Overhalla Flatanger Nærøysund Leka Bodø Narvik Vefsn Alstahaug
    Brønnøy Sortland Vestvågøy Vågan Hadsel Fauske Saltdal Meløy Steigen Hamarøy Lødingen Øksnes
    Andøy Moskenes Flakstad Værøy Gildeskål Beiarn Sørfold Rødøy Lurøy Træna Nesna Hemnes
    Hattfjelldal Grane Leirfjord Dønna Vevelstad Sømna Bindal Evenes Tromsø Harstad Senja
    Målselv Bardu Balsfjord Karlsøy Lyngen Storfjord Kåfjord Skjervøy Nordreisa Kvænangen
    Gratangen Lavangen Salangen Dyrøy Sørreisa Ibestad Kvæfjord Tjeldsund Alta Hammerfest
    Sør-Varanger Vadsø Vardø Båtsfjord Berlevåg Nesseby Lebesby Gamvik Måsøy Nordkapp Porsanger
    Loppa Hasvik Kautokeino Karasjok
    """
)

COUNTIES = _names(
    """
    Vestland Rogaland Agder Telemark Vestfold Buskerud Akershus Østfold Nordland Innlandet
    Trøndelag Troms Finnmark
    """
)

# Health communities are named here after their region: «Helsefellesskapet i Agder».
HEALTH_COMMUNITY_REGIONS = _names(
    """
    Agder Telemark Vestfold Østfold Buskerud Sør-Rogaland Haugalandet_og_Sunnhordland
    Sogn_og_Fjordane Nord-Trøndelag Sør-Trøndelag Helgeland Salten Lofoten_og_Vesterålen
    Midt-Troms Vest-Finnmark Øst-Finnmark Oslo_sør
    """
)

ORGANISATIONS = (
    "Den norske legeforening",
    "Norsk Sykepleierforbund",
    "Fagforbundet",
    "Delta",
    "Spekter",
    "KS",
    "Virke",
    "NHO Geneo",
    "Akademikerne",
    "Unio",
    "Norsk Ergoterapeutforbund",
    "Norsk Fysioterapeutforbund",
    "Norsk Psykologforening",
    "Fellesorganisasjonen",
    "Norsk Radiografforbund",
    "Den norske tannlegeforening",
    "Den norske jordmorforening",
    "Norsk forening for allmennmedisin",
    "Norsk psykiatrisk forening",
    "Apotekforeningen",
    "Norsk Farmaceutisk Selskap",
    "Landsforeningen for hjerte- og lungesyke",
    "Mental Helse",
    "Rådet for psykisk helse",
    "Kreftforeningen",
    "Nasjonalforeningen for folkehelsen",
    "Norges Handikapforbund",
    "Funksjonshemmedes Fellesorganisasjon",
    "Pensjonistforbundet",
    "Norsk Revmatikerforbund",
    "Diabetesforbundet",
    "Landsforeningen for pårørende innen psykisk helse",
    "Blå Kors Norge",
    "Kirkens Bymisjon",
    "Norsk Pasientforening",
    "Unge funksjonshemmede",
    "Voksne for Barn",
    "Redd Barna",
    "Landsforeningen for Nyrepasienter og Transplanterte",
    "Norsk Epilepsiforbund",
    "Astma- og Allergiforbundet",
    "Hørselshemmedes Landsforbund",
    "Norges Blindeforbund",
    "Autismeforeningen i Norge",
    "ADHD Norge",
    "Norsk Forbund for Utviklingshemmede",
    "Leve – Landsforeningen for etterlatte ved selvmord",
    "Actis – Rusfeltets samarbeidsorgan",
    "Rusmisbrukernes interesseorganisasjon",
    "Norsk Sykehus- og helsetjenesteforening",
    "Sanitetskvinnene",
    "Røde Kors",
    "Frelsesarmeen",
    "Norsk Tjenestemannslag",
    "Allmennlegeforeningen",
    "Norsk Palliativ Forening",
    "Norsk Geriatrisk Forening",
)

STATE_BODIES = (
    "Statens helsetilsyn",
    "Helsedirektoratet",
    "Folkehelseinstituttet",
    "Direktoratet for e-helse",
    "Norsk helsenett SF",
    "Direktoratet for medisinske produkter",
    "Barneombudet",
    "Eldreombudet",
    "Sivilombudet",
    "Likestillings- og diskrimineringsombudet",
    "Arbeids- og velferdsdirektoratet",
    "Barne-, ungdoms- og familiedirektoratet",
    "Helse Nord RHF",
    "Helse Vest RHF",
    "Helse Sør-Øst RHF",
    "Helse Midt-Norge RHF",
    "Sykehuset Telemark HF",
    "Sykehuset i Vestfold HF",
    "Sørlandet sykehus HF",
    "Universitetssykehuset Nord-Norge HF",
    "St. Olavs hospital HF",
    "Helse Stavanger HF",
    "Helse Førde HF",
    "Nordlandssykehuset HF",
    "Finnmarkssykehuset HF",
    "Sykehuset Østfold HF",
    "Vestre Viken HF",
    "Statsforvalteren i Vestland",
    "Statsforvalteren i Rogaland",
    "Statsforvalteren i Nordland",
    "Statsforvalteren i Agder",
    "Statsforvalteren i Trøndelag",
    "Statens undersøkelseskommisjon for helse- og omsorgstjenesten",
    "Pasient- og brukerombudet i Oslo og Akershus",
    "Norges forskningsråd",
    "Statens arbeidsmiljøinstitutt",
    "Nasjonalt kompetansesenter for legevaktmedisin",
    "Kompetansesenter for rus – region vest",
    "Nasjonal kompetansetjeneste for aldring og helse",
    "Helseklage",
)


def mentioned(name: str | None, text: str) -> bool:
    """Whether `text` has `name` as a whole name (not inside «Midt-Telemark»)."""
    if name is None or name not in text:  # the quick test first
        return False
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def pools(seen: str) -> dict[str, list[Sender]]:
    """Every possible sender by type. A municipality whose place the seeds mention is left out
    (a bare place name there means that municipality); a county or health community only when
    its full name occurs (`seen`: the seeds' text)."""
    found = {
        "kommune": [Sender(f"{m} kommune", "kommune", m) for m in MUNICIPALITIES],
        "helsefellesskap": [
            Sender(f"Helsefellesskapet i {r}", "helsefellesskap", r)
            for r in HEALTH_COMMUNITY_REGIONS
        ],
        "fylkeskommune": [Sender(f"{c} fylkeskommune", "fylkeskommune", c) for c in COUNTIES],
        "organisasjon": [Sender(o, "organisasjon", None) for o in ORGANISATIONS],
        "statlig": [Sender(b, "statlig", None) for b in STATE_BODIES],
    }
    return {
        kind: [s for s in pool if not mentioned(s.place if kind == "kommune" else s.name, seen)]
        for kind, pool in found.items()
    }


def mix(documents: int) -> dict[str, int]:
    """Senders per type for `documents` submissions, in the real round's proportions."""
    if documents < 1:
        raise StandinError(f"the number of documents must be at least 1, got {documents}")
    others = {kind: round(n * documents / 300) for kind, n in MIX.items() if kind != "kommune"}
    return {"kommune": documents - sum(others.values()), **others}


def senders(documents: int, seen: str, rng: random.Random) -> list[Sender]:
    """`documents` distinct senders in the real round's mix; StandinError when there are not
    names enough for it."""
    available = pools(seen)
    chosen: list[Sender] = []
    for kind, n in mix(documents).items():
        if n > len(available[kind]):
            raise StandinError(
                f"{documents} submissions need {n} senders of type {kind}; "
                f"there are names for {len(available[kind])}"
            )
        chosen += rng.sample(available[kind], n)
    return chosen
