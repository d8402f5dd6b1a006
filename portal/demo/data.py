"""The demo hospital: services, insurance plans, households, statements and billing staff.

Descriptions are our own chargemaster-style wording (CPT descriptors are the AMA's and are never
shipped); HCPCS Level II and revenue codes are public. People and places are invented; phone numbers
use the 555-01xx range reserved for fiction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ORGANISATION = {
    "slug": "riverside",
    "name": "Riverside Community Hospital",
    "address": "1200 River Road\nSpringfield, IL 62704\nUnited States",
    "phone": "+1 217-555-0142",
    "email": "billing@riverside.example",
    "currency": "USD",
    "time_zone": "America/Chicago",
    "default_locale": "en",
}

# key: (code system, code, description, unit charge in cents)
SERVICES: dict[str, tuple[str, str, str, int]] = {
    "ed_high": ("cpt", "99284", "ED VISIT MOD-HIGH SEVERITY", 98500),
    "ed_mod": ("cpt", "99283", "ED VISIT MODERATE SEVERITY", 61200),
    "office_est": ("cpt", "99213", "OFFICE VISIT EST PT LEVEL 3", 18500),
    "office_new": ("cpt", "99203", "OFFICE VISIT NEW PT LEVEL 3", 24500),
    "well_child": ("cpt", "99393", "PREVENTIVE VISIT EST PT AGE 5-11", 21000),
    "admit": ("cpt", "99222", "INITIAL HOSPITAL CARE LEVEL 2", 32000),
    "rounds": ("cpt", "99232", "SUBSEQUENT HOSPITAL CARE LEVEL 2", 19500),
    "discharge": ("cpt", "99238", "HOSPITAL DISCHARGE DAY MGMT", 17500),
    "room": ("revenue", "0120", "ROOM & BOARD SEMI-PRIVATE", 285000),
    "cbc": ("cpt", "85025", "CBC W AUTO DIFFERENTIAL", 4800),
    "bmp": ("cpt", "80048", "BASIC METABOLIC PANEL", 6200),
    "cmp": ("cpt", "80053", "COMPREHENSIVE METABOLIC PANEL", 8900),
    "lipid": ("cpt", "80061", "LIPID PANEL", 7400),
    "a1c": ("cpt", "83036", "HEMOGLOBIN A1C", 5200),
    "ua": ("cpt", "81001", "URINALYSIS AUTO W MICROSCOPY", 2900),
    "strep": ("cpt", "87880", "STREP A RAPID ASSAY", 3800),
    "blood_culture": ("cpt", "87040", "BLOOD CULTURE BACTERIA", 11200),
    "procalcitonin": ("cpt", "84145", "PROCALCITONIN", 13400),
    "draw": ("cpt", "36415", "VENIPUNCTURE ROUTINE", 1500),
    "xr_chest": ("cpt", "71046", "XR CHEST 2 VIEWS", 32500),
    "xr_wrist": ("cpt", "73110", "XR WRIST 3+ VIEWS", 28900),
    "ct_chest": ("cpt", "71260", "CT CHEST W CONTRAST", 245000),
    "us_abd": ("cpt", "76700", "US ABDOMEN COMPLETE", 68000),
    "echo": ("cpt", "93306", "ECHO TRANSTHORACIC COMPLETE", 210000),
    "ekg": ("cpt", "93005", "ECG TRACING ONLY", 21500),
    "iv_push": ("cpt", "96374", "IV PUSH SINGLE/INITIAL DRUG", 27500),
    "iv_hydration": ("cpt", "96360", "IV INFUSION HYDRATION 1ST HR", 31000),
    "nebulizer": ("cpt", "94640", "AIRWAY INHALATION TREATMENT", 9800),
    "pulse_ox": ("cpt", "94761", "PULSE OXIMETRY MULTIPLE", 6400),
    "splint": ("cpt", "29125", "APPLY FOREARM SPLINT STATIC", 23500),
    "flu_vaccine": ("cpt", "90686", "FLU VACCINE QUAD PF IM", 4500),
    "vaccine_admin": ("cpt", "90471", "IMMUNIZATION ADMIN 1 VACCINE", 2800),
    "pt_eval": ("cpt", "97161", "PT EVAL LOW COMPLEXITY", 19500),
    "ondansetron": ("hcpcs", "J2405", "ONDANSETRON HCL INJ PER 1 MG", 1200),
    "ketorolac": ("hcpcs", "J1885", "KETOROLAC INJ PER 15 MG", 2400),
    "saline": ("hcpcs", "J7030", "NORMAL SALINE INFUSION 1000 CC", 8900),
    "ceftriaxone": ("hcpcs", "J0696", "CEFTRIAXONE INJ PER 250 MG", 3100),
    "dexamethasone": ("hcpcs", "J1100", "DEXAMETHASONE INJ PER 1 MG", 600),
    "acetaminophen": ("hcpcs", "J0131", "ACETAMINOPHEN INJ PER 10 MG", 110),
    "heparin_flush": ("hcpcs", "J1642", "HEPARIN LOCK FLUSH PER 10 U", 300),
    "contrast": ("hcpcs", "Q9967", "CONTRAST LOCM 300-399 PER ML", 150),
    "wrist_brace": ("hcpcs", "L3908", "WRIST HAND ORTHOSIS PREFAB", 11500),
    "crutches": ("hcpcs", "E0114", "CRUTCHES UNDERARM PAIR", 9500),
}

# Lines that start a visit's copay (the visit itself, not what was done in it).
VISIT_CODES = {"ed_high", "ed_mod", "office_est", "office_new", "well_child", "admit"}


@dataclass(frozen=True)
class Plan:
    name: str
    allowed_percent: int
    coinsurance_percent: int
    copay_office: int = 0
    copay_emergency: int = 0
    not_covered: frozenset[str] = frozenset()


PLANS = {
    "blueriver": Plan("BlueRiver PPO", allowed_percent=55, coinsurance_percent=20, copay_office=3000,
                      copay_emergency=15000),
    "medicare": Plan("Medicare Part B", allowed_percent=35, coinsurance_percent=20),
    "lakeside": Plan("Lakeside HMO", allowed_percent=50, coinsurance_percent=0, copay_office=2500,
                     copay_emergency=20000, not_covered=frozenset({"echo"})),
}

# What uninsured patients are given off the list price, as the hospital's self-pay policy.
SELF_PAY_DISCOUNT_PERCENT = 40


@dataclass(frozen=True)
class VisitSpec:
    patient: str  # MRN
    days_before_statement: int
    facility: str
    department: str
    provider: str
    services: list[tuple[str, int]]  # (service key, quantity)
    days: int = 1  # an inpatient stay spreads daily services over this many days
    # A good faith estimate given to a self-pay patient before scheduled care: (minor units, days before the visit).
    estimate: tuple[int, int] | None = None


@dataclass(frozen=True)
class StatementSpec:
    number: str
    days_ago: int  # statement date, counted back from the day the demo is loaded
    due_in_days: int  # due date, counted from the statement date
    plan: str | None  # None: self-pay
    visits: list[VisitSpec]
    paid_in_full: bool = False


@dataclass(frozen=True)
class HouseholdSpec:
    account_number: str
    guarantor_name: str
    mailing_address: str
    locale: str
    deductible_left: int  # what is left of the plan-year deductible before these statements
    patients: list[tuple[str, str, str, str]]  # (MRN, given name, family name, ISO birth date)
    statements: list[StatementSpec]
    login: tuple[str, str] | None = None  # (email, password)
    extra_visit_days: dict[str, int] = field(default_factory=dict)


MAIN = "Riverside Community Hospital"
CLINIC = "Riverside Family Clinic"
IMAGING = "Riverside Imaging Center"

HOUSEHOLDS = [
    HouseholdSpec(
        account_number="10001", guarantor_name="Jordan Rivera", locale="en", deductible_left=45000,
        mailing_address="48 Maple Street\nSpringfield, IL 62701",
        patients=[("R220145", "Jordan", "Rivera", "1984-03-27"), ("R220146", "Sam", "Rivera", "2016-09-14")],
        login=("patient@example.org", "demo-patient-1"),
        statements=[
            StatementSpec("400100017", days_ago=6, due_in_days=30, plan="blueriver", visits=[
                VisitSpec("R220145", 24, MAIN, "Emergency", "Dr. Hannah Brooks",
                          [("ed_high", 1), ("xr_wrist", 1), ("splint", 1), ("ketorolac", 1), ("wrist_brace", 1)]),
                VisitSpec("R220146", 19, CLINIC, "Pediatrics", "Dr. Aisha Rahman",
                          [("well_child", 1), ("flu_vaccine", 1), ("vaccine_admin", 1), ("strep", 1)]),
                VisitSpec("R220145", 12, CLINIC, "Orthopedics", "Dr. Marcus Lee",
                          [("office_est", 1), ("xr_wrist", 1), ("pt_eval", 1)]),
            ]),
            StatementSpec("400090011", days_ago=70, due_in_days=30, plan="blueriver", paid_in_full=True, visits=[
                VisitSpec("R220145", 20, CLINIC, "Family Medicine", "Dr. Grace Kim",
                          [("office_est", 1), ("lipid", 1), ("a1c", 1), ("draw", 1)]),
            ]),
        ],
    ),
    HouseholdSpec(
        account_number="10002", guarantor_name="Elena Morales", locale="es", deductible_left=0,
        mailing_address="1730 Lincoln Avenue, Apt 4B\nSpringfield, IL 62702",
        patients=[("M310872", "Elena", "Morales", "1979-11-02")],
        login=("patient2@example.org", "demo-patient-2"),
        statements=[
            StatementSpec("400100025", days_ago=75, due_in_days=30, plan=None, visits=[
                VisitSpec("M310872", 15, MAIN, "Emergency", "Dr. Hannah Brooks",
                          [("ed_mod", 1), ("cbc", 1), ("bmp", 1), ("draw", 1), ("iv_hydration", 1), ("saline", 1),
                           ("ondansetron", 4)]),
            ]),
            StatementSpec("400100033", days_ago=8, due_in_days=30, plan=None, visits=[
                VisitSpec("M310872", 10, CLINIC, "Family Medicine", "Dr. Grace Kim",
                          [("office_new", 1), ("ua", 1), ("strep", 1)], estimate=(18000, 14)),
            ]),
        ],
    ),
    HouseholdSpec(
        account_number="10003", guarantor_name="Ivan Petrov", locale="bg", deductible_left=25700,
        mailing_address="905 Oak Hill Drive\nChatham, IL 62629",
        patients=[("P118830", "Ivan", "Petrov", "1958-06-30")],
        statements=[
            # A four-day stay for pneumonia: forty lines over emergency, inpatient, lab and imaging.
            StatementSpec("400100041", days_ago=4, due_in_days=30, plan="medicare", visits=[
                VisitSpec("P118830", 30, MAIN, "Emergency", "Dr. Hannah Brooks",
                          [("ed_high", 1), ("xr_chest", 1), ("ekg", 1), ("cbc", 1), ("bmp", 1), ("draw", 1),
                           ("blood_culture", 2), ("procalcitonin", 1), ("nebulizer", 1), ("pulse_ox", 1),
                           ("iv_push", 1), ("ceftriaxone", 4)]),
                VisitSpec("P118830", 29, MAIN, "Internal Medicine", "Dr. Samuel Ortiz",
                          [("admit", 1), ("room", 1), ("cbc", 1), ("cmp", 1), ("draw", 1), ("ceftriaxone", 4),
                           ("dexamethasone", 6), ("acetaminophen", 100), ("heparin_flush", 5), ("nebulizer", 2),
                           ("ct_chest", 1), ("contrast", 75), ("rounds", 1), ("room", 1), ("cbc", 1), ("bmp", 1),
                           ("draw", 1), ("ceftriaxone", 4), ("nebulizer", 2), ("rounds", 1), ("room", 1),
                           ("cbc", 1), ("draw", 1), ("pulse_ox", 1), ("ceftriaxone", 4), ("discharge", 1),
                           ("echo", 1), ("saline", 2)], days=4),
            ]),
        ],
    ),
    HouseholdSpec(
        account_number="10004", guarantor_name="Wei Li", locale="zh_Hans", deductible_left=0,
        mailing_address="22 Chestnut Court\nSpringfield, IL 62711",
        patients=[("L402291", "Wei", "Li", "1990-08-08")],
        statements=[
            StatementSpec("400100058", days_ago=50, due_in_days=30, plan="lakeside", paid_in_full=True, visits=[
                VisitSpec("L402291", 14, CLINIC, "Family Medicine", "Dr. Grace Kim",
                          [("office_est", 1), ("cbc", 1), ("draw", 1)]),
            ]),
            StatementSpec("400100066", days_ago=3, due_in_days=30, plan="lakeside", visits=[
                VisitSpec("L402291", 21, IMAGING, "Cardiology", "Dr. Priya Natarajan",
                          [("office_new", 1), ("ekg", 1), ("echo", 1)]),
            ]),
        ],
    ),
    HouseholdSpec(
        account_number="10005", guarantor_name="Layla Haddad", locale="ar", deductible_left=0,
        mailing_address="3106 Prairie View Lane\nSherman, IL 62684",
        patients=[("H507713", "Layla", "Haddad", "1991-01-18"), ("H507714", "Omar", "Haddad", "2019-05-05")],
        statements=[
            StatementSpec("400100074", days_ago=40, due_in_days=30, plan="blueriver", visits=[
                VisitSpec("H507713", 16, IMAGING, "Radiology", "Dr. Priya Natarajan",
                          [("us_abd", 1), ("cmp", 1), ("draw", 1)]),
                VisitSpec("H507714", 11, MAIN, "Emergency", "Dr. Hannah Brooks",
                          [("ed_mod", 1), ("xr_chest", 1), ("nebulizer", 2), ("dexamethasone", 10)]),
            ]),
        ],
    ),
]

STAFF_PASSWORD = "demo-staff-1"
SUPERVISOR_PASSWORD = "demo-supervisor-1"

# (email, role, name, job title, languages, topics, departments)
STAFF = [
    ("staff@example.org", "staff", "Maria Santos", "Billing specialist", ["en", "es"],
     ["charges", "insurance", "payment_plan", "dispute"], ["Emergency", "Radiology"]),
    ("james.oconnor@example.org", "staff", "James O'Connor", "Patient account representative", ["en"],
     ["charges", "refund", "other"], ["Orthopedics", "Family Medicine"]),
    ("lan.nguyen@example.org", "staff", "Lan Nguyen", "Billing specialist", ["en", "vi"],
     ["insurance", "charges"], ["Internal Medicine", "Cardiology"]),
    ("georgi.ivanov@example.org", "staff", "Georgi Ivanov", "Financial counselor", ["en", "bg", "ru"],
     ["financial_assistance", "payment_plan"], ["Internal Medicine"]),
    ("amira.khalil@example.org", "staff", "Amira Khalil", "Patient account representative", ["en", "ar", "fr"],
     ["charges", "insurance", "refund", "dispute"], ["Emergency", "Pediatrics"]),
    ("jing.chen@example.org", "staff", "Jing Chen", "Billing specialist", ["en", "zh_Hans"],
     ["insurance", "payment_plan", "other", "dispute"], ["Pediatrics", "Cardiology"]),
    ("supervisor@example.org", "supervisor", "Patricia Okafor", "Billing office supervisor", ["en"],
     ["charges", "insurance", "payment_plan", "financial_assistance", "refund", "other", "dispute"], []),
]


# Questions already asked, so that staff have an inbox to answer: (statement, line position or None, topic,
# language, message, hours ago).
QUESTIONS = [
    ("400100025", None, "insurance", "es",
     "Hola. ¿Por qué mi seguro no pagó la visita de urgencias? Tengo cobertura.", 30),
    ("400100017", 0, "charges", "en",
     "I don't recognise the first charge on the November 2 visit. My son only had his wrist X-rayed.", 6),
    ("400100041", None, "payment_plan", "bg",
     "Не мога да платя цялата сума наведнъж. Може ли разсрочено плащане?", 2),
]


# Disputed charges, through the real services: (statement, line position, reason, language, the patient's words,
# hours ago, and the billing office's decision as (outcome, amount taken off in minor units, what the patient
# reads), or None while it is open).
DISPUTES = [
    ("400100066", 0, "charged_twice", "zh_Hans", "这次心脏科门诊我只去了一次，但账单上好像收了两次初诊费。", 30,
     ("corrected", 2500, "您说得对：初诊费被重复录入了一部分。我们已从这项费用中减免 25.00 美元。")),
    ("400100066", 2, "insurance_should_pay", "zh_Hans", "我的保险应该支付心脏超声检查，为什么全部由我支付？", 5, None),
]


# Financial assistance applications still to decide: (statement, household size, yearly income in minor units,
# language, the patient's words, hours ago).
ASSISTANCE = [
    ("400100041", 2, 2450000, "bg",
     "Пенсионери сме, живеем само с двете пенсии. Болничният престой е твърде скъп за нас.", 26),
]
