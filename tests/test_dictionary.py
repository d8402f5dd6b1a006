"""The plain-language service dictionary: shipped entries, lookups, bad files, import and export."""
import pytest
from sqlalchemy import func, select

from portal.demo.data import SERVICES
from portal.extensions import db
from portal.glossary.content import ContentError, parse_dictionary, read_content
from portal.glossary.models import SOURCE_BUILTIN, SOURCE_LOCAL, ServiceDescription
from portal.glossary.services import describe_codes

from .pages import soup

HEADER = "code_system,code,name,explanation\n"

# The broad fallbacks: whole sections of CPT, for codes no narrower category covers.
CPT_SECTIONS = {("00100", "01999"), ("10004", "69990"), ("70010", "79999"), ("80047", "89398"),
                ("90281", "99199"), ("99202", "99499")}

# Codes common on emergency, primary care, imaging and lab bills, beyond the demo's own.
COMMON_CODES = [
    ("cpt", "99285"), ("cpt", "99291"), ("cpt", "99214"), ("cpt", "99395"), ("cpt", "71045"), ("cpt", "70450"),
    ("cpt", "74177"), ("cpt", "72148"), ("cpt", "77067"), ("cpt", "85610"), ("cpt", "84443"), ("cpt", "87086"),
    ("cpt", "93000"), ("cpt", "12002"), ("cpt", "96372"), ("revenue", "0450"), ("revenue", "0300"),
    ("revenue", "0320"), ("revenue", "0250"), ("hcpcs", "G0008"), ("hcpcs", "A0427"),
]


def test_the_shipped_dictionary_is_large_and_covers_the_demo():
    entries = read_content().dictionary["en"]
    assert len(entries) >= 200
    # CPT codes are described by range only: the AMA's descriptors of single codes are never shipped.
    assert all(e.code_first != e.code_last for e in entries if e.code_system == "cpt")


def test_every_demo_and_common_code_has_a_specific_entry(app, glossary):
    codes = {(system, code) for system, code, _description, _price in SERVICES.values()} | set(COMMON_CODES)
    found = describe_codes(codes, "en")
    missing = sorted(codes - set(found))
    assert not missing, missing
    for (system, code), entry in found.items():
        # A category such as "Emergency room visit", not a whole section of CPT such as surgery or lab.
        assert (entry.code_first, entry.code_last) not in CPT_SECTIONS, (code, entry.code, entry.name)


def test_synthea_codes_are_covered_too(app, glossary):
    # SNOMED CT and CVX codes from the public Synthea sample bills, as imported bills carry them.
    codes = [("snomed", "185349003"), ("snomed", "50849002"), ("snomed", "73761001"), ("snomed", "10509002"),
             ("cvx", "140"), ("cvx", "03"), ("cvx", "115")]
    assert set(describe_codes(codes, "en")) == set(codes)


def _entry(source, code_first, code_last, name, system="cpt", locale="en"):
    db.session.add(ServiceDescription(source=source, locale=locale, code_system=system, code_first=code_first,
                                      code_last=code_last, name=name, explanation=name + "."))


def test_codes_match_only_ranges_of_their_own_kind(app):
    _entry(SOURCE_BUILTIN, "00100", "01999", "Anesthesia")
    _entry(SOURCE_BUILTIN, "0001F", "9007F", "Quality measure")
    _entry(SOURCE_BUILTIN, "03", "03", "MMR vaccine", system="cvx")
    db.session.commit()
    found = describe_codes([("cpt", "0042T"), ("cpt", "1000F"), ("cpt", "00500"), ("cvx", "3")], "en")
    assert {key: e.name for key, e in found.items()} == {
        ("cpt", "1000F"): "Quality measure", ("cpt", "00500"): "Anesthesia", ("cvx", "03"): "MMR vaccine"}


def test_the_most_specific_entry_wins_and_the_office_wins_a_tie(app):
    _entry(SOURCE_BUILTIN, "99000", "99999", "Broad")
    _entry(SOURCE_BUILTIN, "99281", "99285", "Narrow")
    _entry(SOURCE_LOCAL, "99200", "99499", "Office, broader")
    _entry(SOURCE_BUILTIN, "0120", "0129", "Room", system="revenue")
    _entry(SOURCE_LOCAL, "0120", "0129", "Our room", system="revenue")
    _entry(SOURCE_BUILTIN, "J2405", "J2405", "English", system="hcpcs")
    _entry(SOURCE_BUILTIN, "J2405", "J2405", "Español", system="hcpcs", locale="es")
    db.session.commit()
    found = describe_codes([("cpt", "99284"), ("cpt", "99300"), ("cpt", "99100"), ("cpt", "12345"),
                            ("revenue", "120"), ("hcpcs", "j2405")], "es")
    names = {key: entry.name for key, entry in found.items()}
    assert names == {("cpt", "99284"): "Narrow", ("cpt", "99300"): "Office, broader", ("cpt", "99100"): "Broad",
                     ("revenue", "0120"): "Our room", ("hcpcs", "J2405"): "Español"}


BAD_FILES = {
    "missing column": ("code_system,code,name\ncpt,99281-99285,ER visit\n",
                       "office.csv:1: missing column 'explanation'"),
    "unknown column": (HEADER.replace("explanation", "explaination"), "office.csv:1: missing column 'explanation'"),
    "duplicate code": (HEADER + "hcpcs,J2405,Nausea shot,A shot.\nhcpcs,J1885,Pain shot,A shot.\n"
                                "hcpcs,j2405,Again,Again.\n", "office.csv:4: hcpcs J2405 is already on line 2"),
    "unknown code system": (HEADER + "icd10,R10.9,Belly pain,Pain in the belly.\n",
                            "office.csv:2: unknown code system 'icd10'"),
    "range of single codes": (HEADER + "hcpcs,J2405-J2410,Shots,Shots.\n",
                              "office.csv:2: a hcpcs code cannot be a range"),
    "backwards range": (HEADER + "cpt,99285-99281,ER,ER.\n", "office.csv:2: range '99285-99281' runs backwards"),
    "malformed code": (HEADER + "cpt,9928,ER,ER.\n", "office.csv:2: '9928' is not a cpt code"),
    "revenue code without its zero": (HEADER + "revenue,450,ER,ER.\n",
                                      "office.csv:2: revenue code '450' needs its leading zero: '0450'"),
    "unquoted comma": (HEADER + "hcpcs,J2405,Nausea shot, per 1 mg,A shot.\n",
                       "office.csv:2: expected 4 values, found 5"),
    "empty name": (HEADER + "hcpcs,J2405,,A shot.\n", "office.csv:2: the name is empty"),
    "empty file": ("", "office.csv: the file is empty"),
    "a single CPT code": (HEADER + "cpt,99285,Severe emergency visit,Words.\n",
                          "office.csv:2: CPT code '99285' on its own: describe CPT codes by range"),
    "a range mixing kinds of code": (HEADER + "cpt,00100-0042T,Mixed,Words.\n",
                                     "office.csv:2: range '00100-0042T' mixes kinds of code"),
    "control character": (HEADER + "hcpcs,J2405,Nausea\x00shot,A shot.\n",
                          "office.csv:2: the name contains the invisible character U+0000"),
}


@pytest.mark.parametrize("text, problem", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_dictionary_files_are_rejected_with_file_line_and_reason(text, problem):
    with pytest.raises(ContentError) as error:
        parse_dictionary(text.encode(), "office.csv")
    assert any(str(p).startswith(problem) for p in error.value.problems), error.value.problems


def test_every_problem_is_reported_at_once_and_quoted_multiline_rows_keep_their_line():
    text = HEADER + 'hcpcs,J2405,"Nausea shot,\nper 1 mg",A shot.\nxyz,1,A,B.\ncpt,1,A,B.\n'
    with pytest.raises(ContentError) as error:
        parse_dictionary(text.encode(), "office.csv")
    assert [str(p) for p in error.value.problems] == [
        "office.csv:4: unknown code system 'xyz'; use one of cpt, hcpcs, revenue, snomed, cvx",
        "office.csv:5: '1' is not a cpt code",
    ]


def test_a_spreadsheet_byte_order_mark_is_fine_but_latin1_is_not():
    assert parse_dictionary(("\ufeff" + HEADER + "hcpcs,J2405,Nausea shot,A shot.\n").encode(), "x.csv")[0].code \
        == "J2405"
    with pytest.raises(ContentError) as error:
        parse_dictionary((HEADER + "hcpcs,J2405,Náusea,Una inyección.\n").encode("latin-1"), "x.csv")
    assert str(error.value).startswith("x.csv:2: not UTF-8 text (byte 0xe1 at column 14)")


def _own_entries():
    return db.session.scalars(select(ServiceDescription).where(ServiceDescription.source == SOURCE_LOCAL)
                              .order_by(ServiceDescription.code_first)).all()


def test_import_rejects_a_bad_file_whole(app, runner, glossary, tmp_path):
    _entry(SOURCE_LOCAL, "J9999", "J9999", "Kept", system="hcpcs")
    db.session.commit()
    path = tmp_path / "office.csv"
    path.write_text(HEADER + "hcpcs,J2405,Good row,A good row.\nhcpcs,J2405,Dup,Dup.\n", encoding="utf-8")
    result = runner.invoke(args=["dictionary", "import", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: hcpcs J2405 is already on line 2" in result.output
    assert "Nothing was loaded; the database is unchanged." in result.output
    assert [e.name for e in _own_entries()] == ["Kept"]


def test_import_export_round_trip_stores_only_the_offices_changes(app, runner, glossary, tmp_path, client, make,
                                                                  login_as):
    export = tmp_path / "all.csv"
    result = runner.invoke(args=["dictionary", "export", str(export)])
    assert result.exit_code == 0, result.output
    rows = export.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "code_system,code,name,explanation" and len(rows) - 1 == glossary.entries["en"]

    # Imported unchanged, nothing is stored: the office owns no entries yet.
    result = runner.invoke(args=["dictionary", "import", str(export)])
    assert result.exit_code == 0, result.output
    assert f"{glossary.entries['en']} same as the built-in dictionary" in result.output
    assert _own_entries() == []

    # The office renames one service and adds a code of its own.
    edited = [row for row in rows]
    index = next(i for i, row in enumerate(edited) if row.startswith("hcpcs,J2405,"))
    edited[index] = 'hcpcs,J2405,"Nausea medicine (Zofran), per 1 mg",A shot that stops you feeling sick.'
    edited.append("hcpcs,S9981,Copy of your records,A fee for making a copy of your medical records.")
    path = tmp_path / "office.csv"
    path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    result = runner.invoke(args=["dictionary", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "own entries: 2 added, 0 changed, 0 unchanged, 0 removed" in result.output
    assert [e.code for e in _own_entries()] == ["J2405", "S9981"]

    # Patients see the office's wording on their bill.
    statement = make.statement(lines=2, codes=[("hcpcs", "J2405"), ("hcpcs", "S9981")])
    login_as(make.user(accounts=[statement.account]))
    page = soup(client.get(f"/statements/{statement.number}"))
    titles = [h.get_text(strip=True) for h in page.select(".line-title")]
    assert titles == ["Nausea medicine (Zofran), per 1 mg", "Copy of your records"]

    # Export --own gives just those; importing a file without one removes it, bringing back the built-in name.
    own = tmp_path / "own.csv"
    assert runner.invoke(args=["dictionary", "export", "--own", str(own)]).exit_code == 0
    own_rows = own.read_text(encoding="utf-8").splitlines()
    assert len(own_rows) == 3
    path.write_text(own_rows[0] + "\n" + own_rows[2] + "\n", encoding="utf-8")
    result = runner.invoke(args=["dictionary", "import", str(path)])
    assert "0 added, 0 changed, 1 unchanged, 1 removed" in result.output
    assert [e.code for e in _own_entries()] == ["S9981"]


def test_export_to_standard_output(app, runner, glossary):
    result = runner.invoke(args=["dictionary", "export", "--locale", "en"])
    assert result.exit_code == 0
    assert result.output.startswith("code_system,code,name,explanation\n")
    english = select(func.count()).select_from(ServiceDescription).where(ServiceDescription.locale == "en")
    assert db.session.scalar(english) == len(result.output.splitlines()) - 1


def test_an_empty_import_is_refused_rather_than_removing_every_own_entry(app, runner, tmp_path):
    _entry(SOURCE_LOCAL, "J9999", "J9999", "Kept", system="hcpcs")
    db.session.commit()
    path = tmp_path / "empty.csv"
    path.write_text(HEADER, encoding="utf-8")
    result = runner.invoke(args=["dictionary", "import", str(path)])
    assert result.exit_code == 1 and "no entries below the header" in result.output
    assert [e.name for e in _own_entries()] == ["Kept"]


def test_the_locale_is_written_the_standard_way(app, runner, glossary, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "hcpcs,S9981,Copy of your records,A fee for a copy of your records.\n", encoding="utf-8")
    assert runner.invoke(args=["dictionary", "import", "--locale", "EN", str(path)]).exit_code == 0
    assert [e.locale for e in _own_entries()] == ["en"]


def test_an_unknown_locale_is_refused(app, runner, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "hcpcs,S9981,Copy of your records,A fee.\n", encoding="utf-8")
    result = runner.invoke(args=["dictionary", "import", "--locale", "xx-nope", str(path)])
    assert result.exit_code == 1 and "unknown language 'xx-nope'" in result.output
