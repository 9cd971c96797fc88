#!/usr/bin/env python3
"""Phone numbers as libphonenumber reads them: the oracle of tests/api/phones.rs.

Usage: python3 libphonenumber.py SEED N_MAIN N_OTHER
prints lines REGION<TAB>INPUT<TAB>EXPECTED<TAB>KIND: hand-picked inputs, then N_MAIN
generated inputs for each of the main regions and N_OTHER for every other region
libphonenumber knows, seeded. EXPECTED is what libphonenumber makes of INPUT written
in REGION: `phonenumbers.parse(INPUT, REGION)`, kept when `is_possible_number`, as
E.164 digits without `+`; `invalid` when the parse fails or the number is not
possible (CONTRACT section 6).

`phonenumbers` is pinned to 9.0.33, the libphonenumber release whose metadata the
`phonenumber` crate callsheet reads was built from (its version's build metadata).

Left out of the inputs, where CONTRACT section 6 differs from libphonenumber on
purpose: letters (libphonenumber reads vanity letters as digits; callsheet refuses
them), extensions (`x`, `ext`, `#`, and `~` which libphonenumber reads as one), the
separators `,` `;` `/` and newlines (callsheet splits a cell there), a numeric
cell's zero fraction (`.0`), and tabs and the typographic spaces U+2000-U+200A
(spaces to callsheet, not to libphonenumber).
"""
import sys, random, re, itertools
import phonenumbers as P
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers import PhoneMetadata as M, PhoneNumberType as T

assert P.__version__ == "9.0.33", "phonenumbers 9.0.33 is needed, found " + P.__version__

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 20240611
N_MAIN = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
N_OTHER = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = random.Random(SEED)

MAIN = ("VN US GB DE FR IN JP AU BR CN SG TH ID PH KR IT ES RU MX CA "
        "AR HU NU SH TK VA XK AC KZ NZ").split()
NONGEO = sorted(P.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
TYPES = [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP,
         T.PERSONAL_NUMBER, T.PAGER, T.UAN, T.VOICEMAIL]

FW = {c: chr(0xFF10 + int(c)) for c in "0123456789"}        # full-width digits
AR_IN = {c: chr(0x0660 + int(c)) for c in "0123456789"}     # arabic-indic digits
SEPS_PLAIN = [" ", ".", "-"]
SEPS_UNUSUAL = ["\u2013", "\u2014", "\u2010", "\u2212", "\u00a0", "\u3000",
                "\uff0d", "\u30fc", "\u00ad", "\u200b"]   # no ~ / ～: libphonenumber extension labels
PLUS_UNUSUAL = ["\uff0b"]
SLASH_FW = ["\uff0f"]

def examples(region=None, cc=None):
    out = []
    for t in TYPES:
        n = P.example_number_for_type(region, t) if region else None
        if n is not None:
            out.append(P.national_significant_number(n))
    if cc:
        n = P.example_number_for_non_geo_entity(cc)
        if n is not None:
            out.append(P.national_significant_number(n))
    return out or ["1234567"]

def idd_candidates(md):
    pat = md.international_prefix
    if not pat:
        return []
    rx = re.compile(pat)
    res = []
    for L in range(2, 5):
        for t in itertools.product("0123456789", repeat=L):
            s = "".join(t)
            if rx.fullmatch(s):
                res.append(s)
    if md.preferred_international_prefix:
        res.insert(0, md.preferred_international_prefix.replace("~", ""))
    return res[:40]

def rand_digits(k):
    return "".join(rng.choice("0123456789") for _ in range(k))

def nsn_for(md, exs):
    """A national significant number: example-based, length-varied or random."""
    lens = sorted(set(md.general_desc.possible_length) | set(md.general_desc.possible_length_local_only))
    lens = [l for l in lens if l > 0] or [8]
    r = rng.random()
    ex = rng.choice(exs)
    if r < 0.35:   # example with a randomized tail
        k = rng.randint(1, max(1, len(ex) - 1))
        return ex[:len(ex) - k] + rand_digits(k)
    if r < 0.75:   # example prefix, length from possible lengths +-1/2
        L = rng.choice(lens) + rng.choice([0, 0, 0, 0, -1, 1, -2, 2])
        keep = min(rng.randint(1, 3), len(ex), max(L, 1))
        return ex[:keep] + rand_digits(max(0, L - keep))
    if r < 0.9:    # random digits around possible lengths
        L = max(1, rng.choice(lens) + rng.choice([0, -1, 1]))
        return rand_digits(L)
    return rand_digits(rng.randint(1, 19))

def punctuate(d, unusual=False):
    """Insert separators into a digit string; maybe parentheses around the first group."""
    if len(d) < 3:
        return d
    out = []
    seps = SEPS_PLAIN + (SEPS_UNUSUAL if unusual else [])
    sep = rng.choice(seps)
    cuts = sorted(rng.sample(range(1, len(d)), k=min(len(d) - 1, rng.randint(1, 4))))
    prev = 0
    groups = []
    for c in cuts + [len(d)]:
        groups.append(d[prev:c]); prev = c
    if rng.random() < 0.25 and len(groups) > 1:
        groups[0] = "(" + groups[0] + ")"
    if rng.random() < 0.3:   # mixed separators
        return "".join(g + (rng.choice(seps) if i < len(groups) - 1 else "") for i, g in enumerate(groups))
    return sep.join(groups)

def decorate(s_parts, plus=""):
    """s_parts: list of digit chunks (e.g. [idd, cc, np, nsn]); returns a decorated string."""
    r = rng.random()
    digits = "".join(s_parts)
    if r < 0.3:
        body = digits
        cat = "plain"
    elif r < 0.6:
        body = " ".join(punctuate(p) if len(p) > 3 else p for p in s_parts if p)
        cat = "punct"
    elif r < 0.75:
        body = punctuate(digits)
        cat = "punct"
    elif r < 0.87:
        body = punctuate(digits, unusual=True)
        cat = "unusual-punct"
    elif r < 0.94:
        body = "".join(FW[c] for c in digits)
        if rng.random() < 0.5:
            body = punctuate(body)
        cat = "fullwidth-digits"
    else:
        body = digits
        cat = "plain"
    if plus:
        if rng.random() < 0.08:
            plus = rng.choice(PLUS_UNUSUAL); cat += "+fwplus"
        body = plus + body
    if rng.random() < 0.1:
        ws = rng.choice([" ", "  ", "\u00a0", "\u3000"])
        body = (ws if rng.random() < 0.7 else "") + body + (ws if rng.random() < 0.7 else "")
        cat += "+ws"
    return body, cat

def ok(s):
    # deliberate differences: letters, extensions (x ext # and the extension labels ~ ～),
    # cell separators , ; / newlines, a numeric-cell fraction (.0, .00 ...)
    if re.search(r"[A-Za-z#,;/\n\r\t~\uff5e\uff58\uff03\u2000-\u200a]", s): return False
    if re.search(r"\.0+\s*$", s.strip()): return False
    return True

def gen_region(R, n, out):
    md = M.metadata_for_region(R)
    cc = str(md.country_code)
    np_ = md.national_prefix or ""
    idds = idd_candidates(md)
    exs = examples(R)
    others = [r for r in MAIN if r != R]
    made = 0
    while made < n:
        nsn = nsn_for(md, exs)
        r = rng.random()
        plus = ""
        if r < 0.2 and np_:
            parts, form = [np_, nsn], "national+prefix"
        elif r < 0.35:
            parts, form = [nsn], "national"
        elif r < 0.5:
            parts, form = [cc, nsn], "cc-noplus"
        elif r < 0.68:
            parts, form, plus = [cc, nsn], "plus-cc", "+"
        elif r < 0.76 and idds:
            parts, form = [rng.choice(idds[:3] if rng.random() < .8 else idds), cc, nsn], "idd-cc"
        elif r < 0.8 and np_:
            parts, form, plus = [cc, np_, nsn], "plus-cc-np", "+"
        elif r < 0.83 and np_:
            parts, form = [cc, np_, nsn], "cc-np-noplus"
        elif r < 0.86:
            parts, form = ["0" * rng.randint(1, 3), nsn], "leading-zeros"
        elif r < 0.93:   # another country's number written with +CC (or IDD) under this region
            if rng.random() < 0.25:
                occ = rng.choice(NONGEO); omd = M.metadata_for_nongeo_region(occ)
                oexs = examples(cc=occ); ocstr = str(occ)
            else:
                oreg = rng.choice(others); omd = M.metadata_for_region(oreg)
                oexs = examples(oreg); ocstr = str(omd.country_code)
            onsn = nsn_for(omd, oexs)
            if rng.random() < 0.8 or not idds:
                parts, form, plus = [ocstr, onsn], "foreign-plus-cc", "+"
            else:
                parts, form = [idds[0], ocstr, onsn], "foreign-idd-cc"
        elif r < 0.96:   # national part starting with the country code digits
            parts, form = [cc + nsn[len(cc):] if len(nsn) > len(cc) else cc + nsn], "nsn-starts-with-cc"
            if rng.random() < 0.5:
                parts = [cc] + parts; form = "cc+nsn-starts-with-cc"
        else:
            parts, form = [rand_digits(rng.randint(1, 20))], "random-digits"
        s, cat = decorate(parts, plus)
        if not ok(s) or not s.strip():
            continue
        emit(out, R, s, f"{form}/{cat}")
        made += 1

HAND = {
 "VN": ["0901234567", "84901234567", "+84 901 234 567", "901234567", "+1 650 253 0000",
        "0654521598", "0976.555.406", "(024) 3826-1234", "84841234567", "8484123456",
        "848412345678", "84 84 1234567", "+84 84 1234567", "+84 0901234567", "84 0901234567",
        "0084 901 234 567", "00 84 901234567", "+84 (0) 901 234 567", " 0901234567 ",
        "\u00a00901234567\u00a0", "0901234567.", "0901234567-", "-0901234567", "(0901234567",
        "0901234567)", "++84901234567", "+ 84 901 234 567", "(+84) 901 234 567", "+(84)901234567",
        "84+901234567", "090 123 456", "09012345678", "090123456789", "0", "+", "", " ",
        "84", "+84", "0901\u20131234\u201367", "０９０１２３４５６７", "＋８４９０１２３４５６７",
        "\u0660\u0669\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
        "0901\uff0f234567", "[0901]234567", "0901*234567", "0901~234567", "0901\u200b234567",
        "0901..234..567", "0901--234--567", "0901  234  567", "((090)) 1234567", "090)1234(567",
        "+800 1234 5678", "+808 1234 5678", "+870 773 111 632", "+882 3456 7890 12", "+883 5100 1234",
        "+979 1 234 5678", "+888 123 456 789 012", "+878 1012 3456 7890", "+881 6 1234 5678",
        "00800 1234 5678", "80012345678", "+39 02 1234 5678", "+39 312 345 6789", "+7 912 345 67 89",
        "+44 (0)20 7031 3000", "+33 (0)6 12 34 56 78", "+54 9 11 1234 5678", "+52 1 55 1234 5678",
        "+52 55 1234 5678", "+683 4002", "+290 22158", "+690 3010", "+383 44 123 456", "+247 6889",
        "+1 242 359 1234", "+1 2530000", "+62 812 3456 7890", "+86 138 1234 5678", "123", "12",
        "99999999999999999", "999999999999999999", "0" * 20, "1" * 30, "+84" + "9" * 17, "+84" + "9" * 18,
        "0000901234567", "00901234567", "840901234567", "8400901234567",
        # What lists paste around a number: quotes, a byte-order mark, bidi marks, stray signs.
        "\"0901234567\"", "'0901234567", "\ufeff0901234567", "\u200e0901234567", "0901234567\u200f",
        "_0901234567", "0901234567+", "0901234567!", "0901234567:", ":0901234567", "*0901234567*",
        "(+84) 901234567.", "<0901234567>", "0901234567 ;",
        # Digits of other scripts: Devanagari, Thai, Bengali, Myanmar.
        "\u0966\u096f\u0966\u0967\u0968\u0969\u096a\u096b\u096c\u096d",
        "\u0e50\u0e59\u0e50\u0e51\u0e52\u0e53\u0e54\u0e55\u0e56\u0e57",
        "+\u09ee\u09ea \u09ef\u09e6\u09e7 \u09e8\u09e9\u09ea \u09eb\u09ec\u09ed",
        "\u1040\u1049\u1040\u1041\u1042\u1043\u1044\u1045\u1046\u1047"],
 "US": ["1 650 253 0000", "650-253-0000", "(650) 253-0000", "6502530000", "16502530000",
        "+1 650 253 0000", "011 84 901 234 567", "011 44 20 7031 3000", "253-0000", "2530000",
        "1 253 0000", "+1 253 0000", "001 650 253 0000", "0116502530000", "1 (650) 253 0000",
        "1-800-555-0199", "650 253 00000", "650 253 000", "0650 253 0000", "11 650 253 0000",
        "+1 1 650 253 0000", "+11 650 253 0000", "011 1 650 253 0000"],
 "CA": ["416 555 0123", "1 416 555 0123", "011 84 901 234 567", "555 0123"],
 "AU": ["0011 84 901234567", "04 1234 5678", "0412 345 678", "+61 4 1234 5678", "61 412 345 678",
        "0011 61 412 345 678", "1831 04 1234 5678", "1832 02 9876 5432", "02 9876 5432", "9876 5432",
        "0014 84 901234567", "14110011 84901234567"],
 "JP": ["010 84 901234567", "090-1234-5678", "03-1234-5678", "+81 90 1234 5678", "81 90 1234 5678",
        "0081 90 1234 5678", "000212345678", "0037680 90 1234 5678", "0120-123-456", "0570-000-000"],
 "RU": ["8 912 345 67 89", "8 10 1 650 253 0000", "810 84 901234567", "8 (10) 84 901234567",
        "+7 912 345 67 89", "7 912 345 67 89", "89123456789", "79123456789", "9123456789",
        "8 800 555 35 35", "345 67 89", "8 495 123 45 67", "00 7 912 345 67 89", "7 8 912 345 67 89"],
 "HU": ["06 1 234 5678", "06 30 123 4567", "06-30-123-4567", "+36 30 123 4567", "36 30 123 4567",
        "0036 30 123 4567", "30 123 4567", "1 234 5678", "123 4567", "06 1 234 567", "+36 06 30 123 4567"],
 "IT": ["02 1234 5678", "+39 02 1234 5678", "3123456789", "0039 06 1234 5678", "06 698 12345",
        "39 02 1234 5678", "390212345678", "0212345678", "02 123", "+39 06 698 12345", "312 345 678",
        "0 312 345 6789", "+39 0 312 345 6789", "3912345678", "39 312 345 6789", "0039 312 345 6789"],
 "VA": ["06 698 12345", "+39 06 698 12345", "+379 06 698 12345", "3123456789", "0669812345"],
 "AR": ["011 15 1234 5678", "011 15-1234-5678", "0 11 15 1234 5678", "11 15 1234 5678",
        "+54 9 11 1234 5678", "54 9 11 1234 5678", "+54 11 1234 5678", "11 1234 5678",
        "0 11 1234 5678", "9 11 1234 5678", "0351 15 123 4567", "351 15 123 4567", "15 1234 5678",
        "0054 9 11 1234 5678"],
 "MX": ["+52 1 55 1234 5678", "52 1 55 1234 5678", "+52 55 1234 5678", "55 1234 5678",
        "044 55 1234 5678", "045 55 1234 5678", "01 55 1234 5678", "1 55 1234 5678",
        "00 52 55 1234 5678", "09 52 55 1234 5678", "1234 5678", "123 4567", "01 800 123 4567"],
 "BR": ["0 21 11 98765 4321", "021 11 98765 4321", "0 xx", "11 98765 4321", "011 98765 4321",
        "+55 11 98765 4321", "55 11 98765 4321", "0055 11 98765 4321", "0021 55 11 98765 4321",
        "90 21 11 98765 4321", "98765 4321", "3 11 98765 4321"],
 "GB": ["020 7031 3000", "+44 (0)20 7031 3000", "07700 900123", "44 7700 900123", "0044 7700 900123",
        "7031 3000", "+44 7700 900123", "180020 020 7031 3000", "07700 90012", "07700 9001234",
        "0800 123 4567", "0800 1111"],
 "DE": ["030 123456", "+49 30 123456", "49 30 123456", "0049 30 123456", "0151 12345678",
        "030 1234567890123", "030 12", "01511234567890", "+49 (0)30 123456"],
 "FR": ["06 12 34 56 78", "+33 (0)6 12 34 56 78", "33 6 12 34 56 78", "0033 6 12 34 56 78",
        "6 12 34 56 78", "06.12.34.56.78", "06 12 34 56 7", "06 12 34 56 789"],
 "IN": ["09876543210", "098765 43210", "+91 98765 43210", "91 9876543210", "919876543210",
        "9876543210", "0091 98765 43210", "011 2345 6789", "2345 6789", "0 91 98765 43210"],
 "CN": ["13812345678", "+86 138 1234 5678", "86 13812345678", "010 1234 5678", "0086 10 1234 5678",
        "17951 010 1234 5678", "12593 13812345678", "1234 5678", "12345"],
 "KR": ["010-1234-5678", "02-123-4567", "+82 10 1234 5678", "82 10 1234 5678", "001 84 901234567",
        "00700 84 901234567", "0082 10 1234 5678", "08 1 02 123 4567", "123-4567"],
 "SG": ["9123 4567", "+65 9123 4567", "65 9123 4567", "6591234567", "001 84 901234567", "800 123 4567"],
 "TH": ["081 234 5678", "+66 81 234 5678", "66 81 234 5678", "02 123 4567", "001 84 901234567"],
 "ID": ["0812 3456 7890", "+62 812 3456 7890", "62 812 3456 7890", "812 3456 7890", "021 1234 5678",
        "001 84 901234567", "007 84 901234567"],
 "PH": ["0917 123 4567", "+63 917 123 4567", "63 917 123 4567", "917 123 4567", "00 84 901234567"],
 "ES": ["612 34 56 78", "+34 612 34 56 78", "34 612 34 56 78", "0034 612 34 56 78", "91 123 45 67"],
 "NU": ["4002", "888 4012", "+683 4002", "683 4002", "6834002", "400", "40021"],
 "SH": ["22158", "+290 22158", "290 22158", "2158", "221589", "+290 51234"],
 "TK": ["3010", "+690 3010", "690 3010", "7290", "72901", "7290123", "301"],
 "XK": ["044 123 456", "+383 44 123 456", "383 44 123 456", "44 123 456", "038 212 345",
        "0038344123456"],
 "AC": ["6889", "+247 6889", "247 6889", "40123", "+247 40123"],
 "KZ": ["8 701 123 4567", "+7 701 123 4567", "7 701 123 4567", "810 84 901234567"],
 "NZ": ["021 123 4567", "+64 21 123 4567", "64 21 123 4567", "00 84 901234567", "09 123 4567"],
}

def oracle(region, s):
    try:
        n = P.parse(s, region)
    except NumberParseException:
        return "invalid"
    if not P.is_possible_number(n):
        return "invalid"
    return P.format_number(n, PhoneNumberFormat.E164).lstrip("+")

def emit(out, region, s, kind):
    out.write(f"{region}\t{s}\t{oracle(region, s)}\t{kind}\n")

def main():
    out = sys.stdout
    for R, lst in HAND.items():
        for s in lst:
            if ok(s):
                emit(out, R, s, "hand")
    for R in MAIN:
        gen_region(R, N_MAIN, out)
    for R in sorted(P.SUPPORTED_REGIONS):
        if R not in MAIN:
            gen_region(R, N_OTHER, out)

if __name__ == "__main__":
    main()
