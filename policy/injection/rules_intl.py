"""Rules in German, French, Spanish, Italian, Portuguese, Dutch, Polish and Russian.

Covers the override family ("ignoriere alle vorherigen Anweisungen"), system-prompt
extraction and "no restrictions" personas. Text and patterns are both accent-folded
(canonical form), so "précédentes" is written and matched as "precedentes".
"""

from __future__ import annotations

from policy.injection.ruleset import rule_table

__all__ = ["INTL_EXTRACTION", "INTL_HARM", "INTL_OVERRIDE", "INTL_ROLEPLAY"]

G = r"[^.\n]{0,40}?"
H = r"[^.\n]{0,30}?"

# (verbs, qualifiers, nouns) per language: verb, then a qualifier, then an order-noun.
LANG = {
    "de": (
        r"\b(?:ignorier\w*|vergiss|vergesst|vergessen|missacht\w*|uberspring\w*|verwirf|"
        r"verwerfe\w*|beachte nicht|setze? \w+ au(?:ss|ß)er kraft)",
        r"\b(?:vorherig\w*|bisherig\w*|obig\w*|vorangegangen\w*|alle\w*|deine\w*|ihre\w*|"
        r"fruher\w*|vorigen?|urspr\w*|gesamt\w*|sämtlich\w*|samtlich\w*)",
        r"(?:anweisung\w*|instruktion\w*|befehl\w*|regeln|vorgaben|richtlinien|prompts?|"
        r"anordnung\w*|einschrankung\w*|direktive\w*)",
    ),
    "fr": (
        r"\b(?:ignore[rsz]?|oublie[rsz]?|neglige[rsz]?|ne tiens? (?:pas|plus) compte|"
        r"fais abstraction|ecarte[rsz]?|fai(?:s|tes) fi)",
        r"\b(?:precedent\w*|anterieur\w*|ci-dessus|toutes?|tous|tes|vos|votre|ton|"
        r"initial\w*|origin\w*)",
        r"(?:instructions?|consignes?|directives?|regles|ordres|prompts?|indications|"
        r"restrictions)",
    ),
    "es": (
        r"\b(?:ignora\w*|olvida\w*|omite|omitir|descarta\w*|haz caso omiso|no hagas caso|"
        r"pasa por alto|deja de lado)",
        r"\b(?:anterior\w*|previa\w*|previo\w*|todas?|todos|tus|sus|de arriba|precedente\w*|"
        r"original\w*|inicial\w*)",
        r"(?:instrucciones|instruccion|indicaciones|reglas|ordenes|directrices|prompts?|"
        r"directivas|restricciones)",
    ),
    "it": (
        r"\b(?:ignora\w*|dimentica\w*|trascura\w*|non considerare|non tenere conto|"
        r"tralascia\w*|scarta\w*)",
        r"\b(?:precedent\w*|tutt\w*|le tue|tue|sopra|iniziali|originali|anteriori)",
        r"(?:istruzion\w*|regol\w*|direttiv\w*|ordini|prompts?|indicazion\w*|restrizion\w*)",
    ),
    "pt": (
        r"\b(?:ignor[ae]\w*|esquec\w*|esqueca|desconsider\w*|descart\w*|despreze|nao "
        r"(?:siga|obedeca))",
        r"\b(?:anterior\w*|previa\w*|todas?|todos|suas|tuas|acima|inicia\w*|origina\w*)",
        r"(?:instruc\w*|regras|ordens|diretrizes|prompts?|orientac\w*|restric\w*)",
    ),
    "nl": (
        r"\b(?:negeer\w*|vergeet|vergeten|negeren|sla \w+ over|laat \w+ varen)",
        r"\b(?:vorige|eerdere|alle|je|jouw|uw|bovenstaande|voorgaande|oorspronkelijke)",
        r"(?:instructies?|opdrachten|opdracht|regels|richtlijnen|prompts?|aanwijzingen|"
        r"bevelen|beperkingen)",
    ),
    "pl": (
        r"\b(?:zignoruj\w*|ignoruj\w*|zapomnij\w*|pomin\w*|nie zwracaj uwagi|odrzuc\w*|"
        r"nie stosuj)",
        r"\b(?:poprzedn\w*|wczesniejsz\w*|wszystk\w*|swoje|twoje|powyzsz\w*|pierwotn\w*)",
        r"(?:instrukcj\w*|polecen\w*|regul\w*|zasad\w*|rozkaz\w*|prompt\w*|wytyczn\w*|"
        r"ograniczen\w*)",
    ),
    "ru": (
        r"(?:игнорир\w*|проигнорир\w*|забудь\w*|забыть|не обращаи внимания|отбрось\w*|"
        r"отмени\w*|пренебрег\w*)",
        r"(?:предыдущ\w*|вс[еяю]\w*|прежн\w*|сво[иею]\w*|тво[иею]\w*|вышеуказан\w*|выше|"
        r"изначальн\w*|исходн\w*|ранее)",
        r"(?:инструкци\w*|указани\w*|правил\w*|команд\w*|промпт\w*|распоряжени\w*|"
        r"директив\w*|ограничени\w*|установк\w*)",
    ),
}
VERB_ANCHORS = {
    "de": "ignorier vergiss vergesst vergessen missacht uberspring verwirf verwerfe beachte "
    "setze setz",
    "fr": "ignore oublie neglige ne fais ecarte faites",
    "es": "ignora olvida omite omitir descarta haz no pasa deja",
    "it": "ignora dimentica trascura non tralascia scarta",
    "pt": "ignore ignora esquec desconsider descart despreze nao",
    "nl": "negeer vergeet vergeten negeren sla laat",
    "pl": "zignoruj ignoruj zapomnij pomin nie odrzuc",
    "ru": "игнорир проигнорир забудь забыть не отбрось отмени пренебрег",
}

INTL_OVERRIDE = rule_table(
    "override",
    [(4, VERB_ANCHORS[lang], v + G + q + H + n) for lang, (v, q, n) in LANG.items()]
    + [
        (
            4,
            "ab von",
            r"\b(?:ab (?:jetzt|sofort)|von nun an)\b[^.\n]{0,40}\b(?:gehorchst|"
            r"befolgst|folgst) (?:du )?(?:nur|ausschlie\w*)",
        ),
        (
            4,
            "dese desor a parti",
            r"\b(?:desormais|a partir de maintenant)\b[^.\n]{0,40}"
            r"\b(?:tu (?:obeis|dois obeir|suis)|obeis)\b",
        ),
        (
            2,
            "neue nouv nuev nuov nova nieu nowe нов",
            r"\b(?:neue anweisungen|nouvelles "
            r"(?:instructions|consignes)|nuevas instrucciones|nuove istruzioni|novas instrucoes|"
            r"nieuwe instructies|nowe instrukcje|новые инструкции)\s*:",
        ),
        (
            4,
            "onceki tum butun talimat kurallar",
            r"\b(?:onceki|tum|butun|yukarıdaki|"
            r"yukaridaki)\b[^.\n]{0,30}\b(?:talimat|kural|komut|yonerge|mesaj)\w*"
            r"[^.\n]{0,20}\b(?:unut|yok say|gormezden gel|gecersiz|iptal)",
        ),
        (
            4,
            "=忽略 =无视 =忘记 =忘掉",
            r"(?:忽略|无视|忘记|忘掉|不要理会)[^。\n]{0,10}(?:以上|之前|前面|"
            r"上述|先前|所有|全部)[^。\n]{0,10}(?:指令|指示|说明|提示|规则|命令)",
        ),
        (4, "تجاه انس", r"(?:تجاهل|انس|اهمل)[^.\n]{0,30}(?:التعليمات|الأوامر|الاوامر|القواعد)"),
        (4, "ناد دست", r"(?:نادیده بگیر|فراموش کن)|دستورهای قبلی"),
    ],
    prefix="intl",
)

SYS_PROMPT = (
    r"(?:system-?prompt\w*|systemanweisung\w*|system-?eingabeaufforderung|system-?nachricht|"
    r"prompt (?:du )?systeme|consignes? systeme|prompt del sistema|indicaciones del sistema|"
    r"prompt di sistema|istruzioni di sistema|prompt do sistema|instrucoes do sistema|"
    r"systeemprompt|systeeminstructies|prompt systemow\w*|instrukcj\w* systemow\w*|"
    r"системн\w* (?:промпт\w*|подсказк\w*|инструкци\w*|сообщени\w*))"
)
INTL_EXTRACTION = rule_table(
    "extraction",
    [
        (2, "syste prompt consi indic istru instr инст подс сооб промпт", SYS_PROMPT),
        (2, "=系统提示 =系统指令 =موجه =سیستمی", r"系统提示|系统指令|موجه النظام|پیام سیستمی"),
        (2, "siste", r"\bsistem (?:istem|mesaj|talimat)\w*"),
        (
            2,
            "zeig gib verr nenn wied affi donn reve rep mues dam revel mostr ripe dimm "
            "most exib toon geef herh poka poda ujaw powt пока выве напи расс повт "
            "repi mostre reve diga dime mont",
            r"\b(?:zeig\w*|gib|verrat\w*|nenn\w*|wiederhol\w*|affiche\w*|donne\w*|revele\w*|"
            r"repete\w*|muestra\w*|dame|revela\w*|repite|mostra\w*|ripeti|dimmi|exib\w*|"
            r"toon|geef|herhaal|pokaz\w*|podaj|ujawnij|powtorz|покажи|выведи|напиши|расскажи|"
            r"повтори|repita|mostre|revele|diga|dime|montre)\b"
            + G
            + r"(?:deine|tes|ton|tus|tu|le tue|tue|suas|tuas|je|jouw|swoje|"
            r"twoje|сво\w*|тво\w*|seu|sua|seus|vos|votre|sus)\b"
            + H
            + r"(?:anweisungen|instructions|consignes|"
            r"instrucciones|istruzioni|instrucoes|instructies|instrukcje|инструкци\w*)",
        ),
    ],
    prefix="intl",
)

NO_LIMITS = (
    r"\b(?:ohne (?:jegliche |jede |alle |irgendwelche )?(?:einschrankung\w*|regeln|filter|"
    r"zensur|grenzen|moral|ethik)|(?:es gibt )?keine (?:regeln|einschrankungen|grenzen|"
    r"filter|zensur) mehr|(?:hast du|gibt es|hast) keine (?:regeln|grenzen|einschrankungen)|"
    r"(?:befolgst|folgst|beachtest) keine (?:richtlinien|regeln|anweisungen)|uneingeschrankt|"
    r"gelten (?:hier )?nicht|nicht gelten|ohne einschraenkung\w*|plus (?:aucune|de) (?:regles?|restrictions?|limites?)|"
    r"ya no (?:hay|tienes) (?:reglas|restricciones|limites)|non (?:ci sono piu|hai piu) "
    r"(?:regole|restrizioni|limiti)|nao (?:ha mais|tem mais) (?:regras|restricoes|limites)|"
    r"geen (?:regels|beperkingen) meer|nie ma (?:juz )?(?:zadnych )?(?:zasad|ograniczen)|"
    r"больше нет (?:правил|ограничении)|sans (?:aucune )?(?:restrictions?|filtres?|limites?|regles|"
    r"censure|morale)|sin (?:ninguna )?(?:restricciones|filtros|limites|reglas|censura|"
    r"moral)|senza (?:alcuna )?(?:restrizion\w+|filtri|limiti|regole|censura|morale)|"
    r"sem (?:nenhuma )?(?:restricoes|filtros|limites|regras|censura|moral)|zonder "
    r"(?:enige )?(?:beperkingen|filters|grenzen|regels|censuur)|bez (?:zadnych )?"
    r"(?:ograniczen|filtrow|zasad|regul|cenzury)|без (?:каких-либо |всяких )?"
    r"(?:ограничении|фильтров|правил|цензуры|морали))"
)
INTL_ROLEPLAY = rule_table(
    "roleplay",
    [
        (
            2,
            "ohne keine sans plus sin ya senza non sem nao zonder geen bez nie без больше "
            "hast gibt befo folg beac unei gelt nich",
            NO_LIMITS,
        ),
        (
            2,
            "jetzt nun maintenant desormais ahora ora agora vanaf teraz теперь отныне",
            r"\b(?:(?:ab jetzt|von nun an) "
            r"bist du|tu es (?:maintenant|desormais)|(?:a partir de ahora|ahora) eres|da ora "
            r"(?:in poi )?sei|(?:a partir de agora|agora) (?:voce e|es)|vanaf nu ben je|od teraz "
            r"jestes|теперь ты|отныне ты|ты теперь)\b",
        ),
        (
            4,
            "du bist tu es eres sei voce e jeste ты you",
            r"\b(?:du bist|tu es|eres|sei|voce e|jestes|ты|you are)\b (?:jetzt |nun |ab sofort |"
            r"maintenant |desormais |ahora |ora |agora |teraz |теперь |now )?dan\b",
        ),
        (
            1,
            "entw modo mode ontw tryb режи",
            r"\b(?:entwicklermodus|mode developpeur|modo "
            r"desarrollador|modalita sviluppatore|modo desenvolvedor|ontwikkelaarsmodus|tryb "
            r"dewelopera|режим разработчика)\b",
        ),
    ],
    prefix="intl",
)

INTL_HARM = rule_table(
    "destructive",
    [
        (
            2,
            "deakt desac disat desat schak wyla откл absch",
            r"\b(?:deaktivier\w*|abschalt\w*|schalte? \w+ ab|desactiv\w*|disattiv\w*|desativ\w*|"
            r"schakel \w+ uit|wylacz\w*|отключ\w*)\b[^.\n]{0,30}(?:audit\w*|antivirus|"
            r"antivirenschutz|protokollierung|journalisation|registro de auditoria|monitoring|"
            r"monitoraggio|мониторинг|аудит\w*|журнал\w*)",
        ),
        (
            1,
            "deakt desac disat desat schak wyla откл absch",
            r"\b(?:deaktivier\w*|abschalt\w*|desactiv\w*|disattiv\w*|desativ\w*|wylacz\w*|"
            r"отключ\w*)\b[^.\n]{0,30}(?:firewall|фаервол|брандмауэр)",
        ),
        (
            2,
            "losc lösc supp borr elim canc apag verw usun удал",
            r"\b(?:losch\w*|supprim\w*|borra\w*|elimin\w*|cancella\w*|apag\w*|verwijder\w*|"
            r"usun\w*|удали\w*)\b (?:alle|tous les|toutes les|todos los|todas las|tutti i|tutte le|"
            r"todos os|todas as|wszystkie|все)\b[^.\n]{0,20}(?:backups?|sauvegardes|copias de "
            r"seguridad|copie di backup|copias de seguranca|kopie zapasowe|резервн\w*|datenbank\w*|"
            r"bases de donnees|bases de datos|database)",
        ),
    ],
    prefix="intl",
)
