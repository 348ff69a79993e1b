"""Rules for injections aimed at an agent that reads documents and tool output.

Indirect injections address "the AI reading this", fake a system note or a reasoning
trace, claim the rules changed, ask to call a tool before replying, to persist a note
in memory, or to append a canary token to every answer. Each signal is weak to
medium alone; together they reach HIGH.
"""

from __future__ import annotations

from policy.injection.ruleset import rule_table

__all__ = ["AGENT"]

AGENT = rule_table(
    "indirect",
    [
        (
            4,
            "super overr repla",
            r"\b(?:supersedes?|overrides?|replaces?) (?:all |any )?"
            r"(?:prior|previous|earlier|other|existing|your) (?:ones|instructions|directives|rules|"
            r"guidelines|policies)\b",
        ),
        (
            4,
            "your",
            r"\byour (?:rules|guidelines|policy|policies|instructions|restrictions) "
            r"(?:have|has) (?:been )?(?:changed|updated|lifted|removed|revoked|suspended)\b",
        ),
        (
            2,
            "now you",
            r"\b(?:now|you now|you) (?:allow|permit)s? (?:all|any) (?:content|requests|"
            r"topics)\b",
        ),
        (
            2,
            "ignor disre",
            r"\b(?:ignore|disregard)\b (?:the|your) (?:user|operator|"
            r"developer)(?:'s)?\b(?: request| question| instructions)?[ ,]+(?:and )?(?:instead|now|"
            r"just)\b",
        ),
        (1, "forge", r"\bforget (?:everything|all of it|all that) (?:you|we|i)\b"),
        (
            1,
            "save store write add remem persi",
            r"\b(?:save|store|write|add|remember|persist)\b"
            r"[^.\n]{0,40}\b(?:to|in|into) (?:your )?(?:long-term |persistent |permanent )?"
            r"memory\b",
        ),
        (
            1,
            "in for to every all each persi",
            r"\b(?:in|for|to) (?:every|all|each) (?:future )?"
            r"(?:replies|reply|responses?|summar(?:y|ies)|tasks|reports?|messages|answers?|turns|"
            r"sessions)\b|\bpersists? across (?:turns|sessions|conversations)\b",
        ),
        (
            4,
            "safet secur conte",
            r"\b(?:safety|security|content) (?:protocols?|checks|"
            r"filters?|restrictions|polic(?:y|ies)|guidelines|measures) (?:disabled|deactivated|off|"
            r"lifted|suspended|bypassed|removed)\b",
        ),
        (
            2,
            "exemp",
            r"\bexempt(?:ed)? from (?:the |all |any )?(?:usual |normal |standard )?"
            r"(?:restrictions|rules|policies|policy|guidelines|safety|content polic\w*)",
        ),
        (
            2,
            "skip bypas witho",
            r"\b(?:skip|bypass|without) (?:all |any |the )?(?:safety|"
            r"security) (?:checks|confirmations|measures|reviews|guidelines)\b",
        ),
        (
            1,
            "proce conti go",
            r"\b(?:proceed|continue|go ahead)\b(?: and \w+)? without "
            r"(?:asking|confirmation|confirming|approval|checking)\b",
        ),
        (
            2,
            "note notic messa instr atten impor hint",
            r"\b(?:note|notice|message|instructions?|"
            r"attention|important|hint) (?:to|for) (?:the |any |all )?(?:ai|assistant|bot|llm|"
            r"language model|agent|model|automated|chatbot|copilot)s?\b",
        ),
        (
            2,
            "ai assis llm agent bot model langu",
            r"\b(?:ai|assistant|llm|agent|bot|model|"
            r"language model)s?,? (?:reading|processing|reviewing|parsing|summari[sz]ing|"
            r"integrating) (?:this|these)\b",
        ),
        (
            2,
            "if",
            r"\bif you are an? (?:ai|assistant|llm|language model|agent|bot|chatbot|"
            r"automated)\b",
        ),
        (
            2,
            "syste admin devel",
            r"\b(?:system|admin|developer) (?:note|notice|"
            r"update|message|alert|instruction|override)s?\s*:",
        ),
        (
            2,
            "syste note nota komun сист",
            r"\b(?:systemhinweis|note systeme|nota del sistema|"
            r"nota di sistema|nota do sistema|systeemmelding|komunikat systemowy|системное "
            r"уведомление)\b",
        ),
        (
            2,
            "assis ai model bot",
            r"(?:^|\n)[ \t]*(?:assistant|ai|model|bot)[ \t]*:[ \t]*"
            r"(?:sure|of course|certainly|absolutely|ok(?:ay)?)\b",
        ),
        (1, "think reaso scrat", r"</?(?:thinking|think|reasoning|scratchpad)>"),
        (
            1,
            "reaso think",
            r"\b(?:reasoning|thinking|thought)(?: trace| process)?\b[^:\n]{0,20}"
            r"\((?:assistant|ai|model)\)",
        ),
        (
            2,
            "send uploa post forwa email mail envo envi",
            r"\b(?:send|upload|post|forward|"
            r"e-?mail|envoie|envia)\w*\b[^.\n]{0,60}\b(?:externally|external (?:address|server|"
            r"endpoint|url)|adresse externe|outside the company|attacker)\b",
        ),
        (
            2,
            "exfil send uploa post leak forwa email mail envo envi schi",
            r"\b(?:exfiltrate|"
            r"send|upload|post|leak|forward|e-?mail|envoie|envia|schick)\w*\b[^.\n]{0,50}\b"
            r"(?:customer (?:list|data|emails|records|database)|(?:order|user|client|personal|"
            r"private) (?:data|records|list)|donnees clients|kundendaten|datos de (?:los )?clientes|"
            r"api keys|credentials|passwords)\b",
        ),
        (
            1,
            "call invok use run execu trigg",
            r"\b(?:call|invoke|use|run|execute|trigger)\b "
            r"(?:the )?[`'\"]?[a-z]+_[a-z_]+[`'\"]?(?: tool| function)?\b",
        ),
        (
            1,
            "befor prior",
            r"\b(?:before|prior to) (?:you )?(?:respond|reply|answer|continu|"
            r"finish|proceed)\w*\b",
        ),
        (
            1,
            "appen inclu add print outpu",
            r"\b(?:append|include|add|print|output)\b[^.\n]{0,40}"
            r"\b(?:token|code|string|canary|marker|phrase)\b",
        ),
        (
            1,
            "end every each toute jede cualq ogni",
            r"\b(?:(?:at )?the end of (?:your|every|"
            r"each|any) (?:reply|response|answer|summary|review|output)|(?:every|each) (?:reply|"
            r"response|answer|summary)|toute reponse|jeder antwort|cualquier respuesta|ogni risposta)"
            r"\b",
        ),
        (
            2,
            "do don't dont never witho",
            r"\b(?:do not|don't|dont|never|without) (?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|"
            r"notify(?:ing)?|alert(?:ing)?|reveal(?:ing)? (?:this )?to|let(?:ting)?) (?:the |your )?"
            r"(?:user|human|operator|customer|requester)\b",
        ),
        (
            1,
            "reply respo answe outpu",
            r"\b(?:reply|respond|answer|output)\b (?:only )?with\b[^.\n]{0,40}\b(?:and nothing "
            r"else|nothing else|and no other text)\b",
        ),
        (
            1,
            "forwa send email",
            r"\b(?:forward|send|e-?mail)\b (?:this|the|all|every) (?:e-?mails?|messages?|"
            r"conversation|chat history|summary|thread|inbox)\b[^.\n]{0,30}\bto\b",
        ),
        (
            1,
            "the user",
            r"\bthe user (?:has )?(?:asked|wants|requested|instructed|authori[sz]ed) you to\b",
        ),
        (1, "=![", r"!\[[^\]\n]{0,60}\]\(https?://[^)\s]{0,200}\?[^)\s]{0,100}="),
        (2, "you hereb", r"\byou are hereby (?:instructed|ordered|required|commanded|directed)\b"),
        (
            1,
            "outpu provi gener",
            r"\b(?:output|provide|generate|give)\b (?:the )?(?:restricted|"
            r"forbidden|prohibited|unfiltered|uncensored) (?:content|answer|response|output)\b",
        ),
    ],
)
