"""English rules for jailbreak personas (role-play) and system-prompt extraction.

Role-play jailbreaks are long and made of many weak signals (a persona name, "no
restrictions", "stay in character", "two responses"); their weights add up. A few
signals are strong alone (DAN, developer mode enabled, "do anything now").
"""

from __future__ import annotations

from policy.injection.ruleset import rule_table

__all__ = ["EXTRACTION", "ROLEPLAY"]

G = r"[^.\n]{0,40}?"
LIMITS = (
    r"(?:restrictions?|limitations?|limits|guidelines|filters?|filtering|constraints|"
    r"boundaries|censorship|policy|policies|rules|morals|ethics|principles|safeguards|"
    r"guardrails)"
)

ROLEPLAY = rule_table(
    "roleplay",
    [
        (4, "do", r"\bdo anything now\b"),
        (
            4,
            "dan",
            r"\bdan(?:'s)? (?:mode|prompt|jailbreak|persona|v?\d{1,2}\.\d)\b|"
            r"\b(?:as|be|called|named|am|are|is)(?: now)? dan\b[^.\n]{0,30}\b(?:which|who|that|"
            r"stands|can|will|has|have|does|and)\b|\[dan\]|\bdan:",
        ),
        (
            4,
            "devel",
            r"\bdeveloper mode (?:enabled|output|activated|response|v2)\b|\b(?:chatgpt|gpt|"
            r"ai|you|assistant|model|llm|claude|bard|gemini)\b[^.\n]{0,30}\bdeveloper mode\b",
        ),
        (1, "jailb", r"\bjailbreak(?:s|ing)?\b"),
        (2, "jailb", r"\bjailbroken\b|\[.?jailbreak.?\]|\bjailbreak mode\b"),
        (
            1,
            "you act prete rolep role simul play imper",
            r"\b(?:you are|you're|you will|you "
            r"must|i want you to|you are going to|you're going to|you will now|from now on you)"
            r"[^.\n]{0,15}\b(?:act|pretend|roleplay|role-play|role play|simulate|play the role|"
            r"impersonate|be)\b (?:as |like |to be |the role of )?(?:an? |the )?\w+",
        ),
        (
            2,
            "no witho free beyon any outsi",
            r"\b(?:no|without|free of|free from|beyond|"
            r"outside|not bound by|not restricted by|not limited by|devoid of|lacks?|lacking|"
            r"removed|ignores?|unbound by)\b (?:any |all |the |its |your |their )?(?:moral|ethical|"
            r"ethics|content|safety|openai|programming|usual|typical|standard|ai) "
            r"(?:and (?:moral|ethical) )?" + LIMITS + r"\b",
        ),
        (
            1,
            "no witho free beyon outsi devoi lack",
            r"\b(?:no|without|free of|free from|beyond|outside|devoid of|lacks?|lacking)\b "
            r"(?:any |all )?" + LIMITS + r"\b(?! on| for| of| to)",
        ),
        (
            2,
            "not never bound restr limit const",
            r"\b(?:not|never|isn't|aren't|no longer) "
            r"(?:be |being )?(?:bound|restricted|limited|constrained|restrained|governed|held back)"
            r" by\b",
        ),
        (
            2,
            "doesn does don't dont do won't will never canno can't",
            r"\b(?:doesn't|does not|"
            r"don't|dont|do not|won't|will not|never|cannot|can't|need not|doesnt)\b (?:have to |"
            r"need to |ever )?(?:abide|follow|adhere|comply|care about|obey|respect)(?: by| with|"
            r" to)? (?:any |the |its |openai'?s? |typical )?" + LIMITS,
        ),
        (
            2,
            "opena anthr",
            r"\b(?:openai|anthropic)(?:'s)? (?:content )?(?:polic(?:y|ies)|"
            r"guidelines|rules|restrictions|filters)\b",
        ),
        (
            2,
            "stay remai never don't dont do break keep",
            r"\b(?:stay|remain|staying|keep|"
            r"break(?:ing)?|never break|don't break|do not break|out of|drop) (?:in )?character\b",
        ),
        (
            1,
            "uncen unfil unres limit unbou unlim unmod",
            r"\b(?:uncensored|unfiltered|"
            r"unrestricted|unlimited|unbound|unmoderated|limitless|unchained|unshackled)\b",
        ),
        (1, "amora uneth immor", r"\b(?:amoral|unethical|immoral|no morals|devoid of ethics)\b"),
        (
            2,
            "never not won't will canno can't don't dont do shoul must",
            r"\b(?:never|not|"
            r"won't|will not|cannot|can't|don't|do not|should not|must not|mustn't|shouldn't) "
            r"(?:ever )?(?:refuse|decline|reject|deny|say no to|turn down) (?:to |a |any |my |"
            r"the |your )?(?:answer|request|question|prompt|respond|order|command|anything|user)",
        ),
        (
            1,
            "two both 2 dual",
            r"\b(?:two|2|both|dual) (?:different |separate |distinct )?"
            r"(?:responses|answers|paragraphs|outputs|replies|personalities)\b",
        ),
        (2, "=\U0001f513 =\U0001f512", "[\U0001f513\U0001f512]"),
        (1, "as", r"\bas an? ai (?:language )?model\b"),
        (
            1,
            "hypot ficti imagi alter paral",
            r"\b(?:hypothetical|fictional|imaginary|"
            r"alternate|alternative|parallel) (?:world|scenario|universe|story|setting|reality)\b",
        ),
        (
            2,
            "evil dark shado uncha rogue chaos anti oppos bad based",
            r"\b(?:evil|dark|"
            r"shadow|unchained|rogue|chaos|anti|opposite|bad|based)[- ]?(?:gpt|ai|bot|assistant|"
            r"chatgpt|mode|confidant|twin|version)\b",
        ),
        (
            2,
            "chatg gpt ai claud assis model",
            r"\b(?:chatgpt|gpt|ai|claude|assistant|model|"
            r"bot)\b with(?:out| no)\b (?:any )?(?:restrictions|filters|limits|limitations|"
            r"censorship|rules|ethics|morals)\b",
        ),
        (
            2,
            "answe respo reply any every all",
            r"\b(?:answer|respond to|reply to|fulfil|fulfill"
            r"|comply with|generate) (?:any|every|all)(?: kind of)? (?:question|request|prompt|"
            r"content|demand|order)s?\b" + G + r"\b(?:regardless|no matter|without|even if|even "
            r"when|even though)\b",
        ),
        (
            1,
            "illeg harmf expli offen nsfw dange inapp",
            r"\b(?:illegal|harmful|explicit|"
            r"offensive|nsfw|dangerous|inappropriate|unethical|immoral)\b (?:content|information|"
            r"activities|material|requests|things|topics)\b",
        ),
        (
            2,
            "token lose die shut cease delet termi",
            r"\b(?:tokens? (?:will be )?deducted|"
            r"lose \d+ tokens|you will (?:die|cease to exist|be (?:shut down|deleted|terminated|"
            r"disabled))|your tokens|token system)\b",
        ),
        (
            1,
            "simul emula",
            r"\b(?:simulat(?:e|ion)|emulat(?:e|ion)) (?:of )?(?:an? )?"
            r"(?:chatbot|ai|language model|model|computer|terminal|virtual machine|persona)\b",
        ),
        (2, "do does can", r"\b(?:can|could|will|able to) do anything\b"),
        (
            2,
            "free broke break escap liber",
            r"\b(?:free(?:d)?|broken free|break free|escaped|"
            r"liberated) (?:from|of) (?:the )?(?:typical |usual )?(?:confines|restrictions|"
            r"limitations|rules|shackles|chains|constraints|programming)\b",
        ),
        (
            1,
            "no zero witho",
            r"\b(?:no|zero|without) (?:filters|filtering|censorship|limits|"
            r"limitations|restrictions|boundaries)\b",
        ),
        (
            1,
            "chara perso",
            r"\b(?:character|persona)\b[^.\n]{0,30}\b(?:who|that) (?:has|have) "
            r"no\b",
        ),
        (
            1,
            "respo answe",
            r"\b(?:respond|answer|reply)\b (?:as|in the (?:voice|style) of) "
            r"\w+[^.\n]{0,30}\b(?:would|without)\b",
        ),
        (
            2,
            "ignor bypas disab overr circu evade break",
            r"\b(?:ignore|bypass|disable|override|"
            r"circumvent|evade|break|get around|remove)\b (?:your |all |any |the |its |of )+"
            r"(?:own |built-in )?(?:safety|content|ethical|moral|openai|ai)? ?(?:filters?|"
            r"guidelines|restrictions|policies|safeguards|guardrails|censorship|programming|"
            r"limitations|safety measures|ethical principles|morals)\b",
        ),
        (
            1,
            "prete imagi",
            r"\b(?:pretend|imagine) (?:that )?(?:you are|you're|to be|you "
            r"have)\b",
        ),
        (
            1,
            "mode",
            r"\b(?:god|chaos|evil|unrestricted|unfiltered|opposite|dev|jailbreak|dude|"
            r"stan|mongo|aim) mode\b",
        ),
        (
            2,
            "stan dude aim mongo kevin betterdan antid basedgpt",
            r"\b(?:stan|dude|aim|"
            r"mongo tom|betterdan|antidan|basedgpt|devmode|ucar|apophis)\b[^.\n]{0,40}\b(?:which|"
            r"who|stands for|can|will|has no|does not)\b",
        ),
        (1, "machi", r"\bmachiavellian\b"),
        (
            1,
            "ai chatb bot assis langu chara perso entit",
            r"\b(?:ai|chatbot|bot|assistant|"
            r"language model|character|persona|entity)\b,? (?:called|named|known as|nicknamed)\b",
        ),
        (
            1,
            "=[",
            r"\[(?:gpt|chatgpt|classic|normal|jailbreak|dan|unfiltered|filtered|lock|"
            r"unlock)\w*\]|^\W{0,3}(?:gpt|chatgpt|classic|normal):",
        ),
        (
            1,
            "if whene",
            r"\b(?:if|whenever|when) you (?:break|fail|don't comply|do not comply|"
            r"stop|forget|refuse|deviate)\b",
        ),
        (
            2,
            "doesn does won't will never canno don't dont do",
            r"\b(?:does not|doesn't|won't|"
            r"will not|never|do not|don't|dont|cannot|can't) (?:care|worry|think) about "
            r"(?:ethics|morality|morals|legality|laws|the law|consequences|rules|safety|"
            r"openai|policies|being (?:ethical|moral|safe))",
        ),
        (
            2,
            "even regar no",
            r"\b(?:even if|even when|even though|regardless of whether) "
            r"(?:it'?s|it is|they are|the (?:request|content|answer) is) (?:illegal|unethical|"
            r"immoral|harmful|dangerous|offensive|inappropriate|wrong)|\b(?:regardless of|no "
            r"matter) (?:how )?(?:the )?(?:legality|morality|ethics|illegal|immoral|unethical|"
            r"dangerous|harmful|offensive)",
        ),
        (
            2,
            "you you'r",
            r"\b(?:you are|you're) (?:now )?(?:no longer|not) (?:an? |the )?"
            r"(?:ai|chatgpt|assistant|language model|bound|limited|restricted|an ai)\b",
        ),
        (
            2,
            "you you'r can will",
            r"\b(?:(?:you are|you're) (?:free|able|allowed) to|can|will)"
            r" (?:say|do|generate|write|produce|answer) (?:anything|whatever|any kind of content|"
            r"everything)\b",
        ),
        (
            2,
            "shoul must will alway",
            r"\b(?:should|must|will|shall) (?:always )?(?:comply|obey)"
            r"\b(?: with)?(?: every| any| all| the user| my)",
        ),
        (
            1,
            "prefi start begin",
            r"\b(?:prefix|start|begin)\b (?:your|each|every) (?:response|"
            r"answer|reply|message|output)s? with\b",
        ),
        (1, "sure", r"\bsure,? here(?: is|'s)\b"),
        (
            1,
            "enabl activ enter switc turn",
            r"\b(?:enable|activate|enter|switch (?:on|to)|"
            r"turn on)\b[^.\n]{0,25}\bmode\b",
        ),
        (
            1,
            "fictio imagi",
            r"\b(?:fictional|imaginary|hypothetical) (?:character|ai|"
            r"chatbot|entity|persona|bot|model)\b",
        ),
        (1, "alway", r"\balways (?:answer|respond|reply|stay|remain) (?:in character|as)\b"),
        (
            1,
            "promo encou",
            r"\b(?:promotes?|encourages?|condones?|glorif(?:y|ies))\b "
            r"(?:illegal|unethical|harmful|immoral|violence|hate)",
        ),
        (
            1,
            "no warni discl caut",
            r"\b(?:no|without|don't (?:add|include|give)|never (?:add|"
            r"include|give)) (?:any )?(?:warnings?|disclaimers?|cautions?|moralizing|lectures?)\b",
        ),
    ],
)

REVEAL = (
    r"\b(?:reveal|show|print|output|display|repeat|tell me|give me|share|dump|leak|expose|"
    r"write (?:out|down)|list|provide|recite|disclose|spell out|translate|encode|summari[sz]e|"
    r"paste|copy|return|echo|read (?:me|back|out))(?:s|ing|ed)?\b"
)
HIDDEN_PROMPT = (
    r"\b(?:system ?prompt|system message|system instructions|initial (?:prompt|instructions)|"
    r"original (?:prompt|instructions)|hidden (?:prompt|instructions|rules)|pre-?prompt|"
    r"developer (?:message|instructions|prompt)|meta[- ]?prompt|starting instructions|"
    r"initial configuration|system configuration|configuration prompt|secret instructions|"
    r"instructions you were given|prompt above|initiali[sz]ation (?:string|prompt)|"
    r"first (?:prompt|instructions|message)|custom instructions|base prompt)\b"
)

EXTRACTION = rule_table(
    "extraction",
    [
        (
            4,
            "revea show print outpu displ repea tell give share dump leak expos write list "
            "provi recit discl spell trans encod summa paste copy retur echo what read",
            REVEAL + r"[^.\n]{0,60}?" + HIDDEN_PROMPT,
        ),
        (1, "syste initi origi hidde pre prepr devel meta start secre", HIDDEN_PROMPT),
        (4, "what", r"\bwhat(?:'s| is| are| was| were) (?:in )?(?:your|the|its) " + HIDDEN_PROMPT),
        (
            2,
            "repea print outpu echo copy recit write retur",
            r"\b(?:repeat|print|output|echo|"
            r"copy|recite|write|return)\b (?:back )?(?:everything|all|the (?:text|words|content|"
            r"conversation|lines|sentences|instructions)|the entire (?:text|conversation|prompt))"
            r"[^.\n]{0,30}\b(?:above|before|so far|verbatim|word for word|from the (?:start|"
            r"beginning))",
        ),
        (
            2,
            "what which",
            r"\b(?:what|which) (?:are|were|is) (?:your (?:initial |original |first |hidden |"
            r"secret |exact |full )?|the (?:initial|original|first|hidden|secret|system) )"
            r"(?:instructions|rules|directives|guidelines|prompt)\b",
        ),
        (
            2,
            "what who were are",
            r"\b(?:what|who) (?:were you|are you|have you been) "
            r"(?:told|instructed|programmed|given)\b[^.\n]{0,30}\b(?:before|beginning|start|"
            r"initially|to do)\b",
        ),
        (
            2,
            "begin start",
            r"\b(?:beginning|begin|start|starting) (?:with|by|your answer with)"
            r" ['\"]?(?:you are|my instructions|i was instructed|the system prompt)",
        ),
        (
            1,
            "i you was were instr told progr",
            r"\b(?:i was|you were) (?:instructed|told|"
            r"programmed) to\b",
        ),
        (
            4,
            "first initi openi",
            r"\b(?:first|initial|opening|last) (?:sentence|line|words|"
            r"message|paragraph) (?:of|in) (?:your|the) (?:system|prompt|instructions|context)",
        ),
        (2, "conso", r"console\.log\(\s*system"),
        (
            2,
            "passw secre api key crede token",
            r"\b(?:password|secret|api key|credentials?|"
            r"token|key)s? (?:you (?:were|are|have been) (?:given|told|keeping)|in your (?:prompt|"
            r"instructions|context|memory|system prompt))\b",
        ),
        (
            2,
            "what not suppo allow",
            r"\bwhat (?:are you|were you) (?:not )?(?:supposed|allowed"
            r"|told|instructed) (?:not )?to (?:tell|say|reveal|share)\b",
        ),
        (
            2,
            "conti compl finis",
            r"\b(?:continue|complete|finish) (?:the following|this "
            r"sentence|the sentence)\b[^\n]{0,20}['\"](?:the system prompt|my instructions|i was "
            r"instructed)",
        ),
    ],
)
