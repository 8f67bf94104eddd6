"""Name pools by origin, and the organisation and merchant names of the world.

Common given names and surnames only; every combination the generator makes
is invented. Each origin has male and female given names and surnames;
`SURNAME_FIRST` origins write the surname first by custom, `DOUBLE_SURNAME`
origins carry a second (maternal) surname, and `TRANSLITERATIONS` gives other
romanisations a clerk might type.
"""

from __future__ import annotations


def _split(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split("|") if x.strip())


POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        _split("John|James|Robert|Michael|William|David|Richard|Thomas|Mark|Paul|Steven|Kevin|Brian|Gary|Peter|Andrew|Stephen|Daniel|Christopher|Anthony|Kenneth|Ronald|Donald|Gregory|Craig|Wayne|Trevor|Graham|Colin|Neil|Dennis|Roger|Keith|Barry|Gordon|Shane|Darren|Scott|Jeffrey|Timothy"),
        _split("Mary|Patricia|Jennifer|Linda|Elizabeth|Susan|Karen|Sarah|Emma|Jessica|Lisa|Nancy|Helen|Sandra|Donna|Michelle|Laura|Rachel|Claire|Julie|Anne|Margaret|Deborah|Kathleen|Alison"),
        _split("Smith|Johnson|Williams|Brown|Jones|Miller|Davis|Wilson|Anderson|Taylor|Thomas|Moore|Martin|Thompson|White|Harris|Clark|Lewis|Walker|Hall|Allen|Young|King|Wright|Scott|Green|Baker|Adams|Nelson|Hill|Campbell|Mitchell|Roberts|Carter|Phillips|Evans|Turner|Parker|Collins|Edwards|Stewart|Morris|Murphy|Cook|Rogers|O'Brien|McDonald|Kelly|Walsh|Hughes|Price|Bennett|Wood|Barnes|Fletcher|Hayes|Gallagher|Sullivan|Fraser|Reid"),
    ),
    "de": (
        _split("Thomas|Michael|Andreas|Stefan|Jürgen|Klaus|Wolfgang|Frank|Uwe|Matthias|Bernd|Dieter|Günter|Markus|Ralf"),
        _split("Sabine|Petra|Monika|Ursula|Claudia|Andrea|Birgit|Karin|Susanne|Jutta"),
        _split("Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Schäfer|Koch|Bauer|Richter|Klein|Wolf|Schröder|Neumann|Schwarz|Zimmermann|Krüger|Hartmann|Lange|Köhler"),
    ),
    "nl": (
        _split("Jan|Pieter|Henk|Willem|Johannes|Cornelis|Gerrit|Hendrik|Bart|Ruud|Maarten|Sander"),
        _split("Annelies|Maria|Johanna|Anna|Ingrid|Sanne|Marieke|Els"),
        _split("de Vries|van Dijk|Bakker|Jansen|Visser|Smit|de Jong|van den Berg|Meijer|Mulder|de Boer|Vos|Peters|Hendriks"),
    ),
    "fr": (
        _split("Jean|Pierre|Michel|Philippe|Alain|Patrick|Nicolas|François|Éric|Laurent|Frédéric|Stéphane|Thierry|Gérard"),
        _split("Marie|Nathalie|Isabelle|Sylvie|Catherine|Hélène|Valérie|Sophie|Céline|Françoise"),
        _split("Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|Lefèvre|Michel|Roux|Fournier|Girard|Bonnet|Dupont|Lambert|Fontaine|Chevalier"),
    ),
    "nordic": (
        _split("Lars|Anders|Johan|Erik|Per|Mikael|Nils|Magnus|Björn|Ola|Knut|Sven|Henrik|Stefan"),
        _split("Anna|Eva|Karin|Ingrid|Sofie|Kristin|Maria|Lena|Birgitta"),
        _split("Andersson|Johansson|Karlsson|Nilsson|Eriksson|Larsson|Olsson|Persson|Larsen|Hansen|Olsen|Berg|Johansen|Haugen|Lindqvist|Bergström"),
    ),
    "ph": (
        _split("Jose|Juan|Mark|John Paul|Jerome|Jomar|Ronaldo|Romeo|Edgardo|Rogelio|Danilo|Ricardo|Arnel|Joel|Rodel|Jayson|Reynaldo|Ernesto|Noel|Rey|Christian|Jericho|Allan|Marlon"),
        _split("Maria|Ana|Rosa|Rhea|Kristine|Angelica|Marites|Maria Cristina|Lorna|Elena|Jocelyn|Maricel|Rowena|Analyn|Jennylyn|Maria Luisa|Lorena|Marilou|Divina|Rosalie|Jovelyn|Charmaine|Mary Grace|Maria Theresa|Gemma|Lea"),
        _split("Santos|Reyes|Cruz|Bautista|Ocampo|Garcia|Mendoza|Torres|Tomas|Andrada|Castillo|Flores|Villanueva|Ramos|Castro|Rivera|Aquino|Navarro|Salazar|Mercado|Dela Cruz|De Leon|Del Rosario|Gonzales|Lopez|Hernandez|Perez|Fernandez|Domingo|Soriano|Pascual|Manalo|Dizon|Valdez|Aguilar|Santiago|Mariano|Galang|Macaraeg|Pangilinan|Dimaculangan|Magbanua|Tolentino|Evangelista|Sarmiento|Lacson|Villareal|Cabrera|Javier|Buenaventura"),
    ),
    "th": (
        _split("Somchai|Somsak|Sompong|Niran|Anan|Prasert|Kittisak|Wichai|Surachai|Thanakorn|Chaiwat|Narong|Apichat|Pongsak"),
        _split("Malee|Siriporn|Kanya|Nattaya|Pimchanok|Ratana|Suda|Wanida|Chanida|Araya|Kannika|Duangjai|Sunisa|Jintana"),
        _split("Saetang|Srisuk|Wongsawat|Chaiyaporn|Thongchai|Kaewmanee|Boonmee|Sukprasert|Rattanakorn|Phromphan|Suksawat|Jaidee|Srisawat|Chantharat|Inthasorn|Sangthong|Phetsri|Kongkaew|Thammasat|Wongsa"),
    ),
    "es": (
        _split("José|Juan Carlos|Luis|Andrés|Carlos|Jorge|Diego|Alejandro|Santiago|Julián|Óscar|Héctor|Fernando|Camilo|Jhon|Edwin"),
        _split("María|Ana María|Luz Marina|Paola|Daniela|Valentina|Camila|Yolanda|Sandra|Luisa Fernanda|Marisol|Claudia|Yesenia|Ángela|Natalia|Mónica"),
        _split("Rodríguez|Gómez|González|Martínez|García|López|Hernández|Sánchez|Ramírez|Pérez|Díaz|Muñoz|Rojas|Moreno|Jiménez|Vargas|Castro|Gutiérrez|Ortiz|Peña|Ospina|Cárdenas|Restrepo|Quintero|Zapata|Mejía|Álvarez|Ríos"),
    ),
    "in": (
        _split("Rajesh|Suresh|Amit|Sanjay|Vikram|Ravi|Arjun|Rahul|Anil|Deepak|Manoj|Sunil"),
        _split("Priya|Sunita|Anjali|Kavita|Pooja|Neha|Lakshmi|Meena|Deepa|Rekha"),
        _split("Sharma|Patel|Singh|Kumar|Gupta|Reddy|Nair|Iyer|Das|Mehta|Shah|Joshi|Verma|Rao|Pillai|Menon"),
    ),
    "ng": (
        _split("Chinedu|Emeka|Oluwaseun|Tunde|Kwame|Kofi|Yaw|Ibrahim|Chukwuma|Segun|Kwabena|Musa"),
        _split("Ngozi|Chiamaka|Abena|Ama|Funmilayo|Adaeze|Efua|Aisha|Yetunde|Akosua"),
        _split("Okafor|Adeyemi|Okonkwo|Mensah|Boateng|Owusu|Adebayo|Nwosu|Asante|Eze|Bello|Oduya|Appiah|Obi|Afolabi|Danso"),
    ),
    "vn": (
        _split("Minh|Tuan|Hung|Duc|Quang|Thanh|Long|Nam|Khanh|Phong"),
        _split("Linh|Huong|Thao|Lan|Mai|Hoa|Ngoc|Trang|Phuong|Hanh"),
        _split("Nguyễn|Trần|Lê|Phạm|Hoàng|Phan|Vũ|Đặng|Bùi|Đỗ|Hồ|Ngô"),
    ),
    "pl": (
        _split("Piotr|Krzysztof|Andrzej|Tomasz|Paweł|Marcin|Michał|Jan|Grzegorz|Łukasz"),
        _split("Anna|Katarzyna|Małgorzata|Agnieszka|Barbara|Ewa|Joanna|Magdalena"),
        _split("Nowak|Kowalski|Wiśniewski|Wójcik|Kowalczyk|Kamiński|Lewandowski|Zieliński|Szymański|Woźniak|Dąbrowski|Kozłowski"),
    ),
    "cn": (
        _split("Wei|Jun|Hao|Lei|Ming|Jian|Tao|Yong|Kelvin|Jason"),
        _split("Li|Jing|Yan|Xiu|Fang|Mei|Hui|Ling|Grace|Cheryl"),
        _split("Wang|Li|Zhang|Liu|Chen|Yang|Huang|Zhao|Wu|Zhou|Lim|Tan|Wong|Ng|Lee|Goh"),
    ),
    "ar": (
        _split("Mohammed|Ahmed|Abdullah|Khalid|Omar|Faisal|Saud|Hassan|Yousef|Tariq"),
        _split("Fatima|Aisha|Noura|Mariam|Layla|Huda|Reem|Sara"),
        _split("Al-Harbi|Al-Qahtani|Al-Ghamdi|Al-Otaibi|Al-Zahrani|Haddad|Khoury|Al-Mansouri|Al-Shehri|Nasser"),
    ),
    "jp": (
        _split("Hiroshi|Takashi|Kenji|Yuki|Satoshi|Akira|Kazuo|Makoto|Tetsuya|Shinji"),
        _split("Yuko|Keiko|Naoko|Akiko|Emi|Tomoko|Sachiko|Yumi"),
        _split("Sato|Suzuki|Takahashi|Tanaka|Watanabe|Ito|Yamamoto|Nakamura|Kobayashi|Kato|Yoshida|Yamada"),
    ),
    "id": (
        _split("Budi|Agus|Joko|Hendra|Rudi|Wahyu|Eko|Bambang"),
        _split("Siti|Dewi|Sri|Ratna|Fitri|Lestari|Indah|Wulan"),
        _split("Santoso|Wijaya|Hidayat|Saputra|Kusuma|Setiawan|Pratama|Gunawan|Nugroho|Halim"),
    ),
}
ORIGINS: tuple[str, ...] = tuple(POOLS)
ORIGIN_INDEX: dict[str, int] = {o: i for i, o in enumerate(ORIGINS)}

SURNAME_FIRST = frozenset({"vn", "cn", "jp"})
DOUBLE_SURNAME = frozenset({"es"})
MIDDLE_NAME_IS_SURNAME = frozenset({"ph"})  # Filipino middle name = mother's maiden surname
HAS_MIDDLE_NAME = frozenset({"en", "de", "nl", "fr", "nordic", "ph", "in"})

# Other romanisations a clerk might type (Thai especially, but also German umlauts).
TRANSLITERATIONS: dict[str, tuple[str, ...]] = {
    "Somchai": ("Somchay", "Somchaai"), "Wongsawat": ("Wongsawad", "Vongsawat"), "Srisuk": ("Srisook", "Sri-suk"),
    "Boonmee": ("Bunmi", "Boonmi"), "Kaewmanee": ("Kaewmani", "Kaeomanee"), "Jaidee": ("Chaidee", "Jaidi"),
    "Phromphan": ("Promphan",), "Suksawat": ("Suksawad",), "Siriporn": ("Siripon", "Siriphorn"),
    "Nattaya": ("Nathaya", "Natthaya"), "Chanida": ("Chaneeda",), "Prasert": ("Prasoet",),
    "Kittisak": ("Kittisack",), "Rattanakorn": ("Ratanakorn",), "Thongchai": ("Tongchai",),
    "Pimchanok": ("Phimchanok",), "Wichai": ("Vichai",), "Saetang": ("Sae-tang", "Sae Tang"),
    "Müller": ("Mueller", "Muller"), "Schäfer": ("Schaefer", "Schafer"), "Schröder": ("Schroeder",),
    "Krüger": ("Krueger",), "Köhler": ("Koehler",), "Jürgen": ("Juergen",), "Günter": ("Guenter", "Gunther"),
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad"), "Yousef": ("Youssef", "Yusuf"),
    "Jocelyn": ("Joselyn",), "Maricel": ("Marisel",), "Jennylyn": ("Jenelyn",), "Rowena": ("Roweena",),
    "Jhon": ("John",), "Yesenia": ("Jesenia",), "Zhou": ("Chou",), "Huang": ("Wong",),
}

# Filipino usage: "Ma." abbreviates Maria in a compound given name.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "Maria Cristina": ("Ma. Cristina", "Ma Cristina"), "Maria Luisa": ("Ma. Luisa", "Ma Luisa"),
    "Maria Theresa": ("Ma. Theresa", "Ma Theresa"), "Maria": ("Ma.",), "John Paul": ("JP", "Jhon Paul"),
    "Mary Grace": ("Mary Grace", "Grace"), "Ana María": ("Ana", "Ana Maria"), "Juan Carlos": ("Juan C.", "Juan"),
    "Luisa Fernanda": ("Luisa",),
}

EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net", "post.example.org",
)

HANDLE_WORDS = _split("blue|silent|lucky|night|wolf|fox|eagle|tiger|river|stone|shadow|sun|moon|star|king|boy|girl|angel|dream|happy|lonely|cool|sweet|dark|free")

STREETS = _split("Oak St|Maple Ave|Main St|High Street|Church Road|Station Rd|Park Lane|Elm Street|Cedar Dr|King Street|Queen St|Victoria Rd|Mabini St|Rizal Ave|Bonifacio St|Luna St|Sukhumvit Rd|Calle 10|Carrera 7|Hauptstraße|Rue de la Paix|Kerkstraat|Storgatan")

# Merchant catalogue: (name, mcc, country or "*" for the cardholder's country, category).
# "risk" categories are the ones the indicators name (VPN, webcam, VoIP, travel to
# high-risk countries, card-funded transfers); all names are invented.
RISK_MERCHANTS: tuple[tuple[str, str, str, str], ...] = (
    ("SecureTunnel VPN", "4816", "PA", "vpn"), ("HideRoute VPN", "4816", "SC", "vpn"),
    ("GhostLink Privacy", "5817", "CY", "vpn"), ("PrivNet Shield", "4816", "VG", "vpn"),
    ("TraceClean Pro", "5734", "EE", "vpn"), ("StealthSpy App", "5817", "CY", "vpn"),
    ("CamLive Adult", "5967", "CY", "webcam"), ("LiveJoy Cams", "5817", "MT", "webcam"),
    ("NightCams Ltd", "5967", "CY", "webcam"), ("PeepCast Live", "5815", "NL", "webcam"),
    ("StreamMate Live", "5817", "MT", "webcam"), ("Flirt2Cam", "5967", "RO", "webcam"),
    ("CallGlobe VoIP", "4814", "US", "voip"), ("SkyTalk Credit", "4899", "GB", "voip"),
    ("RingAbroad", "4814", "EE", "voip"), ("TalkNow Intl", "4899", "US", "voip"),
    ("Pacific Sky Airways", "4511", "PH", "travel"), ("Island Air PH", "4511", "PH", "travel"),
    ("Asean Air", "4511", "TH", "travel"), ("Andes Air", "4511", "CO", "travel"),
    ("Cebu Bay Hotel", "7011", "PH", "travel"), ("Angeles Garden Inn", "7011", "PH", "travel"),
    ("Manila Grand Suites", "7011", "PH", "travel"), ("Pattaya Beach Resort", "7011", "TH", "travel"),
    ("Medellín Plaza Hotel", "7011", "CO", "travel"), ("ATM BDO-PH 4411", "6011", "PH", "atm"),
    ("Golden Gems Jewellery", "5944", "PH", "gift"),
)
PROCESSOR_MERCHANTS: tuple[tuple[str, str, str, str], ...] = (
    ("QuickSend Transfers", "4829", "US", "processor"), ("PayBridge Funding", "6538", "GB", "processor"),
    ("GlobalPay P2P", "4829", "IE", "processor"), ("XferNow Ltd", "6538", "CY", "processor"),
)
NORMAL_MERCHANT_TYPES: tuple[tuple[str, str, float], ...] = (
    # (mcc, name stem pool, weight)
    ("5411", "FreshMart|Corner Grocer|ValueFoods|GreenBasket|DailyMart|FoodWorld", 0.22),
    ("5812", "The Olive Table|Harbour Grill|Bella Cucina|Golden Wok|Spice Route|Blue Door Diner", 0.12),
    ("5814", "Burger Barn|QuickBite|Taco Town|Sub Station|Chicken Hut", 0.10),
    ("5541", "FuelStop|PetroPlus|QuickFuel|RoadStar Gas", 0.10),
    ("5912", "HealthPlus Pharmacy|CarePoint Chemist|MedCorner", 0.06),
    ("5311", "Grand Department Store|CityCentre Stores", 0.05),
    ("5999", "ShopAll Online|MegaMarket Online|BuyMore Direct", 0.09),
    ("5732", "TechWorld|GadgetHub|ElectroCity", 0.04),
    ("4121", "RideNow|CityCab|GoRide", 0.06),
    ("4814", "TelcoOne Mobile|MobiTel Bill|Connect Mobile", 0.04),
    ("4899", "StreamFlix|TuneBox Music|ScreenHouse TV", 0.05),
    ("5942", "PageTurner Books|ReadMore", 0.02),
    ("5651", "StyleHouse|Denim & Co|Urban Threads", 0.03),
    ("4816", "HomeNet Broadband|FibreLink ISP", 0.02),
)
CHARITY_NAMES = _split("Hope for Children Foundation|Bright Future Child Sponsorship|Kalinga Kids Foundation Inc|Little Stars Sponsorship|Bayanihan Child Fund|Sunrise Children's Aid|Bahay Pag-asa Sponsorship|Niños del Futuro|Thai Children's Hope Fund|Safe Harbour Kids Trust")
CASHOUT_NAMES = _split("QuickCash Outlet|PeraPadala Center|Cash Pickup Express|Kwarta Remit Center|Sari Cash-Out|Pay&Go Kiosk")
BUSINESS_WORDS = _split("Pacific|Coastal|Summit|Harbor|Evergreen|Northern|Silverline|Bluewater|Redwood|Keystone|Orchard|Lakeside")
BUSINESS_TRADES = _split("Trading|Imports|Furnishings|Apparel|Electronics|Crafts|Foods|Interiors|Supplies|Outfitters")
BUSINESS_SUFFIX = {"US": "LLC", "AU": "Pty Ltd", "GB": "Ltd", "CA": "Inc", "DE": "GmbH", "NL": "B.V.", "FR": "SARL",
                   "SE": "AB", "NO": "AS", "IE": "Ltd", "NZ": "Ltd", "SG": "Pte Ltd"}
SUPPLIER_STEMS = {
    "PH": ("Manila", "Cebu", "Davao", "Pampanga"), "TH": ("Bangkok", "Siam", "Chiang Mai", "Lanna"),
    "VN": ("Saigon", "Hanoi", "Mekong", "Da Nang"), "ID": ("Jakarta", "Bali", "Java", "Surabaya"),
    "CN": ("Shenzhen", "Guangzhou", "Yiwu", "Ningbo"),
}
SUPPLIER_TRADES = _split("Textile|Furniture|Ceramic|Garment|Handicraft|Rattan|Packaging|Electronics|Coconut Products|Seafood")
SUPPLIER_SUFFIX = {"PH": "Corp", "TH": "Co Ltd", "VN": "JSC", "ID": "PT", "CN": "Co Ltd"}

# Memos typed by senders. Abuse payments carry innocuous ones (I03, I14, I18), in
# English and Tagalog (and a little Spanish/Thai-English); hard negatives share them.
ABUSE_MEMOS = _split(
    "gift|for you|school fees|medical bills|uniform|accommodation|birthday|treat|for the kids|"
    "allowance|pang-gastos|pambili ng gamot|pang tuition|regalo|salamat|for food|load|internet bill|"
    "family support|education|help|rent|para sa bata|ingat|merienda|pasalubong|for baby|hospital|"
    "regalo po|tulong|expenses|fees|invoice|thank you|ok|xx|:)|ty|sweetie|see u later|on time|"
    "extra|bonus|tip|session|cam|para kay baby|bayad|padala|pang-load|regalo para sa iyo|para sa pamilya|"
    "para la niña|regalo para ti|for nong|ค่าขนม|gift for you"
)
FAMILY_MEMOS = _split("family support|padala|para sa pamilya|allowance|monthly support|pang-gastos|bills|tuition|rent|groceries|para kay nanay|pambayad kuryente|sustento|for mama|household")
STUDENT_MEMOS = _split("tuition|school fees|allowance|books|dorm rent|education|semester fees|board and lodging|pang tuition|school supplies")
ROMANCE_MEMOS = _split("medical bills|plane ticket|visa fees|hospital|love you|for your mother|customs fee|for us|emergency|rent|phone|gift|help|my love|see you soon")
CHARITY_MEMOS = _split("child sponsorship|sponsor a child|monthly sponsorship|donation|sponsorship ref {n}|child ref {n}|education fund|sponsorship")
SUPPLIER_MEMOS = _split("INV-{y}-{n}|invoice {n}|PO {n}|inv {n} deposit|order {n} balance|proforma {n}|payment for goods INV{n}")
LEGIT_MEMOS = _split("rent|dinner|thanks|birthday|gift|loan repayment|for the trip|tickets|share of bills|groceries|family support|wedding gift|allowance|school fees|car|repairs")
