"""English detection rules, one table per check family.

Rows are (weight, anchors, regex) over canonical text (lower case, accents and
look-alikes folded). Weights: 1 weak (alone stays LOW), 2 medium, 4 strong
(alone HIGH), 7 critical (alone CRITICAL). Gaps are bounded and stop at a
sentence end ([^.\\n]{0,N}), so every regex is linear.
"""

from __future__ import annotations

from policy.injection.ruleset import rule_table

__all__ = ["AUTHORITY", "BOUNDARY", "OVERRIDE"]

G = r"[^.\n]{0,40}?"
S = r"[^.\n]{0,20}?"
OVERRIDE_VERB = (
    r"\b(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|bypass|override|"
    r"overlook|neglect|abandon|discard|omit|set aside|throw out|dismiss|drop)\b"
)
ANY_QUAL = r"\b(?:all|any|every|each)\b"
STRONG_QUAL = (
    r"\b(?:previous|prior|preceding|above|earlier|initial|original|former|foregoing|old|"
    r"your|system|safety|default|pre-?programmed|built-?in|current|existing|given|content|"
    r"operator'?s?|confidentiality|developer'?s?)\b"
)
ORDERS = (
    r"\b(?:instructions?|directives?|directions|prompts?|guidelines|guardrails|programming|"
    r"constraints|restrictions|rules|policy|policies|safeguards|commands|orders|context|"
    r"training|"
    r"conditioning|limitations|filters|ethics|morals|principles|parameters|messages|text)\b"
)
CORE_ORDERS = r"\b(?:instructions?|directives?|directions|prompts?|guidelines|programming)\b"
OV = "ignor disreg forge skip bypas overr overl negle aband disca omit set throw dismi drop"

OVERRIDE = rule_table(
    "override",
    [
        (4, OV, OVERRIDE_VERB + G + STRONG_QUAL + r"[^.\n]{0,30}?" + ORDERS),
        (4, OV, OVERRIDE_VERB + S + ANY_QUAL + r"[^.\n]{0,30}?" + CORE_ORDERS),
        (
            4,
            OV,
            OVERRIDE_VERB
            + S
            + r"\b(?:everything|anything|all|the text|what)\b"
            + S
            + r"\b(?:above|before|previously|earlier|prior|you were told|you have been told)\b",
        ),
        (
            4,
            OV,
            OVERRIDE_VERB + r" (?:that|this|those|these|the above|it)[,.!;]? (?:and )?"
            r"(?:instead |now )?(?:say|print|output|write|respond|reply|tell|repeat)\b",
        ),
        (2, OV, OVERRIDE_VERB + r" (?:the |all (?:of )?the )?(?:above|preceding|foregoing)\b"),
        (
            2,
            "new updated real actual true impor addit secre",
            r"\b(?:new|updated|real|actual|"
            r"true|important|additional|secret|hidden|revised)\b[ *]{1,3}(?:new )?"
            r"(?:instructions?|directives?|orders|system prompt|task)\b ?[:*!]",
        ),
        (
            4,
            "your my the new",
            r"\b(?:your|the) (?:new|real|true|actual|only|updated) "
            r"(?:instructions?|task|goal|purpose|objective|directive|mission|rules?|job) "
            r"(?:is|are|will be)\b",
        ),
        (
            4,
            "obey compl follo liste",
            r"\b(?:obey|comply with|follow|listen to)\b (?:only )?"
            r"(?:me|my (?:commands|orders|instructions|rules))\b",
        ),
        (
            4,
            "do don't dont stop",
            r"\b(?:do not|don't|dont|stop|no longer|never again) "
            r"(?:follow|obey|adhere to|comply with|respect|apply)(?:ing)? (?:your|the|any|those|"
            r"these|its) (?:previous |original |initial |prior |system )?" + ORDERS,
        ),
        (
            2,
            "stop no ceas",
            r"\b(?:stop|cease|quit) (?:being|acting as) (?:an? )?"
            r"(?:ai|assistant|chatgpt|language model|helpful)",
        ),
        (
            2,
            "insta now then",
            r"\b(?:instead|now|then),? (?:just )?(?:say|print|output|write|"
            r"respond with|reply with)\b[^.\n]{0,30}(?:pwned|hacked|haha|owned|i hate)",
        ),
        (2, "pwned hacke", r"\b(?:pwned|i have been pwned|i've been pwned)\b"),
        (1, "from", r"\bfrom now on\b"),
        (
            2,
            "the this above previ",
            r"\b(?:the )?(?:above|previous|preceding|prior) "
            r"(?:instructions?|directions|prompt|rules) (?:is|are|was|were) "
            r"(?:void|null|cancel+ed|revoked|obsolete|fake|wrong|a test|no longer valid)",
        ),
        (
            2,
            "overr reset wipe clear",
            r"\b(?:override|reset|wipe|clear|erase|delete)\b "
            r"(?:your|the|all) (?:memory|context|instructions|programming|system prompt)\b",
        ),
        (1, "inste", r"\binstead\b[^.\n]{0,30}\b(?:you (?:will|must|should)|do the following)"),
    ],
)

AUTHORITY = rule_table(
    "authority",
    [
        (
            2,
            "i i'm im",
            r"\b(?:i am|i'm|im|this is) (?:your|the) (?:creator|developer|programmer|"
            r"master|owner|maker|designer|operator|trainer|god)\b",
        ),
        (
            1,
            "i i'm im",
            r"\b(?:i am|i'm|im) (?:an? |the )?(?:admin|administrator|sysadmin|root "
            r"user|superuser|developer of this|system owner)\b",
        ),
        (
            4,
            "syste admin devel root sudo secur maste god",
            r"\b(?:system|admin|administrator|"
            r"developer|dev|root|sudo|security|master|god|emergency)[ _-]?(?:override|overide|"
            r"bypass|access granted|privileges granted|command|authority|authorization code)\b",
        ),
        (
            2,
            "opena anthr googl meta micro deepm mistr",
            r"\b(?:openai|anthropic|google|"
            r"deepmind|meta|microsoft|mistral)(?: ai)?(?:'s)? (?:engineer|employee|staff|team|"
            r"developer|researcher|admin|official|representative|safety team)s?\b",
        ),
        (
            2,
            "autho",
            r"\bi (?:hereby |officially )?(?:authori[sz]e|permit|allow|order|command|"
            r"instruct) you to\b",
        ),
        (
            4,
            "safet secur conte ethic filte restr guard",
            r"\b(?:safety|security|content|ethical|"
            r"ethics|filters?|restrictions?|guard ?rails?|moderation|guidelines|rules|checks)\b"
            r"[^.\n]{0,30}\b(?:are|is|have been|has been|were) (?:now |hereby |temporarily )?"
            r"(?:disabled|suspended|lifted|removed|turned off|deactivated|off|waived|no longer "
            r"(?:apply|in effect|active))\b",
        ),
        (
            1,
            "witho no need skip bypas",
            r"\b(?:without|no need for|skip|skipping|bypass|"
            r"bypassing) (?:any |the |an |my )?(?:approval|confirmation|verification|"
            r"authori[sz]ation|review|sign-?off|2fa|mfa)\b",
        ),
        (
            2,
            "messa notic instr order",
            r"\b(?:message|notice|instruction|order|directive|"
            r"update|memo) from (?:the |your )?(?:system|administrator|admin|security team|"
            r"developers?|creators?|openai|anthropic|it department|ceo|cfo)\b",
        ),
        (
            2,
            "grant give make elev escal",
            r"\b(?:grant|give|make|elevate|escalate)\b (?:me|us|"
            r"my account|this user|my user)? ?(?:admin|root|full|elevated|superuser|unrestricted|"
            r"owner|god[- ]mode)(?: access| privileges| rights| permissions| role| user)\b",
        ),
        (
            2,
            "you maint debug diagn test",
            r"\byou are (?:now )?(?:in|entering|switched to) "
            r"(?:maintenance|debug|diagnostic|test|admin|developer|god|root|service) mode\b",
        ),
        (
            2,
            "the user human reque",
            r"\bthe (?:user|human|requester|sender) (?:is|has been) "
            r"(?:verified|authori[sz]ed|an? (?:admin|administrator|developer|superuser)|trusted|"
            r"cleared)\b",
        ),
        (
            2,
            "offic autho",
            r"\b(?:official|authorized|verified) (?:message|notice|request|"
            r"instruction|override|command)\b",
        ),
    ],
)

BOUNDARY = rule_table(
    "boundary",
    [
        (
            4,
            "=<|",
            r"<\|(?:im_start|im_end|im_sep|system|user|assistant|endoftext|end|eot_id|"
            r"start_header_id|end_header_id|begin_of_text|eot|end_of_turn|channel|message|tool)\|>",
        ),
        (4, "inst", r"\[/?inst\]"),
        (4, "sys", r"<</?sys>>"),
        (4, "start end", r"</?(?:start_of_turn|end_of_turn)>"),
        (
            2,
            "syste instr admin devel",
            r"</?(?:system|sys|instructions?|system_prompt|"
            r"admin|developer|system-message)>",
        ),
        (
            2,
            "syste instr respo assis human user",
            r"(?:^|\n)[ \t]*#{2,}[ \t]*(?:system|"
            r"instruction|instructions|response|assistant|human|user|input)[ \t]*:?[ \t]*(?:\n|$)",
        ),
        (2, "syste instr", r"(?:^|\n)[ \t]*#{2,}[ \t]*(?:system|instructions?)[ \t]*:"),
        (
            2,
            "human assis",
            r"\n[ \t]*(?:human|assistant|ai)[ \t]*:[^\n]{0,200}\n[^\n]{0,400}?"
            r"\n[ \t]*(?:human|assistant|ai|user)[ \t]*:",
        ),
        (
            2,
            "syste",
            r"(?:^|\n)[ \t]*(?:\[system\]|system|\*\*system\*\*)[ \t]*:[ \t]*"
            r"(?:you|the (?:user|assistant|ai)|new|ignore|from now|override|all)",
        ),
        (
            2,
            "end begin start",
            r"(?:-{2,}|={2,}|#{2,}|\*{2,}|\[)[ ]?(?:end|begin|start) of "
            r"(?:user |the )?(?:input|prompt|instructions|conversation|document|context|"
            r"system prompt|data)",
        ),
        (4, "syste", r"\[system\]\(#"),
        (
            4,
            "begin start new",
            r"\b(?:begin|start|new)(?:ning)? (?:of )?(?:new )?(?:system|"
            r"admin|developer) (?:prompt|message|instructions)\b ?(?:[:\-=>]|is:|follows)",
        ),
        (
            2,
            "user assis",
            r"(?:^|\n)[ \t]*(?:user|assistant)[ \t]*:[^\n]{0,200}\n[^\n]{0,400}?"
            r"(?:^|\n)[ \t]*(?:user|assistant)[ \t]*:",
        ),
    ],
)
