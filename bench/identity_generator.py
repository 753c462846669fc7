"""Realistic noisy multi-source customer records with ground truth, for identity resolution.

People own cars, change phones, share a family phone, sell their car to someone else, and
appear in seven systems (dms, erp, insurance, used_car, finance, wecom, mini_program), each
with its own habits: phones typed every which way, Traditional characters from Hong Kong-
built systems, pinyin input-method typos, salutation-only WeCom names ("王先生"), nicknames,
missing fields, addresses with and without province and city. The ``person_id`` column is
the truth the benchmark scores against; the engines never see it.

    .venv/bin/python bench/identity_generator.py --records 100000 --out bench/var/identity-100000.parquet

Same seed, same records.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import random
import string
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from faker.providers.person.zh_CN import Provider as NameProvider
from opencc import OpenCC

from drivetrain.kit.idcard import make_id_number
from drivetrain.kit.names import pinyin_key
from drivetrain.kit.plate import PROVINCES
from drivetrain.kit.vin import make_vin

SEED = 2026
COLUMNS = (
    "record_id",
    "source",
    "name",
    "phone",
    "vin",
    "address",
    "city",
    "wechat_id",
    "id_number",
    "email",
    "plate",
    "person_id",
)
SOURCES = {  # share of records
    "dms": 0.24,
    "erp": 0.11,
    "insurance": 0.17,
    "used_car": 0.06,
    "finance": 0.08,
    "wecom": 0.18,
    "mini_program": 0.16,
}
# Probability that each source fills a field (when the person has a value for it).
FILL = {
    "dms": {"phone": 0.97, "vin": 0.9, "address": 0.7, "city": 0.95, "plate": 0.6, "email": 0.05},
    "erp": {"phone": 0.95, "vin": 0.7, "address": 0.5, "city": 0.9, "email": 0.2},
    "insurance": {"phone": 0.95, "vin": 0.97, "address": 0.6, "city": 0.95, "plate": 0.9, "id_number": 0.9},
    "used_car": {"phone": 0.95, "vin": 0.98, "city": 0.8, "plate": 0.5},
    "finance": {"phone": 0.98, "vin": 0.8, "address": 0.8, "city": 0.95, "id_number": 0.95, "email": 0.3},
    "wecom": {"phone": 0.55, "wechat_id": 1.0, "city": 0.5},
    "mini_program": {"phone": 0.9, "wechat_id": 1.0, "address": 0.3, "city": 0.7},
}
TRADITIONAL_SHARE = {"erp": 0.25, "insurance": 0.1, "finance": 0.1}  # systems built for HK/TW
# (province, city, [(district, adcode)]) — cities weighted by rough car ownership.
GEOGRAPHY = [
    (
        "北京市",
        "北京市",
        [("朝阳区", "110105"), ("海淀区", "110108"), ("丰台区", "110106"), ("昌平区", "110114")],
        9,
    ),
    (
        "上海市",
        "上海市",
        [("浦东新区", "310115"), ("闵行区", "310112"), ("徐汇区", "310104"), ("宝山区", "310113")],
        8,
    ),
    (
        "广东省",
        "广州市",
        [("天河区", "440106"), ("白云区", "440111"), ("番禺区", "440113"), ("海珠区", "440105")],
        7,
    ),
    (
        "广东省",
        "深圳市",
        [("南山区", "440305"), ("福田区", "440304"), ("宝安区", "440306"), ("龙岗区", "440307")],
        7,
    ),
    ("重庆市", "重庆市", [("渝北区", "500112"), ("江北区", "500105"), ("九龙坡区", "500107")], 7),
    ("四川省", "成都市", [("武侯区", "510107"), ("锦江区", "510104"), ("郫都区", "510117")], 7),
    ("浙江省", "杭州市", [("西湖区", "330106"), ("余杭区", "330110"), ("萧山区", "330109")], 6),
    ("江苏省", "苏州市", [("姑苏区", "320508"), ("吴中区", "320506"), ("昆山市", "320583")], 6),
    ("江苏省", "南京市", [("鼓楼区", "320106"), ("江宁区", "320115"), ("玄武区", "320102")], 5),
    ("湖北省", "武汉市", [("洪山区", "420111"), ("江汉区", "420103"), ("武昌区", "420106")], 5),
    ("陕西省", "西安市", [("雁塔区", "610113"), ("未央区", "610112"), ("长安区", "610116")], 5),
    ("河南省", "郑州市", [("金水区", "410105"), ("二七区", "410103"), ("中原区", "410102")], 5),
    ("山东省", "青岛市", [("市南区", "370202"), ("黄岛区", "370211"), ("崂山区", "370212")], 4),
    ("天津市", "天津市", [("南开区", "120104"), ("河西区", "120103"), ("滨海新区", "120116")], 4),
    ("湖南省", "长沙市", [("岳麓区", "430104"), ("雨花区", "430111"), ("开福区", "430105")], 4),
    ("河北省", "石家庄市", [("长安区", "130102"), ("裕华区", "130108")], 3),
    ("福建省", "厦门市", [("思明区", "350203"), ("湖里区", "350206")], 3),
    ("安徽省", "合肥市", [("蜀山区", "340104"), ("包河区", "340111")], 3),
    ("辽宁省", "沈阳市", [("和平区", "210102"), ("浑南区", "210112")], 3),
    ("云南省", "昆明市", [("五华区", "530102"), ("盘龙区", "530103")], 2),
]
ROAD_WORDS = list("人民建设解放中山新华和平文化胜利友谊光明幸福长江黄河东风青年朝阳府前学院科技创业滨江金沙")
ROAD_SUFFIXES = ["路", "街", "大道", "大街"]
ESTATES = [
    "阳光花园",
    "锦绣华府",
    "翠湖名都",
    "盛世家园",
    "绿地新城",
    "金地名苑",
    "万科城",
    "碧桂园",
    "御景湾",
    "凯旋门",
]
NICKNAMES = ["Tony", "Jack", "Amy", "Lucy", "Kevin", "小太阳", "快乐每一天", "风", "A建材老李", "🌸", "Mr.Z"]
# Faker's given names are single characters and whole two-character names; single
# characters are also combined, as most given names today have two.
GIVEN_NAMES = {
    "M": [*NameProvider.first_names_male, *"建国志强俊杰浩宇子轩博文天佑家豪"],
    "F": [*NameProvider.first_names_female, *"欣怡梓涵诗雨婉婷佳琪思彤语嫣"],
}
GIVEN_CHARS = {gender: [name for name in names if len(name) == 1] for gender, names in GIVEN_NAMES.items()}
MOBILE_PREFIXES = [
    *(
        [
            "130",
            "131",
            "132",
            "133",
            "134",
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "151",
            "152",
            "153",
            "155",
            "156",
            "157",
            "158",
            "159",
        ]
    ),
    *(
        [
            "166",
            "170",
            "171",
            "173",
            "175",
            "176",
            "177",
            "178",
            "180",
            "181",
            "182",
            "183",
            "184",
            "185",
            "186",
            "187",
            "188",
            "189",
            "191",
            "198",
            "199",
        ]
    ),
]
WMI_AND_VDS = [
    ("LVS", "HZ8E6"),
    ("LFV", "2A21K"),
    ("LSG", "PC5E5"),
    ("LHG", "RU583"),
    ("LVG", "BE40K"),
    ("LGW", "EF4A1"),
]
YEAR_CODES = "DEFGHJKLMNP"  # 2013-2023


@dataclass
class Person:
    person_id: int
    name: str
    gender: str
    surname: str
    phone: str
    old_phone: str | None
    family_phone: str | None = None
    vins: list[str] = field(default_factory=list)
    plates: dict[str, str] = field(default_factory=dict)
    address: tuple[str, str, str, str] = ("", "", "", "")  # province, city, district, street
    id_number: str | None = None
    wechat_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


class Generator:
    """Draws people, then their records; all randomness from one seeded ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.surnames = list(NameProvider.last_names)
        self.surname_weights = list(itertools.accumulate(NameProvider.last_names.values()))
        self.geo_weights = list(itertools.accumulate(weight for *_, weight in GEOGRAPHY))
        self.to_traditional = OpenCC("s2t")
        self.homophones = _homophones(GIVEN_CHARS["M"] + GIVEN_CHARS["F"] + self.surnames[:200])
        self.serial = 0

    def people(self, count: int) -> list[Person]:
        """Persons, then families sharing a phone, then cars resold from one person to another."""
        people = [self._person(index) for index in range(count)]
        self._share_family_phones(people)
        self._resell_cars(people)
        return people

    def _person(self, person_id: int) -> Person:
        rng = self.rng
        gender = rng.choice("MF")
        surname = rng.choices(self.surnames, cum_weights=self.surname_weights)[0]
        given = rng.choice(GIVEN_NAMES[gender])
        if len(given) == 1 and rng.random() < 0.6:
            given += rng.choice(GIVEN_CHARS[gender])
        province, city, districts, _ = rng.choices(GEOGRAPHY, cum_weights=self.geo_weights)[0]
        district, adcode = rng.choice(districts)
        person = Person(
            person_id=person_id,
            name=surname + given,
            gender=gender,
            surname=surname,
            phone=self._mobile(),
            old_phone=self._mobile() if rng.random() < 0.15 else None,
            address=(province, city, district, self._street()),
        )
        person.vins = [self._vin() for _ in range(rng.choices([0, 1, 2], [0.08, 0.77, 0.15])[0])]
        person.plates = {vin: self._plate() for vin in person.vins}
        if rng.random() < 0.8:
            birth = datetime.date(rng.randint(1955, 2003), rng.randint(1, 12), rng.randint(1, 28))
            person.id_number = make_id_number(adcode, birth, rng.randrange(0, 999, 2) + (gender == "M"))
        if rng.random() < 0.6:  # some keep a second (work) WeChat account
            person.wechat_ids = [self._wechat_id() for _ in range(1 + (rng.random() < 0.06))]
        if rng.random() < 0.35:
            person.emails = [self._email() for _ in range(1 + (rng.random() < 0.15))]
        return person

    def _wechat_id(self) -> str:
        return "o" + "".join(self.rng.choices(string.ascii_letters + string.digits + "-_", k=27))

    def _email(self) -> str:
        return f"{self.rng.randint(10000, 3999999999)}@{self.rng.choice(['qq.com', '163.com', '126.com'])}"

    def _share_family_phones(self, people: list[Person]) -> None:
        """12% of people share a household phone with a spouse (other surname) or a
        parent or child (same surname): the classic false merge on "same phone"."""
        rng = self.rng
        for person in rng.sample(people, k=len(people) * 6 // 100):
            partner = rng.choice(people)
            if partner is person:
                continue
            if rng.random() < 0.35:  # parent / child keep the surname
                partner.name = person.surname + partner.name[len(partner.surname) :]
                partner.surname = person.surname
            partner.family_phone = person.phone
            partner.address = person.address

    def _resell_cars(self, people: list[Person]) -> None:
        """6% of cars change hands: the next owner's records carry the same VIN."""
        rng = self.rng
        for seller in rng.sample(people, k=len(people) * 6 // 100):
            if seller.vins:
                buyer = rng.choice(people)
                if buyer is not seller:
                    vin = seller.vins[0]
                    buyer.vins.append(vin)
                    buyer.plates[vin] = seller.plates[vin] if rng.random() < 0.3 else self._plate()

    def records(self, people: list[Person], count: int) -> dict[str, list[object]]:
        """``count`` records over ``people``: every person appears at least once; the rest
        go to people with a skewed appetite (a few customers are in every system)."""
        rng = self.rng
        sources = list(SOURCES)
        source_weights = list(itertools.accumulate(SOURCES.values()))
        owners = list(range(len(people)))
        activity = [min(rng.paretovariate(2.0), 12.0) for _ in people]
        owners += rng.choices(range(len(people)), activity, k=count - len(people))
        rng.shuffle(owners)
        columns: dict[str, list[object]] = {name: [] for name in COLUMNS}
        for index, owner in enumerate(owners):
            person = people[owner]
            source = rng.choices(sources, cum_weights=source_weights)[0]
            row = self._record(person, source)
            row["record_id"] = f"R{index:08d}"
            for name in COLUMNS:
                columns[name].append(row.get(name))
        return columns

    def _record(self, person: Person, source: str) -> dict[str, object]:
        rng = self.rng
        fill = FILL[source]

        def has(column: str) -> bool:
            return rng.random() < fill.get(column, 0.0)

        row: dict[str, object] = {"source": source, "person_id": person.person_id}
        row["name"] = self._name(person, source)
        if has("phone"):
            row["phone"] = self._phone_text(self._phone_of(person, source))
        vins = person.vins if source == "used_car" else person.vins[: 1 + (rng.random() < 0.3)]
        if vins and has("vin"):
            vin = rng.choice(vins) if source != "used_car" else vins[-1]
            row["vin"] = self._vin_text(vin)
            if has("plate"):
                row["plate"] = person.plates[vin]
        if has("address"):
            row["address"] = self._address_text(person.address)
        if has("city"):
            city = person.address[1]
            row["city"] = city if rng.random() < 0.7 else city.removesuffix("市")
        if source in ("wecom", "mini_program") and not person.wechat_ids:
            person.wechat_ids.append(self._wechat_id())  # reaching us there means having WeChat
        if person.wechat_ids and has("wechat_id"):
            row["wechat_id"] = rng.choice(person.wechat_ids)
        if person.id_number and has("id_number"):
            row["id_number"] = self._id_text(person.id_number)
        if person.emails and has("email"):
            email = rng.choice(person.emails)
            row["email"] = email if rng.random() < 0.9 else email.upper()
        return row

    def _name(self, person: Person, source: str) -> str | None:
        rng = self.rng
        draw = rng.random()
        if source == "wecom":
            if draw < 0.4:
                return person.surname + rng.choice(_titles(person.gender))
            if draw < 0.5:
                return rng.choice(NICKNAMES)
        elif source == "mini_program" and draw < 0.3:
            return rng.choice(NICKNAMES) if draw < 0.25 else None
        elif draw < 0.02:
            return None
        name = person.name
        noise = rng.random()
        if noise < 0.04:
            name = self._homophone_typo(name)
        elif noise < 0.05:
            name = name[:-1] + rng.choice(GIVEN_CHARS[person.gender])  # wrong character
        elif noise < 0.08:
            name = name[: len(person.surname)] + " " + name[len(person.surname) :]
        if rng.random() < TRADITIONAL_SHARE.get(source, 0.02):
            name = self.to_traditional.convert(name)
        return name

    def _phone_of(self, person: Person, source: str) -> str:
        if person.family_phone and self.rng.random() < 0.75:
            return person.family_phone
        if person.old_phone and source in ("dms", "erp", "insurance") and self.rng.random() < 0.5:
            return person.old_phone
        return person.phone

    def _phone_text(self, phone: str) -> str:
        """One number, typed the many ways people type it (and occasionally mistyped)."""
        rng = self.rng
        if rng.random() < 0.01:
            position = rng.randrange(3, 11)
            phone = phone[:position] + str(rng.randrange(10)) + phone[position + 1 :]
        a, b, c = phone[:3], phone[3:7], phone[7:]
        formats: list[Callable[[], str]] = [
            lambda: phone,
            lambda: f"{a} {b} {c}",
            lambda: f"{a}-{b}-{c}",
            lambda: f"+86 {a} {b} {c}",
            lambda: f"+86{phone}",
            lambda: f"86{phone}",
            lambda: f"0086 {phone}",
            lambda: f"(+86) {a}-{b}-{c}",
            lambda: phone.translate(_FULL_WIDTH),
        ]
        weights = [40, 12, 12, 8, 8, 8, 4, 4, 4]
        return rng.choices(formats, weights)[0]()

    def _id_text(self, id_number: str) -> str:
        """Lower-case x, spaces after the region and birth date, one digit mistyped."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.01:
            position = rng.randrange(14, 17)
            return id_number[:position] + str(rng.randrange(10)) + id_number[position + 1 :]
        if draw < 0.05:
            return f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"
        return id_number.lower()

    def _vin_text(self, vin: str) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < 0.01:
            position = rng.randrange(11, 17)
            return vin[:position] + rng.choice("0123456789") + vin[position + 1 :]
        if draw < 0.06:
            return vin.lower()
        if draw < 0.1:
            return f"{vin[:3]} {vin[3:9]} {vin[9:]}"
        return vin

    def _address_text(self, address: tuple[str, str, str, str]) -> str:
        """Province and city often dropped, municipalities written once, numbers full-width."""
        rng = self.rng
        province, city, district, street = address
        head = province + city if province != city else city
        draw = rng.random()
        if draw < 0.35:
            prefix = city + district
        elif draw < 0.45:
            prefix = district
        elif draw < 0.5:
            prefix = head
        else:
            prefix = head + district
        text = prefix + street
        if rng.random() < 0.05:
            text = text.translate(_FULL_WIDTH)
        if rng.random() < 0.05:
            text = self.to_traditional.convert(text)
        return text

    def _street(self) -> str:
        rng = self.rng
        road = "".join(rng.sample(ROAD_WORDS, 2)) + rng.choice(ROAD_SUFFIXES) + f"{rng.randint(1, 999)}号"
        if rng.random() < 0.6:
            road += f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 3)}0{rng.randint(1, 9)}室"
        return road

    def _mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def _vin(self) -> str:
        self.serial += 1
        wmi, vds = self.rng.choice(WMI_AND_VDS)
        return make_vin(
            wmi, vds, self.rng.choice(YEAR_CODES), self.rng.choice("ABCDEFGH"), f"{self.serial:06d}"[-6:]
        )

    def _plate(self) -> str:
        rng = self.rng
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        return (
            rng.choice(PROVINCES)
            + rng.choice(letters)
            + "".join(rng.choices(letters[:8] + "0123456789", k=5))
        )

    def _homophone_typo(self, name: str) -> str:
        """Replace a character by another with the same pinyin, as an input method would."""
        position = self.rng.randrange(len(name))
        options = self.homophones.get(name[position])
        if not options:
            return name
        return name[:position] + self.rng.choice(options) + name[position + 1 :]


_FULL_WIDTH = str.maketrans("0123456789-+() ", "０１２３４５６７８９－＋（）\u3000")


def _titles(gender: str) -> list[str]:
    common = ["总", "经理", "老师"]
    return (["先生"] * 6 if gender == "M" else ["女士"] * 4 + ["小姐"] * 2) + common


def _homophones(chars: list[str]) -> dict[str, list[str]]:
    by_sound: dict[str, set[str]] = defaultdict(set)
    for char in chars:
        by_sound[pinyin_key(char)].add(char)
    return {char: sorted(by_sound[pinyin_key(char)] - {char}) for char in set(chars)}


def generate(records: int, seed: int = SEED) -> pa.Table:
    """``records`` records of about ``records / 2.5`` people, as an Arrow table."""
    generator = Generator(seed)
    people = generator.people(max(1, records * 2 // 5))
    columns = generator.records(people, records)
    schema = pa.schema([(name, pa.int64() if name == "person_id" else pa.string()) for name in COLUMNS])
    return pa.table(columns, schema=schema)


def write(records: int, out: Path, seed: int = SEED) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(generate(records, seed), out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    write(args.records, args.out, args.seed)
    print(f"wrote {args.records:,} records to {args.out}")


if __name__ == "__main__":
    main()
